package readmodel_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// BenchmarkApplyBatch replays a generated stream of 20,000 events in
// batches of 500, one transaction each with its checkpoint, as the
// projector does: on Postgres when DATABASE_URL is set, else on SQLite.
// Beside it, in the same run and database, it times a baseline: the same
// number of rows written with one plain multi-row INSERT per batch into a
// table with as many columns as the experiments table, the widest the
// projection writes. events/s over baseline_rows/s is the share of raw
// insert speed the projection keeps.
func BenchmarkApplyBatch(b *testing.B) {
	const (
		n         = 20000
		batchSize = 500
		columns   = 32 // the experiments table
	)
	dialect := readstore.SQLite
	if os.Getenv("DATABASE_URL") != "" {
		dialect = readstore.Postgres
	}
	ctx := context.Background()
	db := readstoretest.Open(b, dialect)
	evs := generate(b, n, 7, false)
	p, err := readmodel.NewProjection(dialect)
	if err != nil {
		b.Fatal(err)
	}
	cols := make([]string, columns)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	if _, err := db.ExecContext(context.Background(), "CREATE TABLE baseline ("+strings.Join(cols, " TEXT, ")+" TEXT, PRIMARY KEY (c0))"); err != nil {
		b.Fatal(err)
	}
	insert := db.Rebind("INSERT INTO baseline (" + strings.Join(cols, ", ") + ") VALUES " +
		strings.Repeat("("+strings.Repeat("?, ", columns-1)+"?), ", batchSize-1) + "(" + strings.Repeat("?, ", columns-1) + "?)")

	var projection, baseline time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, t := range append(slices.Concat(readModelTables, searchDocTables), struct{ name, order string }{"baseline", ""}) {
			if t.name != "projector_checkpoint" {
				if _, err := db.ExecContext(ctx, "DELETE FROM "+t.name); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()

		start := time.Now()
		for chunk := range slices.Chunk(evs, batchSize) {
			applyChunk(b, ctx, db, p, chunk)
		}
		projection += time.Since(start)

		b.StopTimer()
		start = time.Now()
		args := make([]any, 0, batchSize*columns)
		for row := 0; row < n; row += batchSize {
			args = args[:0]
			for r := row; r < row+batchSize; r++ {
				for c := range columns {
					args = append(args, fmt.Sprintf("row %d column %d", r, c))
				}
			}
			tx, err := db.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		baseline += time.Since(start)
		b.StartTimer()
	}
	eventsPerSec := float64(n*b.N) / projection.Seconds()
	rowsPerSec := float64(n*b.N) / baseline.Seconds()
	b.ReportMetric(eventsPerSec, "events/s")
	b.ReportMetric(rowsPerSec, "baseline_rows/s")
	b.ReportMetric(eventsPerSec/rowsPerSec, "ratio")
}

func applyChunk(b *testing.B, ctx context.Context, db *readstore.DB, p *readmodel.Projection, chunk []events.Recorded) {
	tx, err := db.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	skipped, err := p.ApplyBatch(ctx, tx, chunk)
	if err != nil {
		b.Fatal(err)
	}
	if len(skipped) > 0 {
		b.Fatalf("skipped %+v", skipped[0])
	}
	if err := readstore.SetPosition(ctx, tx, chunk[len(chunk)-1].Sequence); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOutcomes reads the outcome dashboard of a generated history of
// 10,000 and 30,000 experiments on SQLite, for a lead (who sees
// everything) and a member of one team: from the maintained figures, and,
// as the baseline in the same run and database, by the recount that
// preceded them (readmodel.RecountOutcomes).
func BenchmarkOutcomes(b *testing.B) {
	ctx := context.Background()
	for _, experiments := range []int{10000, 30000} {
		b.Run(fmt.Sprintf("experiments=%d", experiments), func(b *testing.B) {
			db := readstoretest.Open(b, readstore.SQLite)
			p, err := readmodel.NewProjection(db.Dialect)
			if err != nil {
				b.Fatal(err)
			}
			// About 22 events in 100 register an experiment.
			for chunk := range slices.Chunk(generate(b, experiments*100/22, 11, false), 2000) {
				applyChunk(b, ctx, db, p, chunk)
			}
			q := readmodel.NewQueries(db)
			for _, who := range []struct {
				name string
				v    readmodel.Viewer
			}{{"lead", readmodel.Viewer{All: true}}, {"member", readmodel.Viewer{Teams: []string{"growth"}}}} {
				for _, way := range []struct {
					name string
					read func(*readmodel.Queries, context.Context, readmodel.Viewer, readmodel.OutcomeFilter) (readmodel.OutcomeReport, error)
				}{{"maintained", (*readmodel.Queries).Outcomes}, {"recount", readmodel.RecountOutcomes}} {
					b.Run(who.name+"/"+way.name, func(b *testing.B) {
						for b.Loop() {
							if _, err := way.read(q, ctx, who.v, readmodel.OutcomeFilter{}); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		})
	}
}
