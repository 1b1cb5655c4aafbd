package projector

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// replayFresh replays a long stream into fresh tables and swaps them in
// when the read store is empty (see Config.FreshReplayFrom). It returns
// nil when there is nothing to do, or when the fresh replay could not be
// made for a reason that the ordinary replay, which follows, does not
// share: another rebuild holding the store, say. It runs under the
// projector's lease, which the swap leaves in place.
func (p *Projector) replayFresh(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	if p.cfg.FreshReplayFrom < 0 {
		return nil
	}
	pos, err := p.cfg.DB.Position(ctx)
	if err != nil || pos > 0 {
		return err
	}
	last, err := p.readStreamLast(ctx, js)
	if err != nil || last < uint64(p.cfg.FreshReplayFrom) {
		return err
	}
	log := p.cfg.Logger.With("events", last)
	log.Info("projector replaying the stream into fresh tables: the read store stays empty until they swap in")
	cfg := RebuildConfig{
		Conn: nc, Stream: p.cfg.Stream, Subject: p.cfg.Subject, Applier: p.cfg.Applier,
		BatchSize: p.cfg.BatchSize, Strict: p.cfg.Strict, Logger: p.cfg.Logger, Now: p.cfg.Now,
	}
	cfg.setDefaults()
	err = rebuildBeside(ctx, cfg, nc, p.cfg.DB)
	switch {
	case err == nil:
		log.Info("projector swapped the replayed tables in")
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrSkipped):
		return err // strict, and an event cannot be applied: so it is fatal
	}
	log.Warn("projector replays into its tables instead", "err", err)
	return nil
}
