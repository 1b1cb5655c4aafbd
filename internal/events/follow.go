package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
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
// It reads through an ordered consumer: an ephemeral consumer that the
// client library recreates at the right place after a gap or a lost
// connection, and that the server removes when the follower is gone. It
// costs one consumer creation (tens of milliseconds), so it suits long
// reads (a stream to a client, a replay), not per-request loads.
func (s *Store) Follow(ctx context.Context, after uint64, subjects []string, fn func(Recorded, error) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := s.js.OrderedConsumer(ctx, s.name, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("follow %s after %d: %w", s.name, after, classify(err))
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow %s after %d: %w", s.name, after, classify(err))
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", s.name, classify(err))
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("follow %s: message on %s has no metadata: %w", s.name, m.Subject(), err)
		}
		rec := Recorded{StreamSubject: m.Subject(), Sequence: md.Sequence.Stream}
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
