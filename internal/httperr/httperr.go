// Package httperr is the one table from an application error to the HTTP
// status it is answered with. The JSON API and the browser pages both
// classify their errors here, so that a refusal has the same status
// whichever of them a user meets it in; each renders it in its own way.
package httperr

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// CodeNotCaughtUp is the code of a read that waited for a stream position
// the read models had not reached in time.
const CodeNotCaughtUp = "not_caught_up"

// CodeInternal is the code of an error that is the server's fault.
const CodeInternal = "internal"

// CodeUnavailable is the code of a request that a store could not serve
// right now: the broker or the database is down or electing a leader.
const CodeUnavailable = "unavailable"

// Problem is how an error is answered: its status, a code a program can
// test, the field it concerns, and a message fit to show a user.
type Problem struct {
	Status  int
	Code    string
	Field   string
	Message string
}

// Internal reports whether the problem is the server's own, which is
// logged and never described to the user.
func (p Problem) Internal() bool { return p.Status == http.StatusInternalServerError }

// Unavailable reports whether the problem is a store that could not
// serve the request right now, which the client may retry after the
// Retry-After its answer carries.
func (p Problem) Unavailable() bool { return p.Code == CodeUnavailable }

// rule is one row of the table: an error matched with errors.Is, or by
// test when that is nil, and how it is answered when it carries no
// message of its own.
type rule struct {
	match   error
	test    func(error) bool
	problem Problem
}

func (r rule) matches(err error) bool {
	if r.test != nil {
		return r.test(err)
	}
	return errors.Is(err, r.match)
}

// table is the one mapping of errors to statuses. The domain's sentinels
// come first; the read side's own errors and the stores' faults follow.
// A fault is never a 500: the request was fine, and can be sent again.
var table = []rule{
	{experiments.ErrInvalid, nil, Problem{http.StatusBadRequest, string(experiments.CodeInvalid), "", "the request is not valid"}},
	{experiments.ErrNotFound, nil, Problem{http.StatusNotFound, string(experiments.CodeNotFound), "", "no such resource"}},
	{experiments.ErrConflict, nil, Problem{http.StatusConflict, string(experiments.CodeConflict), "", "the command is not allowed now"}},
	{experiments.ErrPrecondition, nil, Problem{http.StatusPreconditionFailed, string(experiments.CodePrecondition), "", "the resource has changed since the version you sent"}},
	{experiments.ErrForbidden, nil, Problem{http.StatusForbidden, string(experiments.CodeForbidden), "", "you may not do that"}},
	{readmodel.ErrBadFilter, nil, Problem{http.StatusBadRequest, string(experiments.CodeInvalid), "", "the filter is not valid: check from, to and bucket"}},
	{readmodel.ErrBadCursor, nil, Problem{http.StatusBadRequest, string(experiments.CodeInvalid), "cursor", "is not a cursor this API gave out"}},
	{readstore.ErrNotCaughtUp, nil, Problem{http.StatusServiceUnavailable, CodeNotCaughtUp, "min_position", "the read models have not reached that position yet; try again"}},
	{events.ErrUnavailable, nil, Problem{http.StatusServiceUnavailable, CodeUnavailable, "", "the event store is unavailable right now; try again, with the same Idempotency-Key for a command"}},
	{nil, readstore.Unavailable, Problem{http.StatusServiceUnavailable, CodeUnavailable, "", "the read store is unavailable right now; try again"}},
}

// Of classifies err. An application error keeps its own message and
// field; anything the table does not know is internal.
func Of(err error) Problem {
	for _, r := range table {
		if !r.matches(err) {
			continue
		}
		p := r.problem
		var de *experiments.Error
		if errors.As(err, &de) && de.Message != "" {
			p.Message, p.Field = de.Message, de.Field
		}
		return p
	}
	return Problem{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// Status returns the HTTP status that err is answered with.
func Status(err error) int { return Of(err).Status }

// Answer classifies err for the response w gives r, as both renderers
// do: it logs what an operator must see (an internal error, a store that
// is down; never a user's mistake), sets Retry-After on a 503, and
// returns the problem to render. The user never sees an internal error's
// text: the problem's message is the table's.
func Answer(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) Problem {
	p := Of(err)
	attrs := []any{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err)}
	switch {
	case p.Internal():
		log.ErrorContext(r.Context(), "request failed", attrs...)
	case p.Unavailable():
		log.WarnContext(r.Context(), "request failed: a store is unavailable", attrs...)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	return p
}
