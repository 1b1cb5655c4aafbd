package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

func ids(xs []experiments.Experiment) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

func TestListExperiments(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		s.register(t, "a", "growth", "Checkout copy", day(2026, 1, 1), tags("ux"))
		s.register(t, "b", "growth", "Pricing anchors", day(2026, 1, 2), tags("pricing", "ux"))
		// c and d share a registration time: the id breaks the tie.
		s.register(t, "c", "core", "Search ranking", day(2026, 1, 3), tags("ml"))
		s.register(t, "d", "core", "Onboarding tour", day(2026, 1, 3))
		s.register(t, "e", "core", "100% discount_code", day(2026, 1, 4))
		s.register(t, "f", "growth", "Referral bonus", day(2026, 1, 5))
		s.start(t, "b", "growth", day(2026, 2, 1))
		s.conclude(t, "b", "growth", day(2026, 2, 2), experiments.OutcomeFailed)
		s.start(t, "c", "core", day(2026, 2, 1))
		s.conclude(t, "c", "core", day(2026, 2, 3), experiments.OutcomeSucceeded)
		s.start(t, "f", "growth", day(2026, 2, 1))
		mustApply(t, db, s.evs)

		for _, tc := range []struct {
			name string
			f    readmodel.ExperimentFilter
			want []string
		}{
			{"all, newest first", readmodel.ExperimentFilter{}, []string{"f", "e", "d", "c", "b", "a"}},
			{"team", readmodel.ExperimentFilter{Team: "growth"}, []string{"f", "b", "a"}},
			{"status", readmodel.ExperimentFilter{Status: "running"}, []string{"f"}},
			{"outcome", readmodel.ExperimentFilter{Outcome: "failed"}, []string{"b"}},
			{"tag", readmodel.ExperimentFilter{Tag: "ux"}, []string{"b", "a"}},
			{"team and tag", readmodel.ExperimentFilter{Team: "core", Tag: "ux"}, []string{}},
			{"q in title, any case", readmodel.ExperimentFilter{Q: "PRICING"}, []string{"b"}},
			{"q in hypothesis", readmodel.ExperimentFilter{Q: "if we search"}, []string{"c"}},
			{"q in summary", readmodel.ExperimentFilter{Q: "summary of c"}, []string{"c"}},
			// Text search matches words, not substrings (see search_test.go).
			{"q ignores punctuation, prefix of the last word", readmodel.ExperimentFilter{Q: "100% disc"}, []string{"e"}},
			{"q underscore separates words", readmodel.ExperimentFilter{Q: "discount_code"}, []string{"e"}},
			{"q of punctuation alone does not filter", readmodel.ExperimentFilter{Q: "%"}, []string{"f", "e", "d", "c", "b", "a"}},
			{"limit", readmodel.ExperimentFilter{Limit: 2}, []string{"f", "e"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page, err := q.ListExperiments(ctx, admin, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(page.Items); !slices.Equal(got, tc.want) {
					t.Errorf("ids = %v, want %v", got, tc.want)
				}
			})
		}

		// Walking the pages gives every experiment once, in order.
		var walked []string
		f := readmodel.ExperimentFilter{Limit: 2}
		for pages := 0; ; pages++ {
			page, err := q.ListExperiments(ctx, admin, f)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, ids(page.Items)...)
			if page.NextCursor == "" {
				if pages != 2 {
					t.Errorf("walked %d pages, want 3", pages+1)
				}
				break
			}
			f.Cursor = page.NextCursor
		}
		if want := []string{"f", "e", "d", "c", "b", "a"}; !slices.Equal(walked, want) {
			t.Errorf("paged ids = %v, want %v", walked, want)
		}
		// A cursor keeps the filter's own narrowing.
		page, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Team: "core", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		page, err = q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Team: "core", Limit: 5, Cursor: page.NextCursor})
		if err != nil || !slices.Equal(ids(page.Items), []string{"d", "c"}) || page.NextCursor != "" {
			t.Errorf("second core page = %v (next %q), %v; want [d c]", ids(page.Items), page.NextCursor, err)
		}

		for _, bad := range []string{"!!!", "e30", "bm90IGpzb24"} {
			if _, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Cursor: bad}); !errors.Is(err, readmodel.ErrBadCursor) {
				t.Errorf("cursor %q: err = %v, want ErrBadCursor", bad, err)
			}
		}

		// List items encode empty lists as [], never null.
		page, err = q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Team: "core", Q: "onboarding"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(page)
		for _, want := range []string{`"tags":[]`, `"builds_on":[]`, `"learnings":[]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("page JSON %s lacks %s", b, want)
			}
		}
		if strings.Contains(string(b), "next_cursor") {
			t.Errorf("last page JSON %s has a next_cursor", b)
		}
		b, _ = json.Marshal(readmodel.ExperimentPage{Items: []experiments.Experiment{}})
		if string(b) != `{"items":[]}` {
			t.Errorf("empty page = %s", b)
		}
	})
}

func TestNotFound(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		q := readmodel.NewQueries(readstoretest.Open(t, d))
		for name, err := range map[string]error{
			"GetExperiment":     second(q.GetExperiment(ctx, admin, "nope")),
			"History":           second(q.History(ctx, admin, "nope")),
			"GetInnovation":     second(q.GetInnovation(ctx, admin, "nope")),
			"InnovationLineage": second(q.InnovationLineage(ctx, admin, "nope")),
			"ExperimentLineage": second(q.ExperimentLineage(ctx, admin, "nope")),
		} {
			if !errors.Is(err, experiments.ErrNotFound) {
				t.Errorf("%s(nope) = %v, want ErrNotFound", name, err)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestLearningsLibrary(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		s.run(t, "a", "growth", "Pricing anchors", day(2026, 1, 1), day(2026, 1, 2), day(2026, 1, 20), experiments.OutcomeFailed)
		s.register(t, "b", "core", "Search ranking", day(2026, 1, 3))
		s.learn(t, "a", "growth", "la1", "Customers ignore the anchor price", day(2026, 1, 21), "Pricing", "statistics")
		s.learn(t, "b", "core", "lb1", "Ranking needs fresh signals", day(2026, 1, 22), "ML")
		s.learn(t, "a", "growth", "la2", "Interview before you build", day(2026, 1, 23), "interviewing")
		mustApply(t, db, s.evs)

		learningIDs := func(rs []readmodel.LearningResult) []string {
			out := []string{}
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    readmodel.LearningFilter
			want []string
		}{
			{"all, newest first", readmodel.LearningFilter{}, []string{"la2", "lb1", "la1"}},
			{"q", readmodel.LearningFilter{Q: "ANCHOR"}, []string{"la1"}},
			{"skill ignores case", readmodel.LearningFilter{Skill: "pricing"}, []string{"la1"}},
			{"team", readmodel.LearningFilter{Team: "core"}, []string{"lb1"}},
			{"limit", readmodel.LearningFilter{Limit: 1}, []string{"la2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := q.Learnings(ctx, admin, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(learningIDs(got), tc.want) {
					t.Errorf("ids = %v, want %v", learningIDs(got), tc.want)
				}
			})
		}
		got, err := q.Learnings(ctx, admin, readmodel.LearningFilter{Skill: "Pricing"})
		if err != nil || len(got) != 1 {
			t.Fatalf("Learnings(skill Pricing) = %+v, %v", got, err)
		}
		r := got[0]
		if r.ExperimentID != "a" || r.ExperimentTitle != "Pricing anchors" || r.Team != "growth" || r.Outcome != "failed" ||
			!slices.Equal(r.Skills, []string{"Pricing", "statistics"}) || !r.RecordedAt.Equal(day(2026, 1, 21)) {
			t.Errorf("result = %+v", r)
		}
		b, _ := json.Marshal(r)
		for _, want := range []string{`"id":"la1"`, `"experiment_id":"a"`, `"experiment_title":"Pricing anchors"`, `"team":"growth"`, `"outcome":"failed"`, `"skills":["Pricing","statistics"]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("JSON %s lacks %s", b, want)
			}
		}
	})
}

func TestInnovations(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		s.run(t, "a", "growth", "A", day(2026, 1, 1), day(2026, 1, 2), day(2026, 1, 3), experiments.OutcomeFailed)
		s.innovate(t, "i1", "growth", "One", day(2026, 2, 1), day(2026, 3, 1))
		s.innovate(t, "i2", "core", "Two", day(2026, 2, 2), day(2026, 4, 1))
		s.innovate(t, "i3", "growth", "Three", day(2026, 2, 3), day(2026, 2, 15))
		s.link(t, "i1", "a", "growth", day(2026, 2, 4))
		mustApply(t, db, s.evs)

		all, err := q.ListInnovations(ctx, admin, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range all {
			got = append(got, n.ID)
		}
		if want := []string{"i2", "i1", "i3"}; !slices.Equal(got, want) {
			t.Errorf("ListInnovations ids = %v, want %v (newest launch first)", got, want)
		}
		growth, err := q.ListInnovations(ctx, admin, "growth")
		if err != nil || len(growth) != 2 || growth[0].ID != "i1" || len(growth[0].InformedBy) != 1 ||
			growth[0].InformedBy[0].ExperimentID != "a" || growth[1].InformedBy == nil {
			t.Errorf("ListInnovations(growth) = %+v, %v", growth, err)
		}
		b, _ := json.Marshal(growth[1])
		if !strings.Contains(string(b), `"informed_by":[]`) {
			t.Errorf("JSON %s lacks an empty informed_by", b)
		}
		none, err := q.ListInnovations(ctx, admin, "nobody")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("ListInnovations(nobody) = %#v, %v; want an empty list", none, err)
		}
	})
}
