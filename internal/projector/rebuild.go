package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/readstore"
)

// DefaultRebuildBatchSize is RebuildConfig's default batch size.
const DefaultRebuildBatchSize = DefaultBatchSize

// RebuildConfig configures Rebuild.
type RebuildConfig struct {
	// Conn is the NATS connection to replay through; Rebuild does not
	// close it. Either Conn or NATSURL is required.
	Conn *nats.Conn
	// NATSURL is dialled when Conn is nil.
	NATSURL string
	// Stream and Subject name what to replay, as in Config.
	Stream, Subject string
	// DatabaseURL is the live read store, as readstore.Open takes it. The
	// fresh tables are built beside it: in the schema failforward_rebuild
	// of the same Postgres database, or in the file <path>.rebuild next
	// to a SQLite one. Required.
	DatabaseURL string
	// Applier writes the read models. Required.
	Applier Applier
	// Strict fails the rebuild, leaving the live tables as they were,
	// when any event is skipped.
	Strict bool
	// BatchSize is the most events per transaction; DefaultBatchSize by
	// default, as for the live projector: a rebuild is all replay.
	BatchSize int
	// Progress receives the progress of the replay: a bar when it is a
	// terminal, a line every ProgressInterval (2s by default) otherwise.
	// Nil shows nothing.
	Progress         io.Writer
	ProgressInterval time.Duration
	// Logger receives log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

func (c *RebuildConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultRebuildBatchSize
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the configuration at once.
func (c *RebuildConfig) Validate() error {
	var errs []error
	if c.Conn == nil && c.NATSURL == "" {
		errs = append(errs, errors.New("a NATS connection or URL is required"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("a database URL is required"))
	}
	if c.Applier == nil {
		errs = append(errs, errors.New("an applier is required"))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size %d must be at least 1", c.BatchSize))
	}
	if c.ProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("progress interval %s is negative", c.ProgressInterval))
	}
	return errors.Join(errs...)
}

// RebuildSchema is the Postgres schema a rebuild builds its fresh tables
// in, beside the live ones.
const RebuildSchema = readstore.RebuildSchema

// ErrRebuildRunning reports that another rebuild holds the database.
var ErrRebuildRunning = readstore.ErrRebuildRunning

// Rebuild replays the whole stream into fresh read-model tables beside the
// live ones and, once they have caught up with the stream, swaps them in
// atomically (blue/green): readers see the old tables until the swap
// commits and the new ones after, never an empty or partial read model.
//
// A projector running against the live tables during the rebuild keeps
// serving; after the swap it finds the checkpoint moved, and resumes from
// the rebuilt one. On any failure, and in strict mode on any skip, the
// live tables are left untouched and the fresh ones are dropped.
func Rebuild(ctx context.Context, cfg RebuildConfig) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("rebuild config: %w", err)
	}
	live, err := readstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	defer live.Close()
	// The live tables must have the shape the fresh ones will have, and
	// must exist, so that the swap replaces each of them.
	if err := live.Migrate(ctx); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	nc := cfg.Conn
	if nc == nil {
		if nc, err = nats.Connect(cfg.NATSURL, nats.Name("failforward-rebuild")); err != nil {
			return fmt.Errorf("rebuild: connect to NATS: %w", err)
		}
		defer nc.Close()
	}

	return rebuildBeside(ctx, cfg, nc, live)
}

// rebuildBeside replays the stream into fresh tables beside live and
// swaps them in, as Rebuild does; cfg has its defaults set.
func rebuildBeside(ctx context.Context, cfg RebuildConfig, nc *nats.Conn, live *readstore.DB) error {
	bg, err := live.NewRebuild(ctx, rebuildOptions(cfg.Applier))
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	defer bg.Close()

	start := cfg.Now()
	pos, err := replay(ctx, cfg, nc, bg.DB())
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	replayed := cfg.Now()
	// The swap builds the indexes the replay went without, which takes a
	// while on a big read store: say so, or the rebuild looks stuck.
	cfg.Logger.Info("rebuild replayed; building indexes and swapping", "position", pos,
		"took", replayed.Sub(start).Round(time.Millisecond))
	if err := bg.Swap(ctx); err != nil {
		return fmt.Errorf("rebuild: swap the rebuilt tables in: %w", err)
	}
	cfg.Logger.Info("rebuild swapped in", "position", pos, "took", cfg.Now().Sub(start).Round(time.Millisecond),
		"swap", cfg.Now().Sub(replayed).Round(time.Millisecond))
	return nil
}

// ReplayIndexer is an Applier that names the secondary indexes its
// batches look rows up by. A rebuild keeps those while it replays and
// builds every other index once, at the swap, which is much faster than
// keeping them up to date batch by batch; with an Applier that does not
// say, it keeps them all.
type ReplayIndexer interface {
	ReplayIndexes() []string
}

func rebuildOptions(a Applier) readstore.RebuildOptions {
	ri, ok := a.(ReplayIndexer)
	if !ok {
		return readstore.RebuildOptions{}
	}
	return readstore.RebuildOptions{DeferIndexes: true, KeepIndexes: ri.ReplayIndexes()}
}

// replay runs a projector on db until it has applied the stream up to its
// last sequence as read just before stopping, and returns its position.
func replay(ctx context.Context, cfg RebuildConfig, nc *nats.Conn, db *readstore.DB) (uint64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	total, err := streamLast(ctx, js, cfg.Stream)
	if err != nil {
		return 0, err
	}
	p, err := New(Config{
		Conn: nc, Stream: cfg.Stream, Subject: cfg.Subject, DB: db, Applier: cfg.Applier,
		BatchSize: cfg.BatchSize, Strict: cfg.Strict, Logger: cfg.Logger, Now: cfg.Now, Untraced: true,
		// It is the replay into fresh tables.
		FreshReplayFrom: -1,
		// The live projector has published the dead letters already; the
		// skips are recorded in the fresh tables all the same.
		DeadLetterSubject: "-",
		// A private registry: the live projector's metrics are the ones
		// that matter on /metrics.
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		return 0, err
	}
	cfg.Logger.Info("rebuild replaying", "stream", cfg.Stream, "events", total, "into", db.Location)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var runErr error
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		runErr = p.Run(runCtx)
	}()
	prog := newProgress(cfg.Progress, cfg.ProgressInterval, cfg.Now, 0, total)
	err = waitCaughtUp(ctx, p, stopped, prog, func() (uint64, error) { return streamLast(ctx, js, cfg.Stream) }, total)
	stop()
	<-stopped
	if runErr != nil {
		err = runErr // why the projector halted
	}
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	pos := p.Position()
	prog.done(pos, max(pos, total))
	return pos, nil
}

// waitCaughtUp polls p, which runs until stopped is closed, until it has
// applied the stream up to last(), showing its progress. It returns nil
// once it has, or why it could not: the projector stopped first (Run's
// error says why), or ctx ended.
func waitCaughtUp(ctx context.Context, p *Projector, stopped <-chan struct{}, prog *progress, last func() (uint64, error), total uint64) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stopped:
			return errors.New("the projector stopped before it caught up")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		pos := p.Position()
		prog.update(pos, max(total, pos))
		if pos < total {
			continue
		}
		// Caught up with the stream as it was: check it again, so that the
		// swap happens as close to its end as it can.
		var err error
		if total, err = last(); err != nil {
			return err
		}
		if pos >= total {
			return nil
		}
	}
}
