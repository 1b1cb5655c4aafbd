package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// issueScenario is the story the product exists for: A failed and taught
// two things; B built on A and failed too; C built on B and succeeded; D
// builds on C and is still planned; innovation I was informed by C. E is
// another team's failure with a learning that nothing uses yet, and F a
// failure that recorded no learning.
func issueScenario(t *testing.T) *stream {
	s := &stream{}
	s.run(t, "A", "growth", "Annual plan discount", day(2026, 1, 2), day(2026, 1, 3), day(2026, 1, 20), experiments.OutcomeFailed)
	s.learn(t, "A", "growth", "a1", "Discounts anchor buyers on price", day(2026, 1, 21), "pricing")
	s.learn(t, "A", "growth", "a2", "Annual buyers want invoices", day(2026, 1, 22), "interviewing")
	s.run(t, "B", "growth", "Invoice billing", day(2026, 1, 23), day(2026, 1, 24), day(2026, 2, 10), experiments.OutcomeFailed,
		buildsOn("A"))
	s.learn(t, "B", "growth", "b1", "Invoices need a sales touch", day(2026, 2, 11))
	s.run(t, "C", "growth", "Sales-assisted annual", day(2026, 2, 11), day(2026, 2, 12), day(2026, 3, 1), experiments.OutcomeSucceeded,
		buildsOn("B"))
	s.register(t, "D", "growth", "Self-serve invoices", day(2026, 3, 2), buildsOn("C"))
	s.innovate(t, "I", "growth", "Annual plans for teams", day(2026, 3, 5), day(2026, 3, 15))
	s.link(t, "I", "C", "growth", day(2026, 3, 6))
	s.run(t, "E", "core", "Chatbot onboarding", day(2026, 1, 5), day(2026, 1, 6), day(2026, 1, 25), experiments.OutcomeFailed)
	s.learn(t, "E", "core", "e1", "Users skip bots", day(2026, 1, 26), "ux")
	s.run(t, "F", "core", "Dark mode", day(2026, 1, 5), day(2026, 1, 6), day(2026, 1, 27), experiments.OutcomeFailed)
	return s
}

func nodeIDs(ns []readmodel.LineageNode) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func TestIssueScenario(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, issueScenario(t).evs)

		il, err := q.InnovationLineage(ctx, admin, "I")
		if err != nil {
			t.Fatal(err)
		}
		wantUp := []readmodel.LineageNode{
			{ID: "C", Title: "Sales-assisted annual", Team: "growth", Status: "concluded", Outcome: "succeeded", Depth: 1, BuildsOn: []string{"B"}},
			{ID: "B", Title: "Invoice billing", Team: "growth", Status: "concluded", Outcome: "failed", Failed: true, Depth: 2, BuildsOn: []string{"A"}},
			{ID: "A", Title: "Annual plan discount", Team: "growth", Status: "concluded", Outcome: "failed", Failed: true, Depth: 3, BuildsOn: []string{}},
		}
		if !reflect.DeepEqual(il.Upstream, wantUp) {
			t.Errorf("InnovationLineage(I).Upstream =\n%+v\nwant\n%+v", il.Upstream, wantUp)
		}
		if il.Innovation.ID != "I" || len(il.Innovation.InformedBy) != 1 || il.Innovation.InformedBy[0].ExperimentID != "C" {
			t.Errorf("InnovationLineage(I).Innovation = %+v", il.Innovation)
		}

		el, err := q.ExperimentLineage(ctx, admin, "A")
		if err != nil {
			t.Fatal(err)
		}
		if el.Experiment.ID != "A" || el.Experiment.Depth != 0 || !el.Experiment.Failed {
			t.Errorf("ExperimentLineage(A).Experiment = %+v", el.Experiment)
		}
		if got := nodeIDs(el.Downstream); !slices.Equal(got, []string{"B", "C", "D"}) {
			t.Errorf("ExperimentLineage(A).Downstream = %v, want [B C D]", got)
		}
		var depths []int
		for _, n := range el.Downstream {
			depths = append(depths, n.Depth)
		}
		if !slices.Equal(depths, []int{1, 2, 3}) {
			t.Errorf("downstream depths = %v, want [1 2 3]", depths)
		}
		wantInn := []readmodel.InnovationRef{{ID: "I", Title: "Annual plans for teams", Team: "growth", LaunchedAt: day(2026, 3, 15), Via: "C"}}
		if !reflect.DeepEqual(el.Innovations, wantInn) {
			t.Errorf("ExperimentLineage(A).Innovations = %+v, want %+v", el.Innovations, wantInn)
		}
		if el, err := q.ExperimentLineage(ctx, admin, "D"); err != nil || len(el.Downstream) != 0 || len(el.Innovations) != 0 {
			t.Errorf("ExperimentLineage(D) = %+v, %v; want nothing downstream", el, err)
		} else if b, _ := json.Marshal(el); !strings.Contains(string(b), `"downstream":[]`) || !strings.Contains(string(b), `"innovations":[]`) {
			t.Errorf("ExperimentLineage(D) JSON = %s", b)
		}

		rep, err := q.Outcomes(ctx, admin, readmodel.OutcomeFilter{Team: "growth", Bucket: readmodel.BucketQuarter})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rep.Periods {
			if m.Period == "2026-Q1" && m.Team == "growth" {
				if m.Failed != 2 || m.FailureYield == nil || *m.FailureYield != 1.0 {
					t.Errorf("growth 2026-Q1: failed %d, yield %v; want 2, 1.0", m.Failed, fmtPtr(m.FailureYield))
				}
			}
		}

		backlog, err := wholeBacklog(t, q, admin, readmodel.BacklogFilter{Unlinked: true}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(backlog) != 1 || backlog[0].ID != "E" || backlog[0].FedInnovations != 0 || len(backlog[0].Learnings) != 1 ||
			backlog[0].Learnings[0].Text != "Users skip bots" || !backlog[0].ConcludedAt.Equal(day(2026, 1, 25)) {
			t.Errorf("FailureBacklog(unlinked) = %+v, want just E", backlog)
		}
		all, err := wholeBacklog(t, q, admin, readmodel.BacklogFilter{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range all {
			got = append(got, b.ID)
		}
		if !slices.Equal(got, []string{"A", "E", "B"}) {
			t.Errorf("FailureBacklog() ids = %v, want [A E B] (oldest conclusion first; F has no learning)", got)
		}
		if a := all[0]; a.FedInnovations != 1 || len(a.Learnings) != 2 || a.Learnings[0].ID != "a1" || a.Learnings[1].ID != "a2" {
			t.Errorf("backlog A = %+v, want 1 fed innovation and learnings a1, a2", a)
		}
		growth, err := q.FailureBacklog(ctx, admin, readmodel.BacklogFilter{Team: "growth", Unlinked: true})
		if err != nil || growth.Items == nil || len(growth.Items) != 0 || growth.NextCursor != "" {
			t.Errorf("FailureBacklog(growth, unlinked) = %#v, %v; want empty", growth, err)
		}
	})
}

// TestLineageAfterUnlink checks that only active links feed lineages.
func TestLineageAfterUnlink(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := issueScenario(t)
		s.unlink(t, "I", "C", "growth", day(2026, 3, 20))
		mustApply(t, db, s.evs)
		il, err := q.InnovationLineage(ctx, admin, "I")
		if err != nil || len(il.Upstream) != 0 {
			t.Errorf("InnovationLineage(I) after unlink = %+v, %v; want no upstream", il, err)
		}
		backlog, err := wholeBacklog(t, q, admin, readmodel.BacklogFilter{Unlinked: true}, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range backlog {
			got = append(got, b.ID)
		}
		if !slices.Equal(got, []string{"A", "E", "B"}) {
			t.Errorf("FailureBacklog(unlinked) after unlink = %v, want [A E B]", got)
		}
	})
}

// TestBacklogCursors checks that the backlog pages from a cursor it gave
// out, refuses one it did not (a list's, or garbage) as a bad cursor,
// and that a page beyond the last is empty.
func TestBacklogCursors(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, issueScenario(t).evs)
		first, err := q.FailureBacklog(ctx, admin, readmodel.BacklogFilter{Limit: 2})
		if err != nil || len(first.Items) != 2 || first.NextCursor == "" {
			t.Fatalf("first page of 2 = %+v, %v; want 2 items and a cursor", first, err)
		}
		rest, err := q.FailureBacklog(ctx, admin, readmodel.BacklogFilter{Limit: 2, Cursor: first.NextCursor})
		if err != nil || len(rest.Items) != 1 || rest.Items[0].ID != "B" || rest.NextCursor != "" {
			t.Errorf("second page = %+v, %v; want just B, and no cursor", rest, err)
		}
		list, err := q.ListExperiments(ctx, admin, readmodel.ExperimentFilter{Limit: 1})
		if err != nil || list.NextCursor == "" {
			t.Fatalf("ListExperiments(limit 1) = %+v, %v; want a cursor", list, err)
		}
		for _, c := range []string{list.NextCursor, "b." + list.NextCursor[:4], "zzz", "b."} {
			if _, err := q.FailureBacklog(ctx, admin, readmodel.BacklogFilter{Cursor: c}); !errors.Is(err, readmodel.ErrBadCursor) {
				t.Errorf("FailureBacklog(cursor %q) = %v, want ErrBadCursor", c, err)
			}
		}
	})
}

// TestLineageDiamond checks that an experiment reachable by two paths is
// listed once, at its smallest depth, and that an innovation fed through
// several experiments is listed once, via the nearest.
func TestLineageDiamond(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		at := day(2026, 1, 1)
		s.run(t, "root", "growth", "root", at, at, at, experiments.OutcomeFailed)
		s.run(t, "left", "growth", "left", at, at, at, experiments.OutcomeFailed, buildsOn("root"))
		s.run(t, "mid", "growth", "mid", at, at, at, experiments.OutcomeFailed, buildsOn("left"))
		s.run(t, "tip", "growth", "tip", at, at, at, experiments.OutcomeSucceeded, buildsOn("mid", "root"))
		s.innovate(t, "I", "growth", "I", at, at)
		s.link(t, "I", "tip", "growth", at)
		s.link(t, "I", "mid", "growth", at)
		mustApply(t, db, s.evs)

		il, err := q.InnovationLineage(ctx, admin, "I")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, n := range il.Upstream {
			got[n.ID] = n.Depth
		}
		if want := map[string]int{"tip": 1, "mid": 1, "left": 2, "root": 2}; !reflect.DeepEqual(got, want) {
			t.Errorf("upstream depths = %v, want %v", got, want)
		}
		el, err := q.ExperimentLineage(ctx, admin, "root")
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]int{}
		for _, n := range el.Downstream {
			got[n.ID] = n.Depth
		}
		if want := map[string]int{"left": 1, "tip": 1, "mid": 2}; !reflect.DeepEqual(got, want) {
			t.Errorf("downstream depths = %v, want %v", got, want)
		}
		if len(el.Innovations) != 1 || el.Innovations[0].Via != "tip" {
			t.Errorf("innovations = %+v, want I once via tip", el.Innovations)
		}
	})
}
