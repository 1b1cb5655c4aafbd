//go:build linux

package chaostest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// caughtUp waits until the read models have applied the whole stream,
// and returns its last sequence.
func (tp *topology) caughtUp(t *testing.T, db *readstore.DB) uint64 {
	t.Helper()
	last := waitReplicated(t, tp.js, 3, 30*time.Second).State.LastSeq
	projectortest.WaitPosition(t, db, last, 60*time.Second)
	return last
}

// checkExactlyOnce checks the read models against what the load was
// told: each experiment it registered is there once, registered once,
// at the version its last acknowledged command answered, with as many
// events in its history as that version; nothing else is there, and no
// event was skipped.
func (tp *topology) checkExactlyOnce(t *testing.T, l *load) {
	t.Helper()
	began := time.Now()
	last := tp.caughtUp(t, tp.db)
	t.Logf("the projector caught up with the stream %s after the load ended", time.Since(began).Round(time.Millisecond))
	ctx := context.Background()
	var rows []struct {
		ID         string `db:"id"`
		Version    uint64 `db:"version"`
		Events     uint64 `db:"events"`
		Registered uint64 `db:"registered"`
	}
	err := tp.db.SelectContext(ctx, &rows, `
		SELECT e.id, e.version,
		       (SELECT count(*) FROM history h WHERE h.aggregate_id = e.id) AS events,
		       (SELECT count(*) FROM history h WHERE h.aggregate_id = e.id AND h.event_type LIKE '%experiment.registered.%') AS registered
		FROM experiments e`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	uncertain := 0
	for _, r := range rows {
		seen[r.ID] = true
		want, ok := l.exps[r.ID]
		switch {
		case !ok:
			t.Errorf("experiment %s is in the read models, but no command that registered it was acknowledged", r.ID)
			continue
		case want.uncertain:
			uncertain++
		case r.Version != want.version:
			t.Errorf("experiment %s at version %d, want %d, the version of its last acknowledged command", r.ID, r.Version, want.version)
		}
		if r.Events != r.Version || r.Registered != 1 {
			t.Errorf("experiment %s at version %d has %d events in its history, %d of them registrations; want %d and 1",
				r.ID, r.Version, r.Events, r.Registered, r.Version)
		}
	}
	for id := range l.exps {
		if !seen[id] {
			t.Errorf("experiment %s was acknowledged but is not in the read models", id)
		}
	}
	if n := projectortest.Count(t, tp.db, "projector_skipped"); n != 0 {
		t.Errorf("the projector skipped %d events, want none", n)
	}
	t.Logf("read models at stream position %d: %d experiments, each once (%d left uncertain by a failed command)",
		last, len(rows), uncertain)
}

// checkReplay replays the stream into a fresh database with an
// in-process projector, and compares it row for row with the read models
// the chaos produced.
func (tp *topology) checkReplay(t *testing.T) {
	t.Helper()
	began := time.Now()
	ctx := context.Background()
	ref, err := readstore.Open(ctx, tp.pg.createDatabase(t, "replay"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	applier, err := readmodel.NewProjection(ref.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	p, err := projector.New(projector.Config{Conn: tp.nc, DB: ref, Applier: applier, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	last := tp.caughtUp(t, ref)
	t.Logf("replayed %d events into a fresh database in %s", last, time.Since(began).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The live projector has applied as much; both hold the whole stream.
	tp.caughtUp(t, tp.db)
	projectortest.AssertSameRows(t, projectortest.Dump(t, tp.db), projectortest.Dump(t, ref))
	t.Logf("read models equal a fresh replay of the %d events (compared %s after the replay began)", last, time.Since(began).Round(time.Millisecond))
}
