package projector_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// running is a projector running in the background of a test.
type running struct {
	p      *projector.Projector
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startProjector runs a projector with cfg, a fresh metrics registry and
// the read model's projection unless cfg names an applier. It is stopped
// when the test ends.
func startProjector(t *testing.T, cfg projector.Config) *running {
	t.Helper()
	if cfg.Applier == nil {
		cfg.Applier = projection(t, cfg.DB)
	}
	r := &running{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	cfg.Registerer = r.reg
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	p, err := projector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the projector and returns what Run returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// wait returns what Run returned once it stops by itself.
func (r *running) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err })
		return err
	case <-time.After(timeout):
		t.Fatalf("projector still running after %s", timeout)
		return nil
	}
}

func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				switch {
				case m.Counter != nil:
					sum += m.Counter.GetValue()
				case m.Gauge != nil:
					sum += m.Gauge.GetValue()
				case m.Histogram != nil:
					sum += float64(m.Histogram.GetSampleCount())
				}
			}
			return sum
		}
	}
	return 0
}

func projection(t testing.TB, db *readstore.DB) projector.Applier {
	t.Helper()
	p, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// replay builds a fresh read store of dialect from the whole stream, in
// one uninterrupted run: the reference a disturbed run must equal.
func replay(t *testing.T, d readstore.Dialect, nc *nats.Conn) *readstore.DB {
	t.Helper()
	db := readstoretest.Open(t, d)
	r := startProjector(t, projector.Config{Conn: nc, DB: db, FreshReplayFrom: -1})
	projectortest.WaitPosition(t, db, projectortest.StreamLast(t, nc, events.DefaultStream), 60*time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	return db
}

// appendViaStore writes evs through the event store, one command each,
// with the expected sequence of each aggregate.
func appendViaStore(t *testing.T, nc *nats.Conn, evs []projectortest.Event) {
	t.Helper()
	ctx := context.Background()
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]uint64{}
	for _, ev := range evs {
		name, _, _ := events.ParseType(ev.Envelope.Type)
		aggregate, _, _ := cutDot(name)
		res, err := store.Append(ctx, aggregate, ev.Envelope.Subject, last[ev.Envelope.Subject], []events.Envelope{ev.Envelope}, "")
		if err != nil {
			t.Fatalf("append %s: %v", ev.Subject, err)
		}
		last[ev.Envelope.Subject] = res.LastSequence
	}
}

func cutDot(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestAppliesAndResumesAtCheckpoint(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		_, nc := projectortest.StartNATS(t)
		evs := projectortest.Generate(3000, 1)
		appendViaStore(t, nc, evs[:300])
		projectortest.Publish(t, nc, evs[300:1000])
		db := readstoretest.Open(t, d)

		first := startProjector(t, projector.Config{Conn: nc, DB: db})
		select {
		case <-first.p.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("projector never became ready")
		}
		if got := first.p.Position(); got < 1000 {
			t.Fatalf("ready at position %d, want at least 1000", got)
		}
		if err := first.stop(); err != nil {
			t.Fatalf("first run: %v", err)
		}
		if got, _ := db.Position(context.Background()); got != 1000 {
			t.Fatalf("checkpoint after first run = %d, want 1000", got)
		}

		projectortest.Publish(t, nc, evs[1000:])
		second := startProjector(t, projector.Config{Conn: nc, DB: db})
		projectortest.WaitPosition(t, db, 3000, 30*time.Second)
		if err := second.stop(); err != nil {
			t.Fatalf("second run: %v", err)
		}
		if got := projectortest.StreamLast(t, nc, events.DefaultStream); got != 3000 {
			t.Fatalf("stream ends at %d, want 3000", got)
		}
		if got, _ := db.Position(context.Background()); got != 3000 {
			t.Fatalf("checkpoint = %d, want 3000", got)
		}
		// Started with nothing new to apply, it is ready at once.
		third := startProjector(t, projector.Config{Conn: nc, DB: db})
		select {
		case <-third.p.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("a caught-up projector never became ready")
		}
		if err := third.stop(); err != nil {
			t.Fatalf("third run: %v", err)
		}
		if got := third.metric(t, "projector_events_applied_total"); got != 0 {
			t.Errorf("third run applied %v events, want 0", got)
		}
		if got := second.metric(t, "projector_events_applied_total"); got != 2000 {
			t.Errorf("second run applied %v events, want 2000 (resume at checkpoint+1)", got)
		}
		if got := projectortest.Count(t, db, "history"); got != 3000 {
			t.Errorf("history has %d rows, want 3000", got)
		}
		if skipped, _ := db.ListSkipped(context.Background()); len(skipped) != 0 {
			t.Errorf("skipped = %v, want none", skipped)
		}
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replay(t, d, nc)))
	})
}

func TestGapHalts(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		_, nc := natsembedtest.Start(t)
		js, _ := jetstream.New(nc)
		ctx := context.Background()
		// A stream of our own, since the event store's denies deletes.
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "GAPPY", Subjects: []string{"tracker.>"}})
		if err != nil {
			t.Fatal(err)
		}
		projectortest.Publish(t, nc, projectortest.Generate(10, 2))
		if err := s.DeleteMsg(ctx, 6); err != nil {
			t.Fatal(err)
		}
		db := readstoretest.Open(t, d)
		r := startProjector(t, projector.Config{Conn: nc, Stream: "GAPPY", DB: db})
		err = r.wait(t, 30*time.Second)
		if !errors.Is(err, projector.ErrGap) {
			t.Fatalf("Run() = %v, want ErrGap", err)
		}
		t.Logf("Run() = %v", err)
		if got, _ := db.Position(ctx); got != 5 {
			t.Errorf("checkpoint = %d, want 5 (just before the gap)", got)
		}
	})
}

func TestCheckpointAheadHalts(t *testing.T) {
	_, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(10, 3))
	db := readstoretest.Open(t, readstore.SQLite)
	tx := readstoretest.Begin(t, db)
	if err := readstore.SetPosition(context.Background(), tx, 11); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := startProjector(t, projector.Config{Conn: nc, DB: db})
	if err := r.wait(t, 30*time.Second); !errors.Is(err, projector.ErrCheckpointAhead) {
		t.Fatalf("Run() = %v, want ErrCheckpointAhead", err)
	}
}

func TestUndecodableEventIsSkippedAndDeadLettered(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		_, nc := projectortest.StartNATS(t)
		js, _ := jetstream.New(nc)
		ctx := context.Background()
		evs := projectortest.Generate(20, 4)
		projectortest.Publish(t, nc, evs[:10])
		garbage := nats.NewMsg("tracker.experiment.x.registered")
		garbage.Data = []byte("{not json")
		garbage.Header.Set(events.HeaderID, "bad-1")
		garbage.Header.Set(events.HeaderType, "failforward.experiment.registered.v1")
		if _, err := js.PublishMsg(ctx, garbage); err != nil {
			t.Fatal(err)
		}
		projectortest.Publish(t, nc, evs[10:])

		db := readstoretest.Open(t, d)
		r := startProjector(t, projector.Config{Conn: nc, DB: db})
		projectortest.WaitPosition(t, db, 21, 30*time.Second)

		skipped, err := db.ListSkipped(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(skipped) != 1 || skipped[0].Position != 11 || skipped[0].EventID != "bad-1" || skipped[0].Reason == "" {
			t.Fatalf("skipped = %+v, want one at position 11 with a reason", skipped)
		}
		if got := projectortest.Count(t, db, "history"); got != 20 {
			t.Errorf("history has %d rows, want 20 (the projector went on)", got)
		}
		projectortest.WaitFor(t, 10*time.Second, "dead-letter metric", func() (bool, error) {
			return r.metric(t, "projector_dead_letters_total") == 1, nil
		})
		if got := r.metric(t, "projector_skipped_total"); got != 1 {
			t.Errorf("projector_skipped_total = %v, want 1", got)
		}
		dls, err := js.Stream(ctx, projector.DefaultDeadLetterStream)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := dls.GetLastMsgForSubject(ctx, projector.DefaultDeadLetterSubject)
		if err != nil {
			t.Fatalf("read dead letter: %v", err)
		}
		if got := msg.Header.Get(projector.HeaderDeadLetterReason); got == "" {
			t.Error("dead letter has no reason")
		} else {
			t.Logf("dead letter reason: %s", got)
		}
		if got := msg.Header.Get(projector.HeaderDeadLetterSequence); got != "11" {
			t.Errorf("dead letter sequence = %q, want 11", got)
		}
		if string(msg.Data) != "{not json" {
			t.Errorf("dead letter body = %q, want the original", msg.Data)
		}
	})
}

func TestStrictFailsOnSkip(t *testing.T) {
	_, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(5, 5))
	garbage := nats.NewMsg("tracker.experiment.x.registered")
	garbage.Data = []byte("garbage")
	js, _ := jetstream.New(nc)
	if _, err := js.PublishMsg(context.Background(), garbage); err != nil {
		t.Fatal(err)
	}
	db := readstoretest.Open(t, readstore.SQLite)
	r := startProjector(t, projector.Config{Conn: nc, DB: db, Strict: true})
	if err := r.wait(t, 30*time.Second); !errors.Is(err, projector.ErrSkipped) {
		t.Fatalf("Run() = %v, want ErrSkipped", err)
	}
	if got, _ := db.Position(context.Background()); got != 0 {
		// The batch with the skip was rolled back as a whole.
		t.Errorf("checkpoint = %d, want 0", got)
	}
}

// flakyApplier fails every nth batch after the projection has written
// its rows, so that the transaction must roll them back.
type flakyApplier struct {
	projector.Applier
	n     int
	calls atomic.Int64
}

func (f *flakyApplier) ApplyBatch(ctx context.Context, tx *readstore.Tx, evs []events.Recorded) ([]readstore.Skipped, error) {
	skipped, err := f.Applier.ApplyBatch(ctx, tx, evs)
	if err == nil && f.calls.Add(1)%int64(f.n) == 0 {
		return nil, errors.New("injected failure after writing")
	}
	return skipped, err
}

func TestDatabaseFailureResumesFromCheckpoint(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		_, nc := projectortest.StartNATS(t)
		ctx := context.Background()
		evs := projectortest.Generate(6000, 6)
		projectortest.Publish(t, nc, evs[:2000])
		url := readstoretest.URL(t, d)
		db := readstoretest.Reopen(t, url)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		r := startProjector(t, projector.Config{Conn: nc, DB: db, BatchSize: 100,
			Applier: &flakyApplier{Applier: projection(t, db), n: 7}})
		projectortest.WaitPosition(t, db, 2000, 30*time.Second)
		if got := r.metric(t, "projector_batch_failures_total"); got == 0 {
			t.Error("no batch failed; the injected failures did not happen")
		}

		// Take a table away: every batch fails until it is back.
		if _, err := db.ExecContext(ctx, "ALTER TABLE history RENAME TO history_away"); err != nil {
			t.Fatal(err)
		}
		failures := r.metric(t, "projector_batch_failures_total")
		projectortest.Publish(t, nc, evs[2000:4000])
		projectortest.WaitFor(t, 30*time.Second, "failing batches", func() (bool, error) {
			return r.metric(t, "projector_batch_failures_total") >= failures+3, nil
		})
		if got, _ := db.Position(ctx); got != 2000 {
			t.Fatalf("checkpoint moved to %d while the table was missing", got)
		}
		if _, err := db.ExecContext(ctx, "ALTER TABLE history_away RENAME TO history"); err != nil {
			t.Fatal(err)
		}
		projectortest.WaitPosition(t, db, 4000, 30*time.Second)

		if d == readstore.Postgres {
			// Drop the projector's connections while it applies. The
			// test terminates them through a handle of its own, used one
			// statement at a time so that it holds one connection, which
			// the query spares; a connection of the projector's pool may
			// be one a previous round has just killed.
			admin := readstoretest.Reopen(t, url)
			projectortest.Publish(t, nc, evs[4000:])
			for range 5 {
				if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
					WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		} else {
			projectortest.Publish(t, nc, evs[4000:])
		}
		projectortest.WaitPosition(t, db, 6000, 60*time.Second)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("batch failures: %v", r.metric(t, "projector_batch_failures_total"))
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replay(t, d, nc)))
	})
}
