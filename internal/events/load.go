package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// loadPage is how many events one direct batch get asks for. Most
// aggregates fit in one page; longer ones take one round trip per page.
const loadPage = 256

// Load returns every event of the aggregate (aggregate, id) in stream
// order, and an empty slice for an aggregate that has none. It reads with
// direct batch gets, which need no consumer and can be served by any
// replica, so a load costs one round trip per 256 events. An event that
// cannot be decoded fails the load with ErrMalformed: skipping it would
// rebuild the aggregate from partial history.
func (s *Store) Load(ctx context.Context, aggregate, id string) ([]Recorded, error) {
	if err := checkToken("aggregate", aggregate); err != nil {
		return nil, fmt.Errorf("load %s %s: %w", aggregate, id, err)
	}
	if err := checkToken("id", id); err != nil {
		return nil, fmt.Errorf("load %s %s: %w", aggregate, id, err)
	}
	out := []Recorded{}
	var decodeErr error
	err := s.scan(ctx, AggregateFilter(aggregate, id), jetstreamext.GetBatchSeq(1), func(m *jetstream.RawStreamMsg) bool {
		rec, err := recorded(m)
		if err != nil {
			decodeErr = err
			return false
		}
		out = append(out, rec)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", aggregate, id, err)
	}
	return out, nil
}

// scan calls fn with every message on filter from start on, in stream
// order, until fn returns false or the messages run out. Each page is one
// direct batch get; the next page starts after the last message seen.
//
// A page's answer can end early without an error: the batch get iterator
// stops silently when its deadline passes. Nats-Num-Pending on the last
// message received tells whether more remain, so a cut-short page is
// simply continued, and a page with no answer at all (not even "no
// messages") is an error, never an empty history.
func (s *Store) scan(ctx context.Context, filter string, start jetstreamext.GetBatchOpt, fn func(*jetstream.RawStreamMsg) bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", filter, err)
		}
		msgs, err := jetstreamext.GetBatch(ctx, s.js, s.name, loadPage, start, jetstreamext.GetBatchSubject(filter))
		if err != nil {
			return fmt.Errorf("read %s: %w", filter, classify(err))
		}
		var (
			last *jetstream.RawStreamMsg
			none bool
		)
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				none = true
				break
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", filter, classify(err))
			}
			last = m
			if !fn(m) {
				return nil
			}
		}
		switch {
		case none:
			return nil
		case last == nil:
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", filter, err)
			}
			return fmt.Errorf("read %s: %w: stream %s did not answer", filter, ErrUnavailable, s.name)
		}
		pending, err := strconv.ParseUint(last.Header.Get(numPendingHeader), 10, 64)
		if err != nil {
			return fmt.Errorf("read %s: event %d has no valid %s header", filter, last.Sequence, numPendingHeader)
		}
		if pending == 0 {
			return nil
		}
		start = jetstreamext.GetBatchSeq(last.Sequence + 1)
	}
}

// numPendingHeader carries, on each message of a batch get, how many
// messages on the filter follow it.
const numPendingHeader = "Nats-Num-Pending"
