package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// TestSearchRankOrder pins the ranking search.go documents: a document's
// score is the sum, over the search's terms, of the term's occurrences
// in each field times the field's weight (title 10, hypothesis 4,
// summary 2, learnings 1); ties go to the newest registered.
func TestSearchRankOrder(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		reg := func(id, title, hypothesis string, at int) {
			s.register(t, id, "growth", title, day(2026, 1, at), func(p *events.ExperimentRegisteredV1) { p.Hypothesis = hypothesis })
		}
		reg("title", "Banner test", "nothing here", 1)                           // 10
		reg("hyp2", "Colour test", "banner and banner again", 2)                 // 8
		reg("hyp1", "Layout test", "the banner", 3)                              // 4
		reg("hyp1new", "Layout test two", "one banner", 4)                       // 4, newer
		reg("learned", "Copy test", "words", 5)                                  // 1 each, in two learnings: 2
		reg("both", "Banner banner", "a banner", 6)                              // 24
		reg("summary", "Tooltip test", "words", 7)                               // 2, its summary
		s.learn(t, "learned", "growth", "l1", "the banner", day(2026, 2, 1))     // text 10
		s.learn(t, "learned", "growth", "l2", "banner again", day(2026, 2, 2))   // text 10, newer
		s.learn(t, "hyp1", "growth", "l3", "tooltip", day(2026, 2, 3), "banner") // skills 4
		s.start(t, "summary", "growth", day(2026, 2, 4))
		s.add(t, events.ExperimentConcluded, "summary", "growth", day(2026, 2, 5), events.ExperimentConcludedV1{
			Outcome: experiments.OutcomeFailed, Decision: "stop", Summary: "The banner hid it", ConcludedAt: day(2026, 2, 5)})
		mustApply(t, db, s.evs)
		// summary and learned tie at 2: the newer registered first.
		want := []string{"both", "title", "hyp2", "hyp1new", "hyp1", "summary", "learned"}
		if got := searchIDs(t, q, admin, "banner"); !slices.Equal(got, want) {
			t.Errorf("search banner = %v, want %v", got, want)
		}
		// A learning's text (10) above its skills (4); ties newest first.
		learnings, err := q.Learnings(context.Background(), admin, readmodel.LearningFilter{Q: "banner"})
		var gotL []string
		for _, l := range learnings {
			gotL = append(gotL, l.ID)
		}
		if err != nil || !slices.Equal(gotL, []string{"l2", "l1", "l3"}) {
			t.Errorf("Learnings(banner) = %v, %v; want [l2 l1 l3]", gotL, err)
		}
		// Two terms add up; a prefix counts its best word.
		// Two terms add up (title: 10 + 10, hyp2: 10 + 8, …); a prefix
		// counts its best word in each document.
		want = []string{"title", "hyp2", "hyp1new", "hyp1", "summary", "learned"}
		for _, text := range []string{"banner test", "test ban"} {
			if got := searchIDs(t, q, admin, text); !slices.Equal(got, want) {
				t.Errorf("search %q = %v, want %v", text, got, want)
			}
		}
	})
}

// TestSearchFillsPagesPastHidden has the best matches hidden from the
// viewer: the pages still fill with what it may see, in rank order.
func TestSearchFillsPagesPastHidden(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		for i := range 300 {
			s.register(t, fmt.Sprintf("h%03d", i), "stealth", "Banner secret", day(2026, 1, 1), teamOnly)
		}
		var want []string
		for i := range 7 {
			id := fmt.Sprintf("v%d", i)
			s.register(t, id, "growth", "Plain", day(2026, 1, 1+i), func(p *events.ExperimentRegisteredV1) { p.Hypothesis = "a banner" })
			want = append([]string{id}, want...)
		}
		mustApply(t, db, s.evs)
		outsider := readmodel.Viewer{Teams: []string{"growth"}}
		var walked []string
		f := readmodel.ExperimentFilter{Q: "banner", Limit: 3}
		for range 10 {
			page, err := q.ListExperiments(ctx, outsider, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 3 && page.NextCursor != "" {
				t.Errorf("a page of %d with a next page", len(page.Items))
			}
			walked = append(walked, ids(page.Items)...)
			if f.Cursor = page.NextCursor; f.Cursor == "" {
				break
			}
		}
		if !slices.Equal(walked, want) {
			t.Errorf("paged = %v, want %v", walked, want)
		}
		learnings, err := q.Learnings(ctx, outsider, readmodel.LearningFilter{Q: "banner", Limit: 2})
		if err != nil || len(learnings) != 0 {
			t.Errorf("Learnings = %v, %v; want none", learnings, err)
		}
	})
}

// TestSearchSameOrderOnBothStores runs searches of one, two and three
// terms and prefixes over many overlapping documents on both stores:
// the orders are the same, and walking the pages gives the whole order.
func TestSearchSameOrderOnBothStores(t *testing.T) {
	words := []string{"banner", "bandit", "checkout", "trial", "badge", "search"}
	r := rand.New(rand.NewPCG(1, 2))
	s := &stream{}
	for i := range 400 {
		pick := func(n int) string {
			var out string
			for range n {
				out += words[r.IntN(len(words))] + " "
			}
			return out
		}
		id := fmt.Sprintf("x%03d", i)
		var opts []regOpt
		if i%5 == 0 {
			opts = append(opts, teamOnly)
		}
		s.register(t, id, []string{"growth", "core"}[i%2], pick(2), day(2026, 1, 1+r.IntN(20)), append(opts, func(p *events.ExperimentRegisteredV1) {
			p.Hypothesis = pick(3)
		})...)
		if i%3 == 0 {
			s.learn(t, id, []string{"growth", "core"}[i%2], "l"+id, pick(2), day(2026, 2, 1), words[r.IntN(len(words))])
		}
	}
	texts := []string{"banner", "banner trial", "ba", "checkout ban", "trial search badge", "bandit", "nothing", "search b"}
	viewer := readmodel.Viewer{Teams: []string{"growth"}}
	results := map[readstore.Dialect]map[string][]string{}
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		mustApply(t, db, s.evs, 97)
		q := readmodel.NewQueries(db)
		results[d] = map[string][]string{}
		for _, text := range texts {
			page, err := q.ListExperiments(ctx, viewer, readmodel.ExperimentFilter{Q: text, Limit: readmodel.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			all := ids(page.Items)
			var walked []string
			f := readmodel.ExperimentFilter{Q: text, Limit: 7}
			for {
				page, err := q.ListExperiments(ctx, viewer, f)
				if err != nil {
					t.Fatal(err)
				}
				walked = append(walked, ids(page.Items)...)
				if f.Cursor = page.NextCursor; f.Cursor == "" || len(walked) >= len(all) {
					break
				}
			}
			walked = walked[:min(len(walked), len(all))]
			if !slices.Equal(walked, all) {
				t.Errorf("search %q: paged %v, want %v", text, walked, all)
			}
			ls, err := q.Learnings(ctx, viewer, readmodel.LearningFilter{Q: text, Limit: readmodel.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				all = append(all, l.ID)
			}
			results[d][text] = all
		}
	})
	if pg, ok := results[readstore.Postgres]; ok {
		for _, text := range texts {
			if !slices.Equal(pg[text], results[readstore.SQLite][text]) {
				t.Errorf("search %q: postgres %v, sqlite %v", text, pg[text], results[readstore.SQLite][text])
			}
		}
	}
}

// TestSearchTermsBackfill stands for a read store migrated to the term
// index with documents in it: the index is emptied halfway through a
// stream and marked for backfill, as migration 0012 marks it, and the
// next batch builds it from the documents and the learnings, so that the
// store ends as one that had it all along.
func TestSearchTermsBackfill(t *testing.T) {
	evs := generate(t, 3000, 4, true)
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs, 500)
		db := readstoretest.Open(t, d)
		mustApply(t, db, evs[:1700], 500)
		for _, stmt := range []string{"DELETE FROM experiment_terms", "DELETE FROM learning_terms",
			"INSERT INTO read_model_backfill (item) VALUES ('search_terms')"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		mustApply(t, db, evs[1700:], 500)
		got, want := dump(t, db), dump(t, whole)
		if len(want["experiment_terms"]) == 0 || len(want["learning_terms"]) == 0 {
			t.Fatalf("stream too thin: %d experiment terms, %d learning terms", len(want["experiment_terms"]), len(want["learning_terms"]))
		}
		sameTables(t, got, want, "a store that kept its index all along")
	})
}
