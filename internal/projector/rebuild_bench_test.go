package projector_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// BenchmarkRebuild measures a blue/green rebuild of a stream against a
// replay of the same stream into an empty read store, in the same run:
// the replay fills the live store, then the rebuild replays the stream
// beside it and swaps its tables in. It reports both times and their
// ratio (rebuild/replay), the figure a rebuild's cost is judged by.
func BenchmarkRebuild(b *testing.B) {
	for _, d := range []readstore.Dialect{readstore.Postgres, readstore.SQLite} {
		b.Run(string(d), func(b *testing.B) {
			n := benchEvents(b)
			_, nc := projectortest.StartNATS(b)
			projectortest.Publish(b, nc, projectortest.Generate(n, 42))
			var replayed, rebuilt time.Duration
			for range b.N {
				url := readstoretest.URL(b, d)
				db, err := readstore.Open(context.Background(), url)
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Migrate(context.Background()); err != nil {
					b.Fatal(err)
				}
				replayed += replayOnce(b, nc, db, n, projector.DefaultRebuildBatchSize)
				var log bytes.Buffer
				b.StartTimer()
				start := time.Now()
				err = projector.Rebuild(context.Background(), projector.RebuildConfig{
					Conn: nc, DatabaseURL: url, Applier: projection(b, db), Strict: true,
					Logger: slog.New(slog.NewTextHandler(&log, nil)),
				})
				rebuilt += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatalf("Rebuild() = %v", err)
				}
				// How the rebuild's time splits between the replay and the swap.
				b.Log(lastLines(log.String(), 1))
				db.Close()
			}
			b.ReportMetric(replayed.Seconds()/float64(b.N), "replay-s")
			b.ReportMetric(rebuilt.Seconds()/float64(b.N), "rebuild-s")
			b.ReportMetric(rebuilt.Seconds()/replayed.Seconds(), "rebuild/replay")
			b.Logf("%s, %d events: replay from empty %.2fs, rebuild %.2fs, ratio %.2f",
				d, n, replayed.Seconds()/float64(b.N), rebuilt.Seconds()/float64(b.N), rebuilt.Seconds()/replayed.Seconds())
		})
	}
}
