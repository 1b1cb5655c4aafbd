package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// AppendResult is where an Append's events are in the stream.
type AppendResult struct {
	// FirstSequence and LastSequence are the stream sequences of the first
	// and last event written; the events in between are contiguous.
	FirstSequence uint64
	LastSequence  uint64
	// Duplicate reports that the idempotency key had been used before:
	// nothing was appended, and the sequences are the original write's.
	Duplicate bool
	// ID is the aggregate id the events are on. It differs from the id
	// passed to Append only for a Duplicate of a write that created an
	// aggregate under another id: a retried create, for which the server
	// chose a fresh id the second time.
	ID string
}

// historySlack widens the search for a batch's original write beyond the
// duplicate window, for clock skew between this process and the server.
const historySlack = 30 * time.Second

// Append writes evs, the events one command produced, to the aggregate
// (aggregate, id), provided that expected is still the stream sequence of
// the aggregate's last event (0: the aggregate must not exist yet).
// Several events are written as one atomic batch: all land, contiguous,
// or none does.
//
// A stale expected sequence, or a concurrent write to the same aggregate,
// fails with ErrConflict and appends nothing.
//
// A non-empty idempotencyKey is sent as Nats-Msg-Id and recorded in every
// envelope's idempotencykey attribute. When the key was used before, for
// this aggregate, or for a create of the same kind of aggregate, Append
// appends nothing and returns the original write's result with Duplicate
// set. That holds within the broker's duplicate window, and later too
// when the retry still names the expected sequence it named the first
// time (the conflict leads to the aggregate's history, which records the
// key). A key used for another aggregate fails with
// ErrIdempotencyKeyReused.
//
// The append is a span of its own, and each envelope that has no
// traceparent yet records the span's, so that consumers continue the
// trace.
func (s *Store) Append(ctx context.Context, aggregate, id string, expected uint64, evs []Envelope, idempotencyKey string) (AppendResult, error) {
	ctx, span := startAppend(ctx, aggregate, id, len(evs))
	res, err := s.append(ctx, aggregate, id, expected, evs, idempotencyKey)
	endAppend(span, res, err)
	if err != nil {
		return AppendResult{}, fmt.Errorf("append %s %s: %w", aggregate, id, err)
	}
	return res, nil
}

func (s *Store) append(ctx context.Context, aggregate, id string, expected uint64, evs []Envelope, key string) (AppendResult, error) {
	msgs, err := encodeAppend(ctx, aggregate, id, evs, key)
	if err != nil {
		return AppendResult{}, err
	}
	// Only the first message carries the expectation: the server checks
	// the batch as a whole at commit, and refuses (10164) an expectation on
	// a subject the same batch has already written.
	first := msgs[0]
	first.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expected, 10))
	first.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, AggregateFilter(aggregate, id))
	if key != "" {
		// One id per write, on its first message: the server (2.12.1+)
		// accepts Nats-Msg-Id on any message of a batch, and rejects the
		// whole batch when one of them is a duplicate.
		first.Header.Set(jetstream.MsgIDHeader, key)
	}

	if len(msgs) == 1 {
		ack, err := s.js.PublishMsg(ctx, first)
		if err != nil {
			return s.failed(ctx, aggregate, id, expected, key, err)
		}
		if ack.Duplicate {
			return s.duplicateAt(ctx, aggregate, id, expected, key, ack.Sequence)
		}
		return AppendResult{FirstSequence: ack.Sequence, LastSequence: ack.Sequence, ID: id}, nil
	}

	ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs)
	if err != nil {
		return s.failed(ctx, aggregate, id, expected, key, err)
	}
	n := uint64(len(msgs))
	if ack.Sequence < n {
		return AppendResult{}, fmt.Errorf("batch of %d acknowledged at sequence %d", n, ack.Sequence)
	}
	// A committed batch is contiguous: the server stores it under one lock
	// (or one multi-entry proposal when clustered), and the ack names the
	// last message.
	return AppendResult{FirstSequence: ack.Sequence - n + 1, LastSequence: ack.Sequence, ID: id}, nil
}

// encodeAppend checks the events against the aggregate and renders them as
// messages on their subjects. It works on copies: the caller's envelopes
// are not changed. Each event without a trace context gets ctx's.
func encodeAppend(ctx context.Context, aggregate, id string, evs []Envelope, key string) ([]*nats.Msg, error) {
	if err := checkToken("aggregate", aggregate); err != nil {
		return nil, err
	}
	if err := checkToken("id", id); err != nil {
		return nil, err
	}
	if len(evs) == 0 || len(evs) > MaxBatch {
		return nil, fmt.Errorf("%w: %d events, want 1 to %d", ErrMalformed, len(evs), MaxBatch)
	}
	if key != "" && strings.ContainsAny(key, "\r\n") {
		return nil, fmt.Errorf("%w: idempotency key contains a line break", ErrMalformed)
	}
	msgs := make([]*nats.Msg, len(evs))
	parent, state := traceOf(ctx)
	for i, env := range evs {
		if env.TraceParent == "" {
			env.TraceParent, env.TraceState = parent, state
		}
		name, _, err := ParseType(env.Type)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(Names, name) {
			return nil, fmt.Errorf("%w: event %s is not in the catalogue", ErrMalformed, env.Type)
		}
		if owner, _, _ := strings.Cut(name, "."); owner != aggregate {
			return nil, fmt.Errorf("%w: event %s does not belong to a %s", ErrMalformed, env.Type, aggregate)
		}
		if env.Subject != id {
			return nil, fmt.Errorf("%w: event %s has subject %q, want the aggregate id", ErrMalformed, env.ID, env.Subject)
		}
		if key != "" {
			if env.IdempotencyKey != "" && env.IdempotencyKey != key {
				return nil, fmt.Errorf("%w: event %s has idempotency key %q, want %q", ErrMalformed, env.ID, env.IdempotencyKey, key)
			}
			env.IdempotencyKey = key
		}
		if err := env.Validate(); err != nil {
			return nil, fmt.Errorf("event %s: %w", env.ID, err)
		}
		if msgs[i], err = env.EncodeMsg(Subject(name, id)); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// checkToken refuses a value that would change the meaning of a subject:
// an id "x.*" would make the aggregate filter match other aggregates.
func checkToken(what, v string) error {
	if v == "" || strings.ContainsAny(v, ".*> \t\r\n") {
		return fmt.Errorf("%w: %s %q is not a valid subject token", ErrMalformed, what, v)
	}
	return nil
}

// failed turns a rejected write into the store's answer. A rejection can
// hide a duplicate: a single publish to a standalone server checks the
// expected sequence before the Nats-Msg-Id, so a retry with the original
// (now stale) expected sequence reads as a conflict; and a duplicate batch
// is reported as an error without the original's sequence. Both are
// resolved from the stream's history.
func (s *Store) failed(ctx context.Context, aggregate, id string, expected uint64, key string, err error) (AppendResult, error) {
	err = classify(err)
	dupBatch := isCode(err, codeBatchDuplicateMsgID)
	if key == "" || !(dupBatch || errors.Is(err, ErrConflict)) {
		return AppendResult{}, err
	}
	res, found, ferr := s.findKey(ctx, AggregateFilter(aggregate, id), 1, time.Time{}, key)
	if ferr == nil && !found && dupBatch {
		// The original is younger than the duplicate window, so it is
		// found by reading the window's events of this kind of aggregate.
		since := time.Now().Add(-s.window - historySlack)
		res, found, ferr = s.findKey(ctx, SubjectRoot+"."+aggregate+".>", 0, since, key)
	}
	switch {
	case ferr != nil:
		return AppendResult{}, fmt.Errorf("look up idempotency key after %w: %w", err, ferr)
	case found:
		return eligible(res, id, expected, key)
	case dupBatch:
		return AppendResult{}, fmt.Errorf("%w: %w", ErrIdempotencyKeyReused, err)
	default:
		return AppendResult{}, err
	}
}

// duplicateAt resolves a duplicate the broker reported with the sequence
// of the original's first message: when that message opened a batch, the
// rest of the batch follows it.
func (s *Store) duplicateAt(ctx context.Context, aggregate, id string, expected uint64, key string, seq uint64) (AppendResult, error) {
	m, err := s.Reader().getLeader(ctx, s.stream, seq)
	if err != nil {
		return AppendResult{}, fmt.Errorf("read original of idempotency key at %d: %w", seq, classify(err))
	}
	origAggregate, origID, ok := parseSubject(m.Subject)
	if !ok || origAggregate != aggregate || m.Header.Get(jetstream.MsgIDHeader) != key {
		return AppendResult{}, fmt.Errorf("%w: original at sequence %d is on %s", ErrIdempotencyKeyReused, seq, m.Subject)
	}
	res := AppendResult{FirstSequence: seq, LastSequence: seq, Duplicate: true, ID: origID}
	if opensBatch(m) {
		rest, _, err := s.findKey(ctx, AggregateFilter(aggregate, origID), seq, time.Time{}, key)
		if err != nil {
			return AppendResult{}, fmt.Errorf("read original batch at %d: %w", seq, err)
		}
		res.LastSequence = rest.LastSequence
	}
	return eligible(res, id, expected, key)
}

// eligible accepts an original write as this call's duplicate when it is
// on the same aggregate, or when both are creates (expected 0) of the same
// kind: a create's retry gets a fresh id from the caller.
func eligible(res AppendResult, id string, expected uint64, key string) (AppendResult, error) {
	if res.ID != id && expected != 0 {
		return AppendResult{}, fmt.Errorf("%w: key %q was used for %s", ErrIdempotencyKeyReused, key, res.ID)
	}
	return res, nil
}

// findKey scans filter for the first message carrying the idempotency
// key, and follows its batch to the commit. It scans from sequence from,
// or when from is 0 from the time since, up to what the stream's leader
// holds.
func (s *Store) findKey(ctx context.Context, filter string, from uint64, since time.Time, key string) (AppendResult, bool, error) {
	var (
		res     AppendResult
		found   bool
		batchID string
	)
	err := s.Reader().scanToLeader(ctx, filter, from, since, func(m *jetstream.RawStreamMsg) bool {
		if !found {
			if m.Header.Get(jetstream.MsgIDHeader) != key {
				return true
			}
			_, id, _ := parseSubject(m.Subject)
			found = true
			res = AppendResult{FirstSequence: m.Sequence, LastSequence: m.Sequence, Duplicate: true, ID: id}
			if !opensBatch(m) {
				return false
			}
			batchID = m.Header.Get(jetstreamext.BatchIDHeader)
			return true
		}
		if m.Header.Get(jetstreamext.BatchIDHeader) != batchID {
			return false
		}
		res.LastSequence = m.Sequence
		return m.Header.Get(jetstreamext.BatchCommitHeader) == ""
	})
	return res, found, err
}

// opensBatch reports whether m is the first of several messages written
// as one atomic batch.
func opensBatch(m *jetstream.RawStreamMsg) bool {
	return m.Header.Get(jetstreamext.BatchIDHeader) != "" && m.Header.Get(jetstreamext.BatchCommitHeader) == ""
}

// parseSubject splits tracker.<aggregate>.<id>.<event>.
func parseSubject(subject string) (aggregate, id string, ok bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != SubjectRoot {
		return "", "", false
	}
	return parts[1], parts[2], true
}
