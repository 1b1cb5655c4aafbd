package projector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readstore"
)

// batcher collects queued events into batches and commits each batch, its
// skips and the new position in one transaction. One batcher lives for
// one session; it owns the position it expects the checkpoint to hold.
type batcher struct {
	p         *Projector
	dl        *deadLetters
	pos       uint64 // last committed sequence
	pending   []item
	committed int
}

// run applies items until stop is closed, then applies what is still
// queued and returns. It returns early, with the error, when a batch
// fails or the stream has a gap.
func (b *batcher) run(ctx context.Context, items <-chan item, stop <-chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case it := <-items:
			if err := b.add(ctx, it); err != nil {
				return err
			}
			if len(b.pending) == 1 {
				timer.Reset(b.p.cfg.FlushInterval)
			}
		case <-timer.C:
			if err := b.flush(ctx); err != nil {
				return err
			}
		case <-stop:
			for {
				select {
				case it := <-items:
					if err := b.add(ctx, it); err != nil {
						return err
					}
				default:
					return b.flush(ctx)
				}
			}
		}
	}
}

// add places one event in the batch, after checking that it is the next
// in the stream, and commits the batch once it is full.
func (b *batcher) add(ctx context.Context, it item) error {
	if it.err != nil {
		if err := b.flush(ctx); err != nil {
			return err
		}
		return it.err
	}
	want := b.pos + 1
	if n := len(b.pending); n > 0 {
		want = b.pending[n-1].seq + 1
	}
	switch {
	case it.seq < want:
		// A redelivery of something already applied or queued.
		b.p.m.redelivered.Inc()
		return nil
	case it.seq > want:
		// Commit what is contiguous, so that the checkpoint stops right
		// before the gap, then halt.
		if err := b.flush(ctx); err != nil {
			return err
		}
		return fmt.Errorf("%w: stream %s: expected sequence %d, got %d (%d events missing)",
			ErrGap, b.p.cfg.Stream, want, it.seq, it.seq-want)
	}
	b.pending = append(b.pending, it)
	if len(b.pending) >= b.p.cfg.BatchSize {
		return b.flush(ctx)
	}
	return nil
}

// flush commits the pending batch, then publishes its dead letters.
func (b *batcher) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	start := b.p.cfg.Now()
	first, last := b.pending[0].seq, b.pending[len(b.pending)-1].seq
	recs := make([]events.Recorded, 0, len(b.pending))
	var skipped []readstore.Skipped
	for _, it := range b.pending {
		if it.skip != nil {
			skipped = append(skipped, *it.skip)
		} else {
			recs = append(recs, it.rec)
		}
	}
	skipped, err := b.commit(ctx, recs, skipped, last)
	if err != nil {
		b.p.m.batchFailures.Inc()
		return fmt.Errorf("apply events %d..%d: %w", first, last, err)
	}
	n := len(b.pending)
	b.pos = last
	b.committed += n
	b.p.m.applied.Add(float64(n))
	b.p.m.batchSize.Observe(float64(n))
	b.p.m.batchDuration.Observe(b.p.cfg.Now().Sub(start).Seconds())
	b.p.m.skipped.Add(float64(len(skipped)))
	b.p.observeStreamLast(last + b.pending[n-1].pending)
	b.p.setPosition(last)
	for _, s := range skipped {
		var it item
		if s.Position >= first && s.Position <= last {
			it = b.pending[s.Position-first]
		}
		b.p.cfg.Logger.Warn("event skipped", "position", s.Position, "event_id", s.EventID,
			"event_type", s.EventType, "correlation_id", it.meta.Get(middleware.CorrelationIDMetadataKey), "reason", s.Reason)
		b.dl.publish(ctx, s, it)
	}
	clear(b.pending) // drop references to the payloads
	b.pending = b.pending[:0]
	return nil
}

// commit writes the batch in one transaction: the read-model rows, the
// skipped events and the new position. It first locks the checkpoint and
// checks that it still holds the position this batcher started from, so
// that a rebuild's swap or a second projector can never make an event
// apply twice or not at all.
func (b *batcher) commit(ctx context.Context, recs []events.Recorded, skipped []readstore.Skipped, last uint64) ([]readstore.Skipped, error) {
	db := b.p.cfg.DB
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	cur, err := tx.LockPosition(ctx)
	if err != nil {
		return nil, err
	}
	if cur != b.pos {
		return nil, fmt.Errorf("%w: expected %d, found %d", errCheckpointMoved, b.pos, cur)
	}
	if len(recs) > 0 {
		more, err := b.p.cfg.Applier.ApplyBatch(ctx, tx, recs)
		if err != nil {
			return nil, err
		}
		skipped = append(skipped, more...)
	}
	if b.p.cfg.Strict && len(skipped) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrSkipped, describeSkips(skipped))
	}
	if err := readstore.RecordSkipped(ctx, tx, skipped); err != nil {
		return nil, err
	}
	if err := readstore.SetPosition(ctx, tx, last); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return skipped, nil
}

func describeSkips(skipped []readstore.Skipped) string {
	parts := make([]string, 0, min(len(skipped), 3))
	for i, s := range skipped {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(skipped)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("sequence %d (%s %s): %s", s.Position, s.EventType, s.EventID, s.Reason))
	}
	return strings.Join(parts, "; ")
}
