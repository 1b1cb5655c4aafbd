package readmodel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// TestViewerFollowsThePrincipal checks that what a query lists for
// ViewerOf(p), and what Access says of each experiment, agree with the
// domain's rule, p.CanSee, for every role and team.
func TestViewerFollowsThePrincipal(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		ids := []string{"GO", "GT", "PO", "PT"}
		s.register(t, "GO", "growth", "growth open", day(2026, 1, 1))
		s.register(t, "GT", "growth", "growth only", day(2026, 1, 2), teamOnly)
		s.register(t, "PO", "platform", "platform open", day(2026, 1, 3))
		s.register(t, "PT", "platform", "platform only", day(2026, 1, 4), teamOnly)
		mustApply(t, db, s.evs)
		access, err := q.Access(ctx, append(ids, "missing"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := access["missing"]; ok || len(access) != len(ids) {
			t.Fatalf("Access = %v, want the four experiments only", access)
		}

		for name, p := range map[string]*experiments.Principal{
			"local admin":     nil,
			"viewer, no team": {Name: "v", Role: experiments.RoleViewer},
			"growth member":   {Name: "m", Role: experiments.RoleMember, Teams: []string{"growth"}},
			"platform viewer": {Name: "pv", Role: experiments.RoleViewer, Teams: []string{"platform"}},
			"lead":            {Name: "l", Role: experiments.RoleLead},
			"admin":           {Name: "a", Role: experiments.RoleAdmin},
		} {
			t.Run(name, func(t *testing.T) {
				var want []string
				for _, id := range ids {
					if a := access[id]; p.CanSee(a.Team, a.Visibility) {
						want = append(want, id)
					}
				}
				page, err := q.ListExperiments(ctx, readmodel.ViewerOf(p), readmodel.ExperimentFilter{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, x := range page.Items {
					got = append(got, x.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("listed %v, want what CanSee allows: %v", got, want)
				}
			})
		}
	})
}
