package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// overviewBudget is the server time a page load of the overview may take
// with 10,000 experiments in the read store.
const overviewBudget = 300 * time.Millisecond

// BenchmarkOverview seeds 10,000 experiments (with their starts,
// conclusions, learnings, lineage and innovations) through the real
// projection, and measures the overview handler's server time: the
// request served in process, rendering included, with no network. In the
// same run it times a baseline, the bare month Outcomes query that the
// page builds on, so that ratio says what the page adds to its main
// query. It runs on SQLite, and on Postgres when DATABASE_URL is set.
func BenchmarkOverview(b *testing.B) {
	for _, dialect := range readstoretest.Dialects {
		b.Run(string(dialect), func(b *testing.B) { benchmarkOverview(b, dialect) })
	}
}

func benchmarkOverview(b *testing.B, dialect readstore.Dialect) {
	const n = 10000
	e := newEnv(b, dialect, testNow)
	e.seed(n, testNow)
	var count int
	if err := e.db.GetContext(context.Background(), &count, "SELECT COUNT(*) FROM experiments"); err != nil || count != n {
		b.Fatalf("seeded %d experiments (%v), want %d", count, err, n)
	}
	ctx := context.Background()
	viewer := readmodel.Viewer{All: true}
	req := httptest.NewRequest(http.MethodGet, "/", nil)

	var page, baseline time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		page += time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET / = %d", rec.Code)
		}
		start = time.Now()
		if _, err := e.queries.Outcomes(ctx, viewer, readmodel.OutcomeFilter{Bucket: readmodel.BucketMonth}); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(start)
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(per(page), "overview-ms/op")
	b.ReportMetric(per(baseline), "baseline-ms/op")
	b.ReportMetric(float64(page)/float64(baseline), "ratio")
	if mean := page / time.Duration(b.N); mean > overviewBudget {
		b.Errorf("the overview takes %v per load with %d experiments, over the %v budget", mean, n, overviewBudget)
	}
}
