package httperr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httperr"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		status int
		code   string
		field  string
		msg    string
	}{
		{"invalid field", experiments.Invalid("title", "is required"), http.StatusBadRequest, "invalid", "title", "is required"},
		{"wrapped not found", fmt.Errorf("experiment x: %w", experiments.ErrNotFound), http.StatusNotFound, "not_found", "", "no such resource"},
		{"domain not found", &experiments.Error{Code: experiments.CodeNotFound, Message: "experiment x does not exist"}, http.StatusNotFound, "not_found", "", "experiment x does not exist"},
		{"conflict", &experiments.Error{Code: experiments.CodeConflict, Message: "only a planned experiment can start"}, http.StatusConflict, "conflict", "", "only a planned experiment can start"},
		{"precondition", fmt.Errorf("append: %w", &experiments.Error{Code: experiments.CodePrecondition, Message: "version 3, not 2"}), http.StatusPreconditionFailed, "precondition_failed", "", "version 3, not 2"},
		{"forbidden", &experiments.Error{Code: experiments.CodeForbidden, Message: "ada may not"}, http.StatusForbidden, "forbidden", "", "ada may not"},
		{"bad filter", fmt.Errorf("outcomes: %w", readmodel.ErrBadFilter), http.StatusBadRequest, "invalid", "", "the filter is not valid: check from, to and bucket"},
		{"bad cursor", readmodel.ErrBadCursor, http.StatusBadRequest, "invalid", "cursor", "is not a cursor this API gave out"},
		{"not caught up", readstore.ErrNotCaughtUp, http.StatusServiceUnavailable, httperr.CodeNotCaughtUp, "min_position", "the read models have not reached that position yet; try again"},
		{"event store down", fmt.Errorf("append: %w", events.ErrUnavailable), http.StatusServiceUnavailable, httperr.CodeUnavailable, "", "the event store is unavailable right now; try again, with the same Idempotency-Key for a command"},
		{"read store down", fmt.Errorf("list: %w", readstore.ErrUnavailable), http.StatusServiceUnavailable, httperr.CodeUnavailable, "", "the read store is unavailable right now; try again"},
		{"anything else", errors.New("connection refused by 10.0.0.1"), http.StatusInternalServerError, httperr.CodeInternal, "", "internal error"},
		{"unknown domain code", &experiments.Error{Code: "odd", Message: "odd"}, http.StatusInternalServerError, httperr.CodeInternal, "", "internal error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := httperr.Of(tt.err)
			if p.Status != tt.status || p.Code != tt.code || p.Field != tt.field || p.Message != tt.msg {
				t.Errorf("Of(%v) = %+v, want %d %s %q %q", tt.err, p, tt.status, tt.code, tt.field, tt.msg)
			}
			if got := httperr.Status(tt.err); got != tt.status {
				t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.status)
			}
			if p.Internal() != (tt.status == http.StatusInternalServerError) {
				t.Errorf("Internal() = %t for status %d", p.Internal(), p.Status)
			}
		})
	}
}
