package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

const hiddenID = "sx-hidden-42"

// hiddenScenario has a team-only experiment of team stealth, with a
// title, learning, skill and tag found nowhere else, between two public
// experiments: P ← hidden ← Q. Innovation J is informed by the hidden one
// and Q; K only by the hidden one.
func hiddenScenario(t *testing.T) *stream {
	s := &stream{}
	s.run(t, "P", "core", "Public base", day(2026, 1, 2), day(2026, 1, 3), day(2026, 1, 10), failed)
	s.learn(t, "P", "core", "pl", "public lesson", day(2026, 1, 11), "sql")
	s.run(t, hiddenID, "stealth", "Zanzibar Moonshot", day(2026, 1, 12), day(2026, 1, 13), day(2026, 1, 20), failed,
		buildsOn("P"), teamOnly, tags("moonshot"))
	s.learn(t, hiddenID, "stealth", "zl", "zanzibar lesson", day(2026, 1, 21), "secrecy")
	s.run(t, "Q", "core", "Public follow-up", day(2026, 1, 22), day(2026, 1, 23), day(2026, 2, 1), succeeded, buildsOn(hiddenID))
	s.innovate(t, "J", "core", "Joint launch", day(2026, 2, 2), day(2026, 2, 10))
	s.link(t, "J", hiddenID, "core", day(2026, 2, 3))
	s.link(t, "J", "Q", "core", day(2026, 2, 4))
	s.innovate(t, "K", "stealth", "Kept quiet", day(2026, 2, 5), day(2026, 2, 12))
	s.link(t, "K", hiddenID, "stealth", day(2026, 2, 6))
	s.unlink(t, "K", hiddenID, "stealth", day(2026, 2, 7))
	s.link(t, "K", hiddenID, "stealth", day(2026, 2, 8))
	return s
}

func TestVisibility(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, hiddenScenario(t).evs)

		for name, v := range map[string]readmodel.Viewer{
			"other team": {Teams: []string{"core", "growth"}},
			"no team":    {},
		} {
			t.Run(name, func(t *testing.T) {
				results := map[string]any{}
				record := func(name string, res any, err error) {
					t.Helper()
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					if _, ok := results[name]; ok {
						name = fmt.Sprintf("%s #%d", name, len(results))
					}
					results[name] = res
				}
				for _, f := range []readmodel.ExperimentFilter{{}, {Q: "zanzibar"}, {Team: "stealth"}, {Tag: "moonshot"}, {Outcome: "failed"}} {
					page, err := q.ListExperiments(ctx, v, f)
					record("ListExperiments", page, err)
				}
				for _, id := range []string{"P", "Q"} {
					x, err := q.GetExperiment(ctx, v, id)
					record("GetExperiment "+id, x, err)
					h, err := q.History(ctx, v, id)
					record("History "+id, h, err)
					l, err := q.ExperimentLineage(ctx, v, id)
					record("ExperimentLineage "+id, l, err)
				}
				for _, f := range []readmodel.LearningFilter{{}, {Q: "zanzibar"}, {Skill: "secrecy"}, {Team: "stealth"}} {
					ls, err := q.Learnings(ctx, v, f)
					record("Learnings", ls, err)
				}
				ns, err := q.ListInnovations(ctx, v, "")
				record("ListInnovations", ns, err)
				for _, id := range []string{"J", "K"} {
					n, err := q.GetInnovation(ctx, v, id)
					record("GetInnovation "+id, n, err)
					h, err := q.History(ctx, v, id)
					record("History "+id, h, err)
					l, err := q.InnovationLineage(ctx, v, id)
					record("InnovationLineage "+id, l, err)
				}
				for _, f := range []readmodel.OutcomeFilter{{}, {Bucket: readmodel.BucketQuarter}, {Team: "stealth"}} {
					rep, err := q.Outcomes(ctx, v, f)
					record("Outcomes", rep, err)
				}
				for _, f := range []readmodel.BacklogFilter{{}, {Unlinked: true}, {Team: "stealth"}} {
					b, err := q.FailureBacklog(ctx, v, f)
					record("FailureBacklog", b, err)
				}
				for name, res := range results {
					b, err := json.Marshal(res)
					if err != nil {
						t.Fatal(err)
					}
					for _, secret := range []string{hiddenID, "Zanzibar", "zanzibar", "secrecy", "moonshot"} {
						if strings.Contains(string(b), secret) {
							t.Errorf("%s shows %q to an outsider: %s", name, secret, b)
						}
					}
				}

				for name, err := range map[string]error{
					"GetExperiment":     second(q.GetExperiment(ctx, v, hiddenID)),
					"History":           second(q.History(ctx, v, hiddenID)),
					"ExperimentLineage": second(q.ExperimentLineage(ctx, v, hiddenID)),
				} {
					if !errors.Is(err, experiments.ErrNotFound) {
						t.Errorf("%s(hidden) = %v, want ErrNotFound", name, err)
					}
				}

				// The path through the hidden experiment is gone too.
				il := results["InnovationLineage J"].(readmodel.InnovationLineage)
				if got := nodeIDs(il.Upstream); !slices.Equal(got, []string{"Q"}) {
					t.Errorf("InnovationLineage(J) upstream = %v, want [Q]", got)
				}
				el := results["ExperimentLineage P"].(readmodel.ExperimentLineage)
				if len(el.Downstream) != 0 || len(el.Innovations) != 0 {
					t.Errorf("ExperimentLineage(P) = %+v, want nothing after P", el)
				}
				if h := results["History K"].([]readmodel.HistoryEntry); len(h) != 1 {
					t.Errorf("History(K) has %d entries, want only its recording", len(h))
				}
				if h := results["History Q"].([]readmodel.HistoryEntry); len(h) != 3 || !strings.Contains(string(h[0].Data), `"builds_on":[]`) {
					t.Errorf("History(Q) = %+v, want 3 entries, the first with an empty builds_on", h)
				}
				if x := results["GetExperiment Q"].(experiments.Experiment); x.BuildsOn == nil || len(x.BuildsOn) != 0 {
					t.Errorf("GetExperiment(Q).BuildsOn = %#v, want []", x.BuildsOn)
				}

				// Outcomes neither count nor show the hidden experiment.
				rep := results["Outcomes"].(readmodel.OutcomeReport)
				jan := rep.Periods[0]
				if jan.Period != "2026-01" || jan.Team != readmodel.AllTeams || jan.Registered != 2 || jan.Failed != 1 || jan.LearningsRecorded != 1 {
					t.Errorf("January total = %+v, want 2 registered, 1 failed, 1 learning", jan)
				}
			})
		}

		t.Run("own team and leads", func(t *testing.T) {
			for _, v := range []readmodel.Viewer{{Teams: []string{"stealth"}}, {All: true}} {
				x, err := q.GetExperiment(ctx, v, hiddenID)
				if err != nil || x.Title != "Zanzibar Moonshot" || len(x.Learnings) != 1 {
					t.Errorf("GetExperiment(hidden) as %+v = %+v, %v", v, x, err)
				}
				page, err := q.ListExperiments(ctx, v, readmodel.ExperimentFilter{Q: "zanzibar"})
				if err != nil || len(page.Items) != 1 {
					t.Errorf("ListExperiments(zanzibar) as %+v = %v, %v", v, ids(page.Items), err)
				}
				il, err := q.InnovationLineage(ctx, v, "J")
				if err != nil || !slices.Equal(nodeIDs(il.Upstream), []string{hiddenID, "Q", "P"}) {
					t.Errorf("InnovationLineage(J) as %+v = %v, %v; want [hidden Q P]", v, nodeIDs(il.Upstream), err)
				}
				rep, err := q.Outcomes(ctx, v, readmodel.OutcomeFilter{})
				if err != nil || rep.Periods[0].Registered != 3 {
					t.Errorf("Outcomes as %+v: January registered = %+v, %v; want 3", v, rep.Periods[0], err)
				}
				backlog, err := q.FailureBacklog(ctx, v, readmodel.BacklogFilter{Unlinked: true})
				if err != nil || len(backlog.Items) != 0 {
					t.Errorf("FailureBacklog(unlinked) as %+v = %+v, %v; want none (P feeds J through the hidden one)", v, backlog, err)
				}
			}
		})
	})
}
