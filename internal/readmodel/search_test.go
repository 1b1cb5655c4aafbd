package readmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"unicode"

	_ "modernc.org/sqlite"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// searchDocTables are the tables of search documents the projection
// writes, beside readModelTables.
var searchDocTables = []struct{ name, order string }{
	{"experiment_search", "experiment_id"},
}

// TestSQLiteDriverHasFTS5 checks what the SQLite migration relies on: the
// pure-Go driver is built with FTS5 and its unicode61 tokenizer takes the
// options the migration gives it.
func TestSQLiteDriverHasFTS5(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/fts.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE VIRTUAL TABLE f USING fts5(body, tokenize = "unicode61 remove_diacritics 0 categories 'L* M* Nd'")`,
		`INSERT INTO f (body) VALUES ('Café au lait, self-serve')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for match, want := range map[string]int{`"café"`: 1, `"cafe"`: 0, `"self" "serve"`: 1, `"la"*`: 1} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM f WHERE f MATCH ?", match).Scan(&n); err != nil || n != want {
			t.Errorf("MATCH %s = %d, %v; want %d", match, n, err, want)
		}
	}
}

// searchScenario has experiments whose words overlap in known ways, and
// the hidden experiment of hiddenScenario's kind.
func searchScenario(t testing.TB) *stream {
	s := &stream{}
	reg := func(id, team, title, hypothesis string, at int, opts ...regOpt) {
		s.register(t, id, team, title, day(2026, 1, at), append(opts, func(p *events.ExperimentRegisteredV1) {
			p.Hypothesis = hypothesis
		})...)
	}
	reg("a", "growth", "Pricing page redesign", "A clearer pricing page lifts self-serve upgrades", 1)
	reg("b", "growth", "Checkout copy", "Shorter copy on the checkout increases conversion", 2)
	reg("c", "core", "Onboarding tour", "A guided tour makes new users activate; pricing is not shown", 3)
	reg("d", "core", "Café menu in the app", "Users order more when the café menu is one tap away", 4)
	reg("e", "search", "検索 ranking", "Fresh signals improve ranking of results (v2.5)", 5)
	reg("h", "stealth", "Pricing moonshot", "Secret pricing experiment", 6, teamOnly)
	s.start(t, "a", "growth", day(2026, 2, 1))
	s.conclude(t, "a", "growth", day(2026, 2, 10), experiments.OutcomeFailed)
	s.learn(t, "a", "growth", "la", "Annual plans confused visitors", day(2026, 2, 11), "pricing")
	s.learn(t, "b", "growth", "lb", "Self serve buyers skim the checkout", day(2026, 2, 12), "copywriting")
	s.learn(t, "h", "stealth", "lh", "Pricing secrets stay secret", day(2026, 2, 13), "secrecy")
	return s
}

func searchIDs(tb testing.TB, q *readmodel.Queries, v readmodel.Viewer, text string) []string {
	tb.Helper()
	page, err := q.ListExperiments(context.Background(), v, readmodel.ExperimentFilter{Q: text})
	if err != nil {
		tb.Fatalf("ListExperiments(q=%q): %v", text, err)
	}
	return ids(page.Items)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSearchSameOnBothStores runs the same searches on both stores and
// expects the same results: the semantics search.go documents.
func TestSearchSameOnBothStores(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, searchScenario(t).evs)
		outsider := readmodel.Viewer{Teams: []string{"growth"}}
		for _, tc := range []struct {
			name, q string
			v       readmodel.Viewer
			want    []string // as a set
		}{
			{"one word, any case", "CHECKOUT", admin, []string{"b"}},
			{"every word must match", "pricing page", admin, []string{"a"}},
			{"words in different fields", "onboarding users", admin, []string{"c"}},
			{"a learning's text", "annual plans", admin, []string{"a"}},
			{"the summary", "summary", admin, []string{"a"}},
			{"the last word is a prefix", "pricing pa", admin, []string{"a"}},
			{"only the last word is a prefix", "pri page", admin, []string{}},
			{"a one-letter last word is whole", "pricing a", admin, []string{"a", "c"}},
			{"hyphens separate words", "self-serve", admin, []string{"a", "b"}},
			{"punctuation is ignored", "…checkout!!! (copy)", admin, []string{"b"}},
			{"diacritics are kept", "café", admin, []string{"d"}},
			{"no diacritic is no match", "cafe", admin, []string{}},
			{"non-Latin words", "検索", admin, []string{"e"}},
			{"digits are words", "v2 5", admin, []string{"e"}},
			{"no stemming", "increase conversion", admin, []string{}},
			{"hidden experiments are never found", "pricing", outsider, []string{"a", "c"}},
			{"leads find them", "pricing", admin, []string{"a", "c", "h"}},
			{"a hidden learning is not found either", "secrets", outsider, []string{}},
			{"FTS5 operators are words", "pricing AND NOT page", admin, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := sorted(searchIDs(t, q, tc.v, tc.q)); !slices.Equal(got, sorted(tc.want)) {
					t.Errorf("search %q = %v, want %v", tc.q, got, tc.want)
				}
			})
		}

		// A match in the title ranks above one in the hypothesis.
		if got := searchIDs(t, q, admin, "pricing"); !slices.Equal(got, []string{"h", "a", "c"}) {
			t.Errorf("ranked search = %v, want [h a c]", got)
		}

		learnings, err := q.Learnings(context.Background(), outsider, readmodel.LearningFilter{Q: "self serve"})
		if err != nil || len(learnings) != 1 || learnings[0].ID != "lb" {
			t.Errorf("Learnings(self serve) = %+v, %v; want lb", learnings, err)
		}
		// Skills are searched too, below the text.
		learnings, err = q.Learnings(context.Background(), admin, readmodel.LearningFilter{Q: "pricing"})
		if err != nil || len(learnings) != 2 || learnings[0].ID != "lh" || learnings[1].ID != "la" {
			t.Errorf("Learnings(pricing) = %+v, %v; want lh then la", learnings, err)
		}
	})
}

// TestSearchPagesByRank walks a ranked search page by page.
func TestSearchPagesByRank(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		// Equal documents but for their ids: the ranks tie, and the
		// newest registered comes first.
		for i, id := range []string{"p1", "p2", "p3", "p4", "p5"} {
			s.register(t, id, "growth", "Pricing test", day(2026, 1, 1+i))
		}
		s.register(t, "top", "growth", "Pricing pricing pricing", day(2026, 1, 1))
		mustApply(t, db, s.evs)
		want := []string{"top", "p5", "p4", "p3", "p2", "p1"}
		if got := searchIDs(t, q, admin, "pricing"); !slices.Equal(got, want) {
			t.Fatalf("search = %v, want %v", got, want)
		}
		var walked []string
		f := readmodel.ExperimentFilter{Q: "pricing", Limit: 2}
		for range 10 {
			page, err := q.ListExperiments(ctx, admin, f)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, ids(page.Items)...)
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		if !slices.Equal(walked, want) {
			t.Errorf("paged = %v, want %v", walked, want)
		}

		// A list's cursor does not continue a search.
		page, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Q: "pricing", Cursor: page.NextCursor})
		if !errors.Is(err, readmodel.ErrBadCursor) {
			t.Errorf("search with a list cursor: err = %v, want ErrBadCursor", err)
		}
		// Nor a search's a list.
		page, err = q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Q: "pricing", Limit: 1})
		if err != nil || page.NextCursor == "" {
			t.Fatalf("first search page: %v, %v", page, err)
		}
		if _, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Cursor: page.NextCursor}); !errors.Is(err, readmodel.ErrBadCursor) {
			t.Errorf("list with a search cursor: err = %v, want ErrBadCursor", err)
		}
		for _, bad := range []string{"~", "NaN~x", "Inf~x", "1~!!!", "x~" + page.NextCursor} {
			if _, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Q: "pricing", Cursor: bad}); !errors.Is(err, readmodel.ErrBadCursor) {
				t.Errorf("search cursor %q: err = %v, want ErrBadCursor", bad, err)
			}
		}
	})
}

// TestSearchFollowsChanges checks that documents follow every change of
// the text, whatever the batches.
func TestSearchFollowsChanges(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		s := &stream{}
		s.register(t, "a", "growth", "Banner colour", day(2026, 1, 1))
		title, hyp := "Banner placement", "if we move the banner then clicks rise"
		s.add(t, events.ExperimentRevised, "a", "growth", day(2026, 1, 2), events.ExperimentRevisedV1{Title: &title, Hypothesis: &hyp})
		s.start(t, "a", "growth", day(2026, 1, 3))
		s.conclude(t, "a", "growth", day(2026, 1, 4), experiments.OutcomeFailed)
		s.learn(t, "a", "growth", "l1", "Nobody scrolls", day(2026, 1, 5))
		s.learn(t, "a", "growth", "l2", "Mobile users differ", day(2026, 1, 6))
		s.register(t, "b", "growth", "Banner copy", day(2026, 1, 7))
		cases := map[string][]string{
			"colour": {}, "placement": {"a"}, "clicks": {"a"}, "summary": {"a"},
			"scrolls": {"a"}, "mobile differ": {"a"}, "banner": {"b", "a"},
		}
		for _, sizes := range [][]int{nil, {1, 1, 1, 1, 1, 1, 1}, {2, 3}} {
			db := readstoretest.Open(t, d)
			mustApply(t, db, s.evs, sizes...)
			q := readmodel.NewQueries(db)
			for text, want := range cases {
				if got := sorted(searchIDs(t, q, admin, text)); !slices.Equal(got, sorted(want)) {
					t.Errorf("batches %v: search %q = %v, want %v", sizes, text, got, want)
				}
			}
			if n := count(t, db, "experiment_search"); n != 2 {
				t.Errorf("batches %v: %d experiment documents, want 2", sizes, n)
			}
		}
	})
}

// TestSearchBackfill drops the search tables of a projected store and
// runs the search migration again: the backfilled documents find what
// the projected ones found.
func TestSearchBackfill(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		mustApply(t, db, searchScenario(t).evs)
		q := readmodel.NewQueries(db)
		queries := []string{"pricing", "self serve", "annual plans", "café", "検索", "v2 5", "summary", "onboard"}
		before := map[string][]string{}
		for _, text := range queries {
			before[text] = searchIDs(t, q, admin, text)
		}
		// Migration 0012 dropped the learnings' documents and builds the
		// term index from the documents and the learnings, at the next
		// batch.
		drop := []string{"DROP TABLE experiment_fts"}
		if d == readstore.Postgres {
			drop = nil
		}
		drop = append(drop, "DROP TABLE experiment_search", "DROP TABLE experiment_terms", "DROP TABLE learning_terms",
			"DELETE FROM schema_migrations WHERE version IN (5, 12)")
		for _, stmt := range drop {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		s := searchScenario(t)
		n := len(s.evs)
		s.learn(t, "c", "core", "lc", "Tooltips beat tours", day(2026, 3, 1))
		mustApply(t, db, s.evs[n:])
		for _, text := range queries {
			if got := searchIDs(t, q, admin, text); !slices.Equal(sorted(got), sorted(before[text])) {
				t.Errorf("after backfill, search %q = %v, want %v", text, got, before[text])
			}
		}
		// The backfilled documents go on being maintained.
		if got := searchIDs(t, q, admin, "tooltips onboarding"); !slices.Equal(got, []string{"c"}) {
			t.Errorf("search after a new learning = %v, want [c]", got)
		}
	})
}

func count(tb testing.TB, db *readstore.DB, table string) int {
	tb.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, "SELECT count(*) FROM "+table); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestSimilarExperiments(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, searchScenario(t).evs)
		outsider := readmodel.Viewer{Teams: []string{"growth"}}
		similar := func(v readmodel.Viewer, text string, limit int) []string {
			t.Helper()
			xs, err := q.SimilarExperiments(ctx, v, text, limit)
			if err != nil {
				t.Fatalf("SimilarExperiments(%q): %v", text, err)
			}
			return ids(xs)
		}
		text := "Pricing page for self-serve checkout"
		// a has pricing, page, self, serve; b checkout, self, serve; c
		// pricing only. The hidden h, with pricing twice, is not shown.
		if got := similar(outsider, text, 0); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("similar = %v, want [a b c]", got)
		}
		if got := similar(admin, text, 0); !slices.Contains(got, "h") || got[0] != "a" {
			t.Errorf("similar as admin = %v, want a first and h among them", got)
		}
		if got := similar(outsider, text, 1); !slices.Equal(got, []string{"a"}) {
			t.Errorf("similar, limit 1 = %v, want [a]", got)
		}
		for _, empty := range []string{"", "the and of we", "!!! ??? \"*\" NEAR( ^", "a b c"} {
			if got := similar(admin, empty, 0); len(got) != 0 {
				t.Errorf("similar to %q = %v, want none", empty, got)
			}
		}
	})
}

// badSearches are texts that are operators or syntax to FTS5 or tsquery.
var badSearches = []string{
	"", " ", "\"", "\"\"", "'", "''", "*", "-", "+", "^", ":", "(", ")", "()", "!", "&", "|", "<->", ":*",
	"AND", "OR", "NOT", "NEAR", "NEAR(a b)", "a OR", "title:x", "{title}: x", "\\", "\x00", "\xff\xfe",
	"%", "_", "--", ";", "'; DROP TABLE experiments; --", "\"unterminated", "a\"b", "a'b", "'a':*",
	"\u0301", "e\u0301", "\u0301\u0301 x", "ǅ", "١٢٣", "x\u200bx", "🙂", "\ufeff", "ß ẞ",
}

// TestSearchBadInput runs texts that mean something to the stores' query
// languages: none is an error, and one without words does not filter.
func TestSearchBadInput(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, searchScenario(t).evs)
		all := searchIDs(t, q, admin, "")
		for _, text := range badSearches {
			got := searchIDs(t, q, admin, text)
			if len(allWords(text)) == 0 && !slices.Equal(got, all) {
				t.Errorf("search %q = %v, want every experiment %v", text, got, all)
			}
			if _, err := q.Learnings(ctx, admin, readmodel.LearningFilter{Q: text}); err != nil {
				t.Errorf("Learnings(q=%q): %v", text, err)
			}
			if _, err := q.SimilarExperiments(ctx, admin, text, 5); err != nil {
				t.Errorf("SimilarExperiments(%q): %v", text, err)
			}
		}
	})
}

// allWords returns the characters of text that the tokenizer keeps in
// words: letters, marks and decimal digits.
func allWords(text string) []rune {
	var out []rune
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) {
			out = append(out, r)
		}
	}
	return out
}

// FuzzSearchText checks, on SQLite, that no text makes a search fail.
func FuzzSearchText(f *testing.F) {
	for _, s := range badSearches {
		f.Add(s)
	}
	f.Add("pricing pa")
	f.Add("検索 café")
	db := readstoretest.Open(f, readstore.SQLite)
	mustApply(f, db, searchScenario(f).evs)
	q := readmodel.NewQueries(db)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, text string) {
		if _, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Q: text, Limit: 5}); err != nil {
			t.Errorf("ListExperiments(q=%q): %v", text, err)
		}
		if _, err := q.Learnings(ctx, admin, readmodel.LearningFilter{Q: text, Limit: 5}); err != nil {
			t.Errorf("Learnings(q=%q): %v", text, err)
		}
		if _, err := q.SimilarExperiments(ctx, admin, text, 5); err != nil {
			t.Errorf("SimilarExperiments(%q): %v", text, err)
		}
	})
}
