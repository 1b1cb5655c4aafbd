package readstore

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Fresh tables start empty, and Postgres plans its queries on them by
// statistics that only ANALYZE gathers: autovacuum would, on a server
// that runs it and in its own time (a minute apart at best), and the
// projector's lookups into tables that grew from nothing to millions of
// rows otherwise plan as if they were still empty (a sequential scan for
// each batch's deletes and loads). So while a rebuild replays, the
// statistics keeper analyzes each fresh table as it grows, the way
// autovacuum decides to: when the rows changed since its last ANALYZE
// pass a threshold plus a share of the rows it had then. A share of 2
// analyzes a table that grows to millions of rows about eight times,
// each at the cost of ANALYZE's bounded sample.
const (
	statsEvery     = time.Second
	statsThreshold = 1000
	statsShare     = 2.0
)

// statsDue lists the fresh tables that have changed enough since their
// last ANALYZE (pg_class.reltuples is -1 before the first).
const statsDue = `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
	WHERE s.schemaname = $1 AND s.n_mod_since_analyze > $2 + $3 * greatest(c.reltuples, 0)
	ORDER BY s.relname`

// keepStatistics analyzes the fresh tables as they grow, every statsEvery,
// until ctx ends; it is the caller's to stop before the swap. It reports
// nothing: statistics speed the replay up but are not needed for it, and
// a failed round is tried again at the next tick.
func (r *pgRebuild) keepStatistics(ctx context.Context) {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = r.analyzeGrown(ctx)
	}
}

// analyzeGrown runs one round of the statistics keeper.
func (r *pgRebuild) analyzeGrown(ctx context.Context) error {
	var due []string
	if err := r.db.x.SelectContext(ctx, &due, statsDue, RebuildSchema, statsThreshold, statsShare); err != nil {
		return err
	}
	for _, n := range due {
		if err := r.analyze(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// analyze gathers the planner's statistics of the fresh table n. ANALYZE
// takes a lock that the projector's writes do not wait on.
func (r *pgRebuild) analyze(ctx context.Context, n string) error {
	if _, err := r.db.x.ExecContext(ctx, "ANALYZE "+pq.QuoteIdentifier(RebuildSchema)+"."+pq.QuoteIdentifier(n)); err != nil {
		return fmt.Errorf("analyze rebuilt table %s: %w", n, err)
	}
	return nil
}

// startStatistics starts the statistics keeper; stopStatistics stops it
// and waits for its round in progress, if any, to end.
func (r *pgRebuild) startStatistics() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.keepStatistics(ctx)
	}()
	r.stopStats = func() {
		cancel()
		<-done
	}
}

func (r *pgRebuild) stopStatistics() {
	if r.stopStats != nil {
		r.stopStats()
		r.stopStats = nil
	}
}
