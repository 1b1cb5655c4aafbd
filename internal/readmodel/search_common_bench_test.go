package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/history"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// BenchmarkSearchCommonWords times searches whose words match a large
// share of the experiments, as in the bench's generated history: a
// vocabulary of 16 words, two in each title, so that one word matches
// about an eighth of them and ranks against every other match. It is
// what the term index's top-k is for: its time should not follow the
// number of matches (SEARCH_BENCH_N experiments, 20,000 by default).
func BenchmarkSearchCommonWords(b *testing.B) {
	n := 20000
	if s := os.Getenv("SEARCH_BENCH_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	words := history.Words()
	r := rand.New(rand.NewPCG(7, 11))
	s := &stream{}
	at := day(2024, 1, 1)
	for i := range n {
		id := fmt.Sprintf("x%06d", i)
		w1, w2 := words[r.IntN(len(words))], words[r.IntN(len(words))]
		vis := "org"
		if i%12 == 0 {
			vis = "team"
		}
		s.add(b, events.ExperimentRegistered, id, "growth", at.Add(time.Duration(i)*time.Minute), events.ExperimentRegisteredV1{
			Team: "growth", Title: fmt.Sprintf("%s %s experiment %d", w1, w2, i), Kind: "ab_test", Visibility: vis,
			Hypothesis: fmt.Sprintf("If we change the %s, more people will use the %s", w1, w2),
		})
		if i%2 == 0 {
			s.learn(b, id, "growth", "l"+id, "People ignored the "+words[r.IntN(len(words))], at.Add(time.Duration(i)*time.Minute))
		}
	}
	texts := []string{"banner", "checkout trial", "pricing wi", "people", "experiment banner", "ba"}
	outsider := readmodel.Viewer{Teams: []string{"core"}}
	for _, d := range readstoretest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			if d == readstore.Postgres && os.Getenv("DATABASE_URL") == "" {
				b.Skip("DATABASE_URL is not set")
			}
			db := readstoretest.Open(b, d)
			mustApply(b, db, s.evs, repeat(5000, len(s.evs)/5000+1)...)
			if d == readstore.Postgres {
				if _, err := db.ExecContext(context.Background(), "VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			q := readmodel.NewQueries(db)
			ctx := context.Background()
			for _, text := range texts {
				b.Run("experiments/"+text, func(b *testing.B) {
					for b.Loop() {
						if _, err := q.ListExperiments(ctx, outsider, readmodel.ExperimentFilter{Q: text, Limit: 50}); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("learnings/"+text, func(b *testing.B) {
					for b.Loop() {
						if _, err := q.Learnings(ctx, outsider, readmodel.LearningFilter{Q: text}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
