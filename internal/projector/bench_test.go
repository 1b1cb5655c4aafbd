package projector_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// benchEvents is how many events the replay benchmarks use: 50,000, or
// BENCH_EVENTS.
func benchEvents(b *testing.B) int {
	if v := os.Getenv("BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("BENCH_EVENTS: %v", err)
		}
		return n
	}
	return 50_000
}

// BenchmarkReplay replays a prebuilt stream through the whole projector
// (subscriber, router, decoding, batching, the read model's projection)
// into a fresh read store, at two batch sizes. Beside it, in the same
// run, it measures two baselines on the same events:
//
//   - direct: the projection's ApplyBatch called in a loop on events
//     decoded beforehand, one transaction per batch, with no NATS or
//     router: what the projector would do if the message path were
//     free;
//   - raw: the rows that replay produced, written into another fresh
//     read store with plain multi-row INSERTs of 500 rows, one
//     transaction each: the floor that any projection of those rows pays.
//
// It reports events per second for each, and the projector's rate as a
// percentage of the raw one.
func BenchmarkReplay(b *testing.B) {
	for _, d := range []readstore.Dialect{readstore.Postgres, readstore.SQLite} {
		b.Run(string(d), func(b *testing.B) {
			n := benchEvents(b)
			_, nc := projectortest.StartNATS(b)
			evs := projectortest.Generate(n, 42)
			projectortest.Publish(b, nc, evs)
			for _, batch := range []int{500, 2000} {
				b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
					var pipeline, direct, raw time.Duration
					for range b.N {
						db := readstoretest.Open(b, d)
						pipeline += replayOnce(b, nc, db, n, batch)
						raw += rawInsert(b, db, readstoretest.Open(b, d))
						direct += applyDirect(b, readstoretest.Open(b, d), evs, batch)
					}
					perSec := func(t time.Duration) float64 { return float64(n*b.N) / t.Seconds() }
					b.ReportMetric(perSec(pipeline), "events/s")
					b.ReportMetric(perSec(direct), "direct-events/s")
					b.ReportMetric(perSec(raw), "raw-events/s")
					b.ReportMetric(100*perSec(pipeline)/perSec(raw), "%-of-raw")
					b.Logf("%s, %d events, batches of %d: projector %.0f events/s; direct ApplyBatch %.0f events/s; raw multi-row INSERT of the same rows %.0f events/s; projector/raw %.0f%%, projector/direct %.0f%%",
						d, n, batch, perSec(pipeline), perSec(direct), perSec(raw),
						100*perSec(pipeline)/perSec(raw), 100*perSec(pipeline)/perSec(direct))
				})
			}
		})
	}
}

// replayOnce runs a projector on db until it has applied n events and
// returns how long that took, the timer running only meanwhile.
func replayOnce(b *testing.B, nc *nats.Conn, db *readstore.DB, n, batch int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	reg := prometheus.NewRegistry()
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: projection(b, db), Registerer: reg, BatchSize: batch})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	for p.Position() < uint64(n) {
		select {
		case err := <-done:
			b.Fatalf("projector stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	batches, inBatches := histogram(b, reg, "projector_batch_duration_seconds")
	b.Logf("%d batches; committing them took %.2fs of the %.2fs replay", batches, inBatches, elapsed.Seconds())
	return elapsed
}

// applyDirect applies evs to db with the projection alone, batch events
// per transaction, and returns the time it took.
func applyDirect(b *testing.B, db *readstore.DB, evs []projectortest.Event, batch int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	recs := projectortest.Recorded(b, evs)
	ap := projection(b, db)
	ctx := context.Background()
	start := time.Now()
	for lo := 0; lo < len(recs); lo += batch {
		hi := min(lo+batch, len(recs))
		tx, err := db.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ap.ApplyBatch(ctx, tx, recs[lo:hi]); err != nil {
			b.Fatal(err)
		}
		if err := readstore.SetPosition(ctx, tx, uint64(hi)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// rawInsert copies every read-model row of from into the empty read
// store to, 500 rows per INSERT and per transaction, and returns the time
// the inserts took (reading the rows is not counted).
func rawInsert(b *testing.B, from, to *readstore.DB) time.Duration {
	type table struct {
		name string
		cols []string
		rows [][]any
	}
	var all []table
	for _, name := range projectortest.Tables(b, from) {
		rows, err := from.QueryContext(context.Background(), "SELECT * FROM "+name)
		if err != nil {
			b.Fatal(err)
		}
		cols, _ := rows.Columns()
		t := table{name: name, cols: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			t.rows = append(t.rows, vals)
		}
		rows.Close()
		all = append(all, t)
	}
	ctx := context.Background()
	if _, err := to.ExecContext(ctx, "DELETE FROM projector_checkpoint"); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, t := range all {
		for lo := 0; lo < len(t.rows); lo += 500 {
			hi := min(lo+500, len(t.rows))
			var q strings.Builder
			fmt.Fprintf(&q, "INSERT INTO %s (%s) VALUES ", t.name, strings.Join(t.cols, ", "))
			args := make([]any, 0, (hi-lo)*len(t.cols))
			for i, row := range t.rows[lo:hi] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", len(row)), ", ") + ")")
				args = append(args, row...)
			}
			tx, err := to.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(q.String()), args...); err != nil {
				b.Fatalf("insert into %s: %v", t.name, err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	return time.Since(start)
}

// BenchmarkRouter measures the message path alone: the JetStream
// subscriber, the Watermill router with the projector's middleware, and
// envelope decoding, with a handler that keeps nothing. It shows whether
// the router's one-message-in-flight ack chain caps the replay rate.
func BenchmarkRouter(b *testing.B) {
	n := benchEvents(b)
	_, nc := projectortest.StartNATS(b)
	projectortest.Publish(b, nc, projectortest.Generate(n, 42))
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		sub, err := projector.NewSubscriber(projector.SubscriberConfig{Conn: nc, Stream: events.DefaultStream, PullMaxMessages: 1000})
		if err != nil {
			b.Fatal(err)
		}
		router, err := message.NewRouter(message.RouterConfig{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		seen := 0
		router.AddConsumerHandler("bench", "tracker.>", sub, func(msg *message.Message) error {
			if _, err := events.Decode(msg.Payload); err != nil {
				return err
			}
			if seen++; seen == n {
				close(done)
			}
			return nil
		})
		router.AddMiddleware(middleware.Recoverer, middleware.CorrelationID,
			metrics.NewPrometheusMetricsBuilder(prometheus.NewRegistry(), "bench", "").NewRouterMiddleware().Middleware)
		runDone := make(chan error, 1)
		start := time.Now()
		go func() { runDone <- router.Run(context.Background()) }()
		<-done
		total += time.Since(start)
		router.Close()
		if err := <-runDone; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "msgs/s")
}

// histogram returns the sample count and sum of a histogram in reg.
func histogram(b *testing.B, reg *prometheus.Registry, name string) (uint64, float64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}
