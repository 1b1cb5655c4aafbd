package readmodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// storyFigures renders the story figures of every team in January (the
// failures) and February (the leads' stories) as v sees them through f.
func storyFigures(t *testing.T, q *readmodel.Queries, v readmodel.Viewer, f readmodel.OutcomeFilter) string {
	t.Helper()
	rep, err := q.Outcomes(context.Background(), v, f)
	if err != nil {
		t.Fatal(err)
	}
	var jan, feb readmodel.PeriodMetrics
	for _, m := range rep.Periods {
		switch {
		case m.Team != readmodel.AllTeams:
		case m.Period == "2026-01":
			jan = m
		case m.Period == "2026-02":
			feb = m
		}
	}
	return fmt.Sprintf("failed=%d with_stories=%d openness=%s by_leads=%d",
		jan.Failed, jan.FailuresWithStories, fmtPtr(jan.OpennessStories), feb.StoriesByLeads)
}

func TestStoryFigures(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		org, team := experiments.VisibilityOrg, experiments.VisibilityTeam
		s := &stream{}
		for i, id := range []string{"F1", "F2", "F3"} {
			s.run(t, id, "red", id, day(2026, 1, 2), day(2026, 1, 3), day(2026, 1, 10+i), failed)
		}
		s.register(t, "X", "blue", "X", day(2026, 1, 4), teamOnly)
		// A lead's open story about F1; red's own about F2, and an open
		// one retracted; blue's about F3 and its team-only X.
		s.publish(t, "S1", "red", "lead1", "lead", org, day(2026, 2, 2), "F1")
		s.publish(t, "S2", "red", "member1", "member", team, day(2026, 2, 2), "F2")
		s.publish(t, "S3", "red", "member1", "member", org, day(2026, 2, 2), "F2")
		s.storyEvent(t, events.StoryRetracted, "S3", "red", "member1", day(2026, 2, 3), events.StoryRetractedV1{Reason: "wrong"})
		s.publish(t, "S4", "blue", "member2", "member", team, day(2026, 2, 4), "F3", "X")
		s.publish(t, "S5", "red", "lead1", "lead", team, day(2026, 2, 5), "F2")
		applied := len(s.evs)
		mustApply(t, db, s.evs)
		viewers := map[string]readmodel.Viewer{
			"outsider": {Teams: []string{"green"}}, "red": {Teams: []string{"red"}},
			"blue": {Teams: []string{"blue"}}, "admin": {All: true},
		}
		filters := []readmodel.OutcomeFilter{{}, {From: day(2026, 1, 5), To: day(2026, 2, 10)}}
		check := func(step string, want map[string]string) {
			t.Helper()
			for name, w := range want {
				for _, f := range filters {
					if got := storyFigures(t, q, viewers[name], f); got != w {
						t.Errorf("%s: %s, from %s: got %s, want %s", step, name, f.From, got, w)
					}
				}
			}
		}
		check("told", map[string]string{
			"outsider": "failed=3 with_stories=1 openness=0.3333 by_leads=1",
			"red":      "failed=3 with_stories=2 openness=0.6667 by_leads=2",
			"blue":     "failed=3 with_stories=2 openness=0.6667 by_leads=1",
			"admin":    "failed=3 with_stories=3 openness=1.0000 by_leads=2",
		})
		s.storyEvent(t, events.StoryRetracted, "S1", "red", "lead1", day(2026, 2, 6), events.StoryRetractedV1{Reason: "wrong"})
		s.add(t, events.ExperimentRevised, "X", "blue", day(2026, 2, 7), events.ExperimentRevisedV1{Visibility: &org})
		mustApply(t, db, s.evs[applied:])
		check("S1 retracted, X open", map[string]string{
			"outsider": "failed=3 with_stories=0 openness=0.0000 by_leads=0",
			"red":      "failed=3 with_stories=1 openness=0.3333 by_leads=1",
			"blue":     "failed=3 with_stories=1 openness=0.3333 by_leads=0",
			"admin":    "failed=3 with_stories=2 openness=0.6667 by_leads=1",
		})
	})
}
