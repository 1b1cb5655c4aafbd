package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Load returns every event of the aggregate (aggregate, id) in stream
// order, and an empty slice for an aggregate that has none. It reads with
// direct batch gets (Reader.Scan), which need no consumer and can be
// served by any replica, so a load costs one round trip per 256 events,
// and one to the stream's leader, which completes what a lagging replica
// left out (see leader.go): a load sees every write acknowledged before
// it began.
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
	err := s.Reader().scanToLeader(ctx, AggregateFilter(aggregate, id), 1, time.Time{}, func(m *jetstream.RawStreamMsg) bool {
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
