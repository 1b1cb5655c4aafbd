package readstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/history"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// readBound is how much longer than before the rebuild one read may take
// while it runs. It is generous, so that a loaded machine does not fail
// the test: what it catches is a read that waits for the rebuild's
// locks. While the test holds the rebuild, such a read would not answer
// at all, and the test would fail waiting for it.
const readBound = 2 * time.Second

// TestRebuildNeverBlocksReaders holds a rebuild mid-replay (a batch's
// transaction open on the fresh store) and at each stage of its swap,
// and checks meanwhile that the read models' own queries on the live
// store (a filtered list, a detail, the outcome dashboard) keep
// answering, each within readBound of its time before, and that none
// fails.
func TestRebuildNeverBlocksReaders(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		gen := projectortest.Generate(3000, 5)
		live, rb, recs := rebuildBeside(t, d, gen, 2000)
		r := startReaders(t, live, gen)

		// Mid-replay: a batch written, not committed.
		tx, err := rb.DB().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := applier(t, d).ApplyBatch(ctx, tx, recs[:1000]); err != nil {
			t.Fatal(err)
		}
		r.waitReads(t, "mid-replay")
		// The fresh tables fill with the indexes the projection reads
		// through, and without the others.
		if objs := strings.Join(schemaObjects(t, rb.DB()), "\n"); !strings.Contains(objs, "index learnings_experiment") ||
			strings.Contains(objs, "index learnings_team") {
			t.Errorf("while the rebuild fills, its store has\n%s\nwant learnings_experiment and not learnings_team", objs)
		}
		if err := readstore.SetPosition(ctx, tx, 1000); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		applyEvents(t, rb.DB(), recs[1000:])

		var stages []string
		readstore.SetRebuildHook(rb, func(stage string) {
			stages = append(stages, stage)
			if stage != "lock" {
				r.waitReads(t, stage)
			}
		})
		if err := rb.Swap(ctx); err != nil {
			t.Fatalf("Swap() = %v", err)
		}
		r.waitReads(t, "after the swap")
		r.stop(t)
		t.Logf("stages %v; %d reads, the slowest %s (bound %s)", stages, r.n.Load(), r.slowest, r.bound)
		if pos, err := live.Position(ctx); err != nil || pos != uint64(len(recs)) {
			t.Errorf("after the swap, Position() = %d, %v; want %d", pos, err, len(recs))
		}
		// The indexes the replay went without are back, and the full-text
		// indexes find what those of a store replayed directly find.
		ref := readstoretest.Open(t, d)
		applyEvents(t, ref, recs)
		if got, want := schemaObjects(t, live), schemaObjects(t, ref); !slices.Equal(got, want) {
			t.Errorf("after the swap the live store has\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, w := range history.Words()[:3] {
			if got, want := search(t, live, w), search(t, ref, w); !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("search %q after the swap finds %v, want %v", w, got, want)
			}
		}
	})
}

// schemaObjects lists the indexes, triggers and tables of db's schema
// with their definitions.
func schemaObjects(t *testing.T, db *readstore.DB) []string {
	t.Helper()
	q := "SELECT type || ' ' || name || ': ' || sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY type, name"
	if db.Dialect == readstore.Postgres {
		q = `SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = current_schema()
			ORDER BY 1`
	}
	var objs []string
	if err := db.SelectContext(context.Background(), &objs, q); err != nil {
		t.Fatal(err)
	}
	return objs
}

// search returns the ids of the experiments a text search for w finds.
func search(t *testing.T, db *readstore.DB, w string) []string {
	t.Helper()
	page, err := readmodel.NewQueries(db).ListExperiments(context.Background(), readmodel.Viewer{All: true},
		readmodel.ExperimentFilter{Q: w, Limit: readmodel.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Items))
	for i, e := range page.Items {
		ids[i] = e.ID
	}
	return ids
}

// TestRebuildSwapWaitsOutLongRead opens a read that holds the live tables
// (a transaction that has read them and stays open) and swaps a rebuild
// in meanwhile. On Postgres the swap cannot lock the tables until the
// read ends: it must give up and try again rather than queue, so that the
// reads that come after keep answering; on SQLite it does not wait at
// all. Either way the swap goes through and no read fails.
func TestRebuildSwapWaitsOutLongRead(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		gen := projectortest.Generate(2000, 6)
		live, rb, recs := rebuildBeside(t, d, gen, 1000)
		applyEvents(t, rb.DB(), recs)

		var before int
		if err := live.GetContext(ctx, &before, "SELECT count(*) FROM experiments"); err != nil {
			t.Fatal(err)
		}
		long := openLongRead(t, live)
		r := startReaders(t, live, gen)
		var attempts atomic.Int32
		readstore.SetRebuildHook(rb, func(stage string) {
			if stage == "lock" {
				attempts.Add(1)
			}
		})
		swapped := make(chan error, 1)
		go func() { swapped <- rb.Swap(ctx) }()
		if d == readstore.Postgres {
			// Three failed attempts while the long read is open.
			projectortest.WaitFor(t, 30*time.Second, "the swap to try again", func() (bool, error) {
				return attempts.Load() >= 3, nil
			})
			r.waitReads(t, "while the swap waits")
			select {
			case err := <-swapped:
				t.Fatalf("Swap() = %v while a read held the live tables", err)
			default:
			}
		} else {
			if err := <-swapped; err != nil {
				t.Fatalf("Swap() = %v while a read was open", err)
			}
			swapped <- nil
		}
		// The long read still sees the tables it started on.
		if again, err := long(); err != nil || again != before {
			t.Errorf("the long read counts %d experiments (%v), want %d as before", again, err, before)
		}
		select {
		case err := <-swapped:
			if err != nil {
				t.Fatalf("Swap() = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the swap did not go through after the long read ended")
		}
		r.waitReads(t, "after the swap")
		r.stop(t)
		t.Logf("%d lock attempts; %d reads, the slowest %s (bound %s)", attempts.Load(), r.n.Load(), r.slowest, r.bound)
		if pos, err := live.Position(ctx); err != nil || pos != uint64(len(recs)) {
			t.Errorf("after the swap, Position() = %d, %v; want %d", pos, err, len(recs))
		}
	})
}

// rebuildBeside opens a live read store of dialect d holding the first
// applied events of gen, and prepares a rebuild beside it, closed when
// the test ends. It returns gen as the projection takes it.
func rebuildBeside(t *testing.T, d readstore.Dialect, gen []projectortest.Event, applied int) (*readstore.DB, *readstore.Rebuild, []events.Recorded) {
	t.Helper()
	recs := projectortest.Recorded(t, gen)
	live := readstoretest.Open(t, d)
	applyEvents(t, live, recs[:applied])
	rb, err := live.NewRebuild(context.Background(), readstore.RebuildOptions{
		DeferIndexes: true, KeepIndexes: applier(t, d).ReplayIndexes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rb.Close)
	return live, rb, recs
}

// openLongRead starts a read of the experiments that holds them until the
// function it returns has counted them and ended it. On Postgres that is
// a transaction that has read them; on SQLite, whose read store begins
// every transaction as a writer, a query whose rows are not read to the
// end, which holds its snapshot meanwhile.
func openLongRead(t *testing.T, db *readstore.DB) func() (int, error) {
	t.Helper()
	ctx := context.Background()
	if db.Dialect == readstore.Postgres {
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		var n int
		if err := tx.GetContext(ctx, &n, "SELECT count(*) FROM experiments"); err != nil {
			t.Fatal(err)
		}
		return func() (int, error) {
			var again int
			err := tx.GetContext(ctx, &again, "SELECT count(*) FROM experiments")
			return again, errors.Join(err, tx.Rollback())
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT id FROM experiments")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	if !rows.Next() {
		t.Fatalf("no experiments to read: %v", rows.Err())
	}
	return func() (int, error) {
		n := 1
		for rows.Next() {
			n++
		}
		return n, errors.Join(rows.Err(), rows.Close())
	}
}

// readers runs the read models' queries on a live store in a loop.
type readers struct {
	n       atomic.Int64
	stopc   chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []string
	slowest time.Duration
	// bound is the longest a read may take: readBound more than ten
	// times the slowest read before the rebuild (the race detector slows
	// SQLite's reads by seconds, and a loaded machine's by as much again).
	bound time.Duration
}

// startReaders starts two readers of db: the outcome dashboard on one,
// lists and details on the other, after timing each read alone.
func startReaders(t *testing.T, db *readstore.DB, gen []projectortest.Event) *readers {
	t.Helper()
	q := readmodel.NewQueries(db)
	all := readmodel.Viewer{All: true}
	id := gen[0].Envelope.Subject
	reads := [][]func(context.Context) error{
		{func(ctx context.Context) error {
			_, err := q.Outcomes(ctx, all, readmodel.OutcomeFilter{})
			return err
		}},
		{func(ctx context.Context) error {
			_, err := q.ListExperiments(ctx, all, readmodel.ExperimentFilter{Status: "concluded", Limit: 50})
			return err
		}, func(ctx context.Context) error {
			_, err := q.GetExperiment(ctx, all, id)
			return err
		}},
	}
	var alone time.Duration
	for _, loop := range reads {
		for _, f := range loop {
			start := time.Now()
			if err := f(context.Background()); err != nil {
				t.Fatal(err)
			}
			alone = max(alone, time.Since(start))
		}
	}
	r := &readers{stopc: make(chan struct{}), bound: readBound + 10*alone}
	t.Cleanup(func() { r.stop(t) })
	for _, loop := range reads {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-r.stopc:
					return
				default:
				}
				r.read(loop[i%len(loop)])
			}
		}()
	}
	return r
}

func (r *readers) read(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.bound)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	took := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slowest = max(r.slowest, took)
	if err != nil {
		r.errs = append(r.errs, fmt.Sprintf("after %s: %v", took.Round(time.Millisecond), err))
	}
	r.n.Add(1)
}

// waitReads waits until the readers have answered ten more reads, and
// fails the test if any read failed or took longer than its bound.
func (r *readers) waitReads(t *testing.T, during string) {
	t.Helper()
	want := r.n.Load() + 10
	projectortest.WaitFor(t, 60*time.Second, "reads "+during, func() (bool, error) {
		return r.n.Load() >= want, nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("%d reads failed by %s, the first %s", len(r.errs), during, r.errs[0])
	}
	if r.slowest > r.bound {
		t.Fatalf("a read took %s by %s, want at most %s", r.slowest, during, r.bound)
	}
}

func (r *readers) stop(t *testing.T) {
	select {
	case <-r.stopc:
	default:
		close(r.stopc)
	}
	r.wg.Wait()
}

func applier(t *testing.T, d readstore.Dialect) *readmodel.Projection {
	t.Helper()
	p, err := readmodel.NewProjection(d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// applyEvents applies recs to db as the projector would, 500 events a
// transaction, each moving the checkpoint to its last event.
func applyEvents(t *testing.T, db *readstore.DB, recs []events.Recorded) {
	t.Helper()
	ctx := context.Background()
	p := applier(t, db.Dialect)
	for lo := 0; lo < len(recs); lo += 500 {
		batch := recs[lo:min(lo+500, len(recs))]
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ApplyBatch(ctx, tx, batch); err != nil {
			t.Fatal(err)
		}
		if err := readstore.SetPosition(ctx, tx, batch[len(batch)-1].Sequence); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRebuildAnalyzesGrowingTables checks that a rebuild on Postgres
// gathers the planner's statistics of a fresh table as it grows, before
// the swap: without them, the projection's lookups into tables that grew
// from nothing plan as if they were empty.
func TestRebuildAnalyzesGrowingTables(t *testing.T) {
	ctx := context.Background()
	live := readstoretest.Open(t, readstore.Postgres)
	rb, err := live.NewRebuild(ctx, readstore.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rb.Close)
	fresh := rb.DB()
	analyzed := func() int {
		t.Helper()
		var n int
		if err := fresh.GetContext(ctx, &n, `SELECT analyze_count FROM pg_stat_user_tables
			WHERE schemaname = $1 AND relname = 'experiment_tags'`, readstore.RebuildSchema); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := analyzed(); n != 0 {
		t.Fatalf("the empty fresh table was analyzed %d times", n)
	}
	tx, err := fresh.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []any
	for i := range 5000 {
		rows = append(rows, fmt.Sprintf("exp-%05d", i), "tag")
	}
	if err := tx.BulkInsert(ctx, readstore.NewTable("experiment_tags", "experiment_id", "tag"), rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for analyzed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the fresh table grew by 5,000 rows and was not analyzed within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
