package projector_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// openURL opens and migrates the read store at url, closed when the test
// ends.
func openURL(t *testing.T, url string) *readstore.DB {
	t.Helper()
	db, err := readstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestRebuildSwapsWhileServing(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		_, nc := projectortest.StartNATS(t)
		evs := projectortest.Generate(12000, 7)
		projectortest.Publish(t, nc, evs[:6000])
		url := readstoretest.URL(t, d)
		db := openURL(t, url)
		live := startProjector(t, projector.Config{Conn: nc, DB: db})
		projectortest.WaitPosition(t, db, 6000, 30*time.Second)
		// A row no event wrote: the rebuild must not carry it over.
		if _, err := db.ExecContext(context.Background(), "INSERT INTO experiment_tags (experiment_id, tag) VALUES ('not-an-event', 'marker')"); err != nil {
			t.Fatal(err)
		}

		// Readers check, in one statement (one snapshot), that the read
		// model is never empty and never half swapped: every event wrote
		// one history row, so the count equals the checkpoint.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var readerErrs []string
		samples := 0
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var pos, n int64
					err := db.QueryRowContext(context.Background(), "SELECT (SELECT position FROM projector_checkpoint WHERE id = 1), (SELECT count(*) FROM history)").Scan(&pos, &n)
					mu.Lock()
					samples++
					switch {
					case err != nil:
						readerErrs = append(readerErrs, err.Error())
					case n == 0 || pos != n:
						readerErrs = append(readerErrs, fmt.Sprintf("checkpoint %d with %d history rows", pos, n))
					}
					mu.Unlock()
					time.Sleep(time.Millisecond)
				}
			}()
		}
		// Events keep arriving during the rebuild.
		writerErr := make(chan error, 1)
		go func() { writerErr <- publishSlowly(nc, evs[6000:], 250, 20*time.Millisecond) }()

		leased, err := db.ReadLease(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var progress bytes.Buffer
		err = projector.Rebuild(ctx, projector.RebuildConfig{
			Conn: nc, DatabaseURL: url, Applier: projection(t, db), Strict: true,
			Progress: &progress, ProgressInterval: time.Millisecond,
		})
		if err != nil {
			t.Fatalf("Rebuild() = %v", err)
		}
		if err := <-writerErr; err != nil {
			t.Fatal(err)
		}
		projectortest.WaitPosition(t, db, 12000, 30*time.Second)
		// The live projector kept its lease through the swap.
		if l, err := db.ReadLease(ctx); err != nil || l.Holder != leased.Holder || l.Epoch != leased.Epoch {
			t.Errorf("lease after the rebuild %+v (%v), before %+v: want it unchanged", l, err, leased)
		}
		close(stop)
		wg.Wait()
		if err := live.stop(); err != nil {
			t.Fatalf("live projector: %v", err)
		}
		if len(readerErrs) > 0 {
			t.Errorf("readers saw %d bad reads of %d, first: %s", len(readerErrs), samples, readerErrs[0])
		}
		t.Logf("%d reads during the rebuild; progress output:\n%s", samples, lastLines(progress.String(), 3))
		if !strings.Contains(progress.String(), "events/s") || !strings.Contains(progress.String(), "ETA") {
			t.Errorf("progress output lacks rate or ETA: %q", progress.String())
		}
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replay(t, d, nc)))
		if d == readstore.SQLite {
			// The full-text index, which the dump leaves out, holds what
			// the swap copied into the table it indexes.
			for _, fts := range []string{"experiment_fts"} {
				if _, err := db.ExecContext(context.Background(), "INSERT INTO "+fts+" ("+fts+", rank) VALUES ('integrity-check', 1)"); err != nil {
					t.Errorf("%s after the swap: %v", fts, err)
				}
			}
		}
		assertNoRebuildLeft(t, db, url)
	})
}

func TestRebuildStrictLeavesLiveTablesOnSkip(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		_, nc := projectortest.StartNATS(t)
		projectortest.Publish(t, nc, projectortest.Generate(300, 8))
		js, _ := jetstream.New(nc)
		garbage := nats.NewMsg("tracker.innovation.x.recorded")
		garbage.Data = []byte("[]")
		if _, err := js.PublishMsg(ctx, garbage); err != nil {
			t.Fatal(err)
		}
		url := readstoretest.URL(t, d)
		db := openURL(t, url)
		live := startProjector(t, projector.Config{Conn: nc, DB: db})
		projectortest.WaitPosition(t, db, 301, 30*time.Second)
		if err := live.stop(); err != nil {
			t.Fatal(err)
		}
		before := projectortest.Dump(t, db)
		err := projector.Rebuild(ctx, projector.RebuildConfig{Conn: nc, DatabaseURL: url, Applier: projection(t, db), Strict: true})
		if !errors.Is(err, projector.ErrSkipped) {
			t.Fatalf("Rebuild() = %v, want ErrSkipped", err)
		}
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), before)
		assertNoRebuildLeft(t, db, url)

		// Not strict, the same rebuild goes through and records the skip.
		if err := projector.Rebuild(ctx, projector.RebuildConfig{Conn: nc, DatabaseURL: url, Applier: projection(t, db)}); err != nil {
			t.Fatalf("Rebuild() = %v", err)
		}
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), before)
	})
}

// publishSlowly publishes evs in chunks, pausing between them, as live
// traffic would arrive.
func publishSlowly(nc *nats.Conn, evs []projectortest.Event, chunk int, pause time.Duration) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for lo := 0; lo < len(evs); lo += chunk {
		for _, ev := range evs[lo:min(lo+chunk, len(evs))] {
			m, err := ev.Envelope.EncodeMsg(ev.Subject)
			if err != nil {
				return err
			}
			if _, err := js.PublishMsgAsync(m); err != nil {
				return err
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			return errors.New("publish timed out")
		}
		time.Sleep(pause)
	}
	return nil
}

func assertNoRebuildLeft(t *testing.T, db *readstore.DB, url string) {
	t.Helper()
	if db.Dialect == readstore.Postgres {
		var n int
		if err := db.GetContext(context.Background(), &n, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", projector.RebuildSchema); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("schema %s is left behind", projector.RebuildSchema)
		}
		return
	}
	if _, err := os.Stat(strings.TrimPrefix(url, "sqlite:") + ".rebuild"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rebuild file left behind: %v", err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
