package events

import (
	"context"
	"fmt"
)

// Follow calls fn with every event after stream position after, in stream
// order, and then with each new event as it is written, until ctx ends
// (Follow returns nil) or fn returns an error (Follow returns it). With
// subjects it follows only those subject filters, for instance
// tracker.experiment.*.concluded; without, the whole stream.
//
// A message that cannot be decoded is passed to fn with its Sequence and
// StreamSubject set and an error wrapping ErrMalformed, so that the
// caller decides whether to skip it or stop.
//
// It reads through an ordered consumer (Reader.Ordered), which costs one
// consumer creation (tens of milliseconds), so it suits long reads (a
// stream to a client, a replay), not per-request loads.
func (s *Store) Follow(ctx context.Context, after uint64, subjects []string, fn func(Recorded, error) error) error {
	cur, err := s.Reader().Ordered(ctx, OrderedOptions{Subjects: subjects, From: after + 1})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("follow: %w", err)
	}
	defer cur.Stop()
	for {
		m, err := cur.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", s.name, classify(err))
		}
		rec := Recorded{StreamSubject: m.Subject(), Sequence: m.Sequence}
		env, derr := Decode(m.Data())
		if derr != nil {
			derr = fmt.Errorf("event %d on %s: %w", rec.Sequence, rec.StreamSubject, derr)
		} else {
			rec.Envelope = env
		}
		if err := fn(rec, derr); err != nil {
			return err
		}
	}
}
