package readmodel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// triedScenario has a success that matches a banner text best, a failure
// and a hidden failure that match it too, failures with and without
// learnings, and an abandoned experiment with a learning.
func triedScenario(t testing.TB) *stream {
	s := &stream{}
	reg := func(id, team, title, hypothesis string, at int, opts ...regOpt) {
		s.register(t, id, team, title, day(2026, 1, at), append(opts, func(p *events.ExperimentRegisteredV1) {
			p.Hypothesis = hypothesis
		})...)
	}
	reg("s1", "growth", "Checkout banner for annual plans", "A banner at checkout lifts annual plans", 1)
	reg("f1", "growth", "Discount banner", "A banner lifts annual plans", 2)
	reg("f2", "search", "Checkout banner for annual plans, quietly", "A banner at checkout lifts annual plans", 3, teamOnly)
	reg("i1", "core", "Faster checkout", "The checkout loads faster", 4)
	reg("u1", "core", "Onboarding quiz", "A quiz helps", 5)
	reg("u2", "growth", "Referral mail", "Mails bring friends", 6)
	reg("u3", "search", "Hidden ranking", "Ranking helps", 7, teamOnly)
	reg("a1", "core", "Abandoned survey", "A survey tells", 8)
	s.start(t, "s1", "growth", day(2026, 2, 1))
	s.conclude(t, "s1", "growth", day(2026, 2, 2), experiments.OutcomeSucceeded)
	for i, id := range []string{"f1", "f2", "u1", "u2", "u3"} {
		team := map[string]string{"f1": "growth", "f2": "search", "u1": "core", "u2": "growth", "u3": "search"}[id]
		s.start(t, id, team, day(2026, 2, 1))
		s.conclude(t, id, team, day(2026, 2, 3+i), experiments.OutcomeFailed)
	}
	s.start(t, "i1", "core", day(2026, 2, 1))
	s.conclude(t, "i1", "core", day(2026, 2, 9), experiments.OutcomeInconclusive)
	s.add(t, events.ExperimentAbandoned, "a1", "core", day(2026, 2, 10), events.ExperimentAbandonedV1{Reason: "no time", AbandonedAt: day(2026, 2, 10)})
	s.learn(t, "f1", "growth", "lf1", "Banners go unseen at checkout", day(2026, 2, 11), "ux")
	s.learn(t, "f1", "growth", "lf1b", "Discounts cheapen the plan", day(2026, 2, 12), "pricing")
	s.learn(t, "f2", "search", "lf2", "A quiet banner is still unseen", day(2026, 2, 12), "ux")
	s.learn(t, "s1", "growth", "ls1", "Anchoring on the annual total works", day(2026, 2, 13), "pricing")
	s.learn(t, "a1", "core", "la1", "Surveys need an owner", day(2026, 2, 14), "research")
	return s
}

// triedQueries returns queries over a read store of d holding
// triedScenario.
func triedQueries(t *testing.T, d readstore.Dialect) *readmodel.Queries {
	t.Helper()
	db := readstoretest.Open(t, d)
	mustApply(t, db, triedScenario(t).evs)
	return readmodel.NewQueries(db)
}

func TestTriedBeforePutsFailuresFirst(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx, q := context.Background(), triedQueries(t, d)
		growth := readmodel.Viewer{Teams: []string{"growth"}}
		text := "A banner at checkout for annual plans"
		for _, tc := range []struct {
			name  string
			v     readmodel.Viewer
			limit int
		}{{"member", growth, 10}, {"admin", admin, 10}, {"member, limit 1", growth, 1}, {"admin, limit 2", admin, 2}} {
			similar, err := q.SimilarExperiments(ctx, tc.v, text, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			tried, err := q.TriedBefore(ctx, tc.v, text, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			// The same experiments as by rank, failed ones moved first,
			// each group in rank order.
			var want, rest []string
			for _, x := range similar {
				if x.Outcome == experiments.OutcomeFailed {
					want = append(want, x.ID)
				} else {
					rest = append(rest, x.ID)
				}
			}
			want = append(want, rest...)
			if got := ids(tried.Items); !slices.Equal(got, want) {
				t.Errorf("%s: tried before = %v, want %v (by rank %v)", tc.name, got, want, ids(similar))
			}
		}
		tried, err := q.TriedBefore(ctx, growth, text, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(tried.Items) < 3 || tried.Items[0].ID != "f1" || slices.Contains(ids(tried.Items), "f2") {
			t.Fatalf("member's tried before = %v, want f1 first and never the hidden f2", ids(tried.Items))
		}
		if l := tried.Items[0].Learnings; len(l) != 2 || l[0].Text != "Banners go unseen at checkout" {
			t.Errorf("f1's learnings = %+v, want both, in recorded order", l)
		}
		for _, x := range tried.Items {
			if x.Learnings == nil {
				t.Errorf("%s has nil learnings, want a list", x.ID)
			}
		}
		if all, _ := q.TriedBefore(ctx, admin, text, 10); !slices.Contains(ids(all.Items), "f2") {
			t.Errorf("admin's tried before = %v, want the hidden f2 too", ids(all.Items))
		}
		if none, err := q.TriedBefore(ctx, admin, "the and of", 10); err != nil || len(none.Items) != 0 || none.Items == nil {
			t.Errorf("tried before a text of stop words = %+v, %v; want an empty list", none, err)
		}
	})
}

func TestLearningsByOutcome(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx, q := context.Background(), triedQueries(t, d)
		growth := readmodel.Viewer{Teams: []string{"growth"}}
		learned := func(v readmodel.Viewer, f readmodel.LearningFilter) []string {
			t.Helper()
			ls, err := q.Learnings(ctx, v, f)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, l := range ls {
				out = append(out, l.ID)
				if f.Outcome == experiments.StatusAbandoned && l.Status != experiments.StatusAbandoned ||
					f.Outcome != experiments.StatusAbandoned && f.Outcome != "" && l.Outcome != f.Outcome {
					t.Errorf("learning %s of a %s %s experiment, want %s", l.ID, l.Status, l.Outcome, f.Outcome)
				}
			}
			return out
		}
		for _, tc := range []struct {
			v    readmodel.Viewer
			f    readmodel.LearningFilter
			want []string
		}{
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeFailed}, []string{"lf1b", "lf1"}},
			{admin, readmodel.LearningFilter{Outcome: experiments.OutcomeFailed}, []string{"lf2", "lf1b", "lf1"}},
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeSucceeded}, []string{"ls1"}},
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeInconclusive}, []string{}},
			{growth, readmodel.LearningFilter{Outcome: experiments.StatusAbandoned}, []string{"la1"}},
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeFailed, Q: "unseen"}, []string{"lf1"}},
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeFailed, Skill: "PRICING"}, []string{"lf1b"}},
			{growth, readmodel.LearningFilter{Outcome: experiments.OutcomeFailed, Team: "core"}, []string{}},
		} {
			if got := learned(tc.v, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("learnings %+v = %v, want %v", tc.f, got, tc.want)
			}
		}
	})
}

func TestUnlearnedFailures(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx, q := context.Background(), triedQueries(t, d)
		growth := readmodel.Viewer{Teams: []string{"growth"}}
		for _, tc := range []struct {
			v     readmodel.Viewer
			team  string
			limit int
			want  []string
		}{
			{growth, "", 0, []string{"u2", "u1"}},
			{admin, "", 0, []string{"u3", "u2", "u1"}},
			{admin, "", 2, []string{"u3", "u2"}},
			{admin, "core", 0, []string{"u1"}},
			{growth, "search", 0, []string{}},
		} {
			xs, err := q.UnlearnedFailures(ctx, tc.v, tc.team, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(xs); !slices.Equal(got, tc.want) {
				t.Errorf("unlearned failures (team %q, limit %d) = %v, want %v", tc.team, tc.limit, got, tc.want)
			}
		}
	})
}
