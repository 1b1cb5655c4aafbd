package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// BenchmarkSearch times a text search of 30,000 experiments, for a word
// or a word and a prefix out of 2,000, through the index
// (ListExperiments) and, as the baseline in the same run and database,
// through the LIKE scan that served it before: on SQLite, and on
// Postgres too when DATABASE_URL is set.
func BenchmarkSearch(b *testing.B) {
	const n = 30000
	r := rand.New(rand.NewPCG(3, 5))
	syllables := []string{"ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "fa", "gu", "ho", "ji", "ve", "zo"}
	vocab := make([]string, 2000)
	for i := range vocab {
		vocab[i] = syllables[i%15] + syllables[i/15%15] + syllables[i/225%15]
	}
	words := func(k int) string {
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(ws, " ")
	}
	s := &stream{}
	at := day(2024, 1, 1)
	for i := range n {
		id := fmt.Sprintf("x%06d", i)
		s.add(b, events.ExperimentRegistered, id, "growth", at.Add(time.Duration(i)*time.Minute), events.ExperimentRegisteredV1{
			Team: "growth", Title: words(4), Kind: "ab_test", Hypothesis: "if we " + words(12), Visibility: "org",
		})
		if i%3 == 0 {
			s.learn(b, id, "growth", "l"+id, words(10), at.Add(time.Duration(i)*time.Minute))
		}
	}
	texts := make([]string, 64)
	for i := range texts {
		if i%2 == 0 {
			texts[i] = vocab[r.IntN(len(vocab))]
		} else {
			texts[i] = vocab[r.IntN(len(vocab))] + " " + vocab[r.IntN(len(vocab))][:4]
		}
	}
	for _, d := range readstoretest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			if d == readstore.Postgres && os.Getenv("DATABASE_URL") == "" {
				b.Skip("DATABASE_URL is not set")
			}
			db := readstoretest.Open(b, d)
			mustApply(b, db, s.evs, repeat(2000, len(s.evs)/2000+1)...)
			if d == readstore.Postgres {
				if _, err := db.ExecContext(context.Background(), "VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			benchmarkSearch(b, db, texts)
		})
	}
}

func benchmarkSearch(b *testing.B, db *readstore.DB, texts []string) {
	q := readmodel.NewQueries(db)
	ctx := context.Background()
	b.Run("index", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Q: texts[i%len(texts)]}); err != nil {
				b.Fatal(err)
			}
		}
	})
	like := db.Rebind(`SELECT * FROM experiments e WHERE (LOWER(e.title) LIKE ? ESCAPE '\'
		OR LOWER(e.hypothesis) LIKE ? ESCAPE '\' OR LOWER(e.summary) LIKE ? ESCAPE '\')
		ORDER BY e.registered_at DESC, e.id DESC LIMIT 51`)
	b.Run("like_baseline", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			p := "%" + strings.ToLower(texts[i%len(texts)]) + "%"
			rows, err := db.QueryContext(ctx, like, p, p, p)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
