package events

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

func TestClassify(t *testing.T) {
	api := func(code jetstream.ErrorCode, status int) error {
		return fmt.Errorf("publish: %w", &jetstream.APIError{ErrorCode: code, Code: status, Description: "x"})
	}
	for _, tt := range []struct {
		name string
		err  error
		want error // nil: neither sentinel
	}{
		{"no meta leader (10008)", api(10008, 503), ErrUnavailable},
		{"not leader (10009)", api(10009, 500), ErrUnavailable},
		{"stream offline (10118)", api(10118, 500), ErrUnavailable},
		{"insufficient resources (10023)", api(10023, 503), ErrUnavailable},
		{"expected sequence not ready (10163)", api(10163, 503), ErrUnavailable},
		{"batch abandoned", jetstreamext.ErrBatchPublishIncomplete, ErrUnavailable},
		{"too many batches", jetstreamext.ErrAtomicPublishTooManyInflight, ErrUnavailable},
		{"no responders", nats.ErrNoResponders, ErrUnavailable},
		{"no stream response", jetstream.ErrNoStreamResponse, ErrUnavailable},
		{"timeout", nats.ErrTimeout, ErrUnavailable},
		{"deadline", context.DeadlineExceeded, ErrUnavailable},
		{"connection closed", nats.ErrConnectionClosed, ErrUnavailable},
		{"reconnecting", nats.ErrConnectionReconnecting, ErrUnavailable},
		{"no reconnect buffer", nats.ErrReconnectBufExceeded, ErrUnavailable},
		{"wrong last sequence", api(codeWrongLastSequence, 400), ErrConflict},
		{"wrong last sequence constant", api(codeWrongLastSequenceConstant, 400), ErrConflict},
		{"stream not found", jetstream.ErrStreamNotFound, nil},
		{"bad request", api(10003, 400), nil},
		{"client went away", context.Canceled, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("classify(%v) = %v, which lost the broker's error", tt.err, got)
			}
			for _, s := range []error{ErrUnavailable, ErrConflict} {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("classify(%v) = %v; want sentinel %v", tt.err, got, tt.want)
				}
			}
		})
	}
}
