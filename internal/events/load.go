package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Load returns every event of the aggregate (aggregate, id) in stream
// order, and an empty slice for an aggregate that has none. It reads with
// direct batch gets (Reader.Scan), which need no consumer and can be
// served by any replica, so a load costs one round trip per 256 events.
// An event that cannot be decoded fails the load with ErrMalformed:
// skipping it would rebuild the aggregate from partial history.
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

// Reader returns a Reader of the store's stream.
func (s *Store) Reader() Reader { return NewReader(s.js, s.name) }

// scan is Reader.Scan on the store's stream.
func (s *Store) scan(ctx context.Context, filter string, start jetstreamext.GetBatchOpt, fn func(*jetstream.RawStreamMsg) bool) error {
	return s.Reader().Scan(ctx, filter, start, fn)
}
