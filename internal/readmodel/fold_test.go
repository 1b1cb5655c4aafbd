package readmodel_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// rawEvent is an event as a writer without the service's defaults may
// have appended it: its data exactly as given.
type rawEvent struct {
	name string
	team string
	data string
}

// TestAggregateAndReadModelAgree appends, to a real event store, events
// that lack what a payload may lack (dates, team, kind, visibility,
// lists) or carry what the two sides used to read apart (a zero cost,
// revised tags, a repeated link), and expects the state the command side
// folds from the store to equal the state the read model serves, on both
// read stores.
func TestAggregateAndReadModelAgree(t *testing.T) {
	ctx := context.Background()
	const (
		xa = "01JAGREE0000000000000000XA"
		xb = "01JAGREE0000000000000000XB"
		in = "01JAGREE0000000000000000N1"
	)
	aggregates := []struct {
		aggregate, id string
		evs           []rawEvent
	}{
		{events.AggregateExperiment, xa, []rawEvent{
			// No team, kind, visibility, tags or builds_on; a cost of zero.
			{events.ExperimentRegistered, "growth", `{"title": "Bare", "hypothesis": "h", "cost": {}}`},
			{events.ExperimentRevised, "growth", `{"tags": ["ux", "pricing", "ux"], "cost": {"spend": 120}}`},
			{events.ExperimentStarted, "growth", `{}`},
			{events.ExperimentLearningRecorded, "growth", `{"learning_id": "la1", "text": "no skills named"}`},
			{events.ExperimentConcluded, "growth", `{"outcome": "failed", "decision": "pivot", "summary": "s"}`},
			{events.ExperimentOutcomeRevised, "growth", `{"outcome": "inconclusive", "previous_outcome": "failed", "reason": "r"}`},
		}},
		{events.AggregateExperiment, xb, []rawEvent{
			{events.ExperimentRegistered, "core", `{"team": "core", "title": "Costed", "hypothesis": "h",
				"kind": "pilot", "visibility": "team", "tags": [], "builds_on": ["` + xa + `"], "cost": {"person_days": 3}}`},
			// A revision to a zero cost removes the cost.
			{events.ExperimentRevised, "core", `{"cost": {"person_days": 0, "spend": 0}, "tags": null}`},
			{events.ExperimentLearningRecorded, "core", `{"learning_id": "lb1", "text": "t", "skills": null}`},
			{events.ExperimentAbandoned, "core", `{"reason": "no time"}`},
		}},
		{events.AggregateInnovation, in, []rawEvent{
			// No team, no launched_at.
			{events.InnovationRecorded, "core", `{"title": "Shipped", "description": "d"}`},
			{events.InnovationLinked, "core", `{"experiment_id": "` + xa + `", "note": "first"}`},
			{events.InnovationLinked, "core", `{"experiment_id": "` + xa + `", "note": "again"}`},
			{events.InnovationLinked, "core", `{"experiment_id": "` + xb + `"}`},
			{events.InnovationUnlinked, "core", `{"experiment_id": "` + xa + `"}`},
			{events.InnovationUnlinked, "core", `{"experiment_id": "` + xa + `"}`},
			{events.InnovationLinked, "core", `{"experiment_id": "` + xa + `", "note": "back"}`},
		}},
	}

	_, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 30, 22, 0, 0, 0, time.UTC)
	var recorded []events.Recorded
	for _, a := range aggregates {
		envs := make([]events.Envelope, len(a.evs))
		for i, e := range a.evs {
			at = at.Add(7 * time.Hour) // events land in different months
			envs[i] = events.Envelope{
				SpecVersion: events.SpecVersion, ID: fmt.Sprintf("%s-%d", a.id, i), Source: events.Source,
				Type: events.TypeOf(e.name), Subject: a.id, Time: at, DataContentType: "application/json",
				Team: e.team, Actor: "tool@" + e.team, Data: json.RawMessage(e.data),
			}
		}
		if _, err := store.Append(ctx, a.aggregate, a.id, 0, envs, ""); err != nil {
			t.Fatal(err)
		}
		recs, err := store.Load(ctx, a.aggregate, a.id)
		if err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, recs...)
	}
	slices.SortFunc(recorded, func(a, b events.Recorded) int { return cmp.Compare(a.Sequence, b.Sequence) })

	wantA, err := svc.Experiment(ctx, xa)
	if err != nil {
		t.Fatal(err)
	}
	wantB, err := svc.Experiment(ctx, xb)
	if err != nil {
		t.Fatal(err)
	}
	wantN, err := svc.Innovation(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The cases the two sides used to read apart, as the command side now
	// reads them.
	if wantA.Team != "growth" || wantA.Kind != "other" || wantA.Visibility != experiments.VisibilityOrg ||
		wantA.StartedAt == nil || !wantA.StartedAt.Equal(recorded[2].Time) ||
		wantA.ConcludedAt == nil || !wantA.ConcludedAt.Equal(recorded[4].Time) ||
		wantA.Cost == nil || *wantA.Cost != (events.Cost{Spend: 120}) ||
		!slices.Equal(wantA.Tags, []string{"ux", "pricing", "ux"}) || wantA.BuildsOn == nil ||
		len(wantA.Learnings) != 1 || wantA.Learnings[0].Skills == nil {
		t.Errorf("experiment A on the command side = %+v", wantA)
	}
	if wantB.Cost != nil || wantB.Tags == nil || wantB.AbandonedAt == nil || !wantB.AbandonedAt.Equal(recorded[9].Time) ||
		len(wantB.Learnings) != 1 || wantB.Learnings[0].Skills == nil {
		t.Errorf("experiment B on the command side = %+v", wantB)
	}
	if wantN.Team != "core" || !wantN.LaunchedAt.Equal(recorded[10].Time) || len(wantN.InformedBy) != 2 ||
		wantN.InformedBy[0].ExperimentID != xb || wantN.InformedBy[1].Note != "back" {
		t.Errorf("innovation on the command side = %+v", wantN)
	}

	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		for name, sizes := range map[string][]int{"one batch": nil, "one by one": slices.Repeat([]int{1}, len(recorded))} {
			t.Run(name, func(t *testing.T) {
				db := readstoretest.Open(t, d)
				if skipped := mustApply(t, db, recorded, sizes...); len(skipped) != 0 {
					t.Fatalf("skipped = %+v, want none", skipped)
				}
				q := readmodel.NewQueries(db)
				for _, want := range []experiments.Experiment{wantA, wantB} {
					got, err := q.GetExperiment(ctx, admin, want.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("read model's experiment %s =\n%+v\ncommand side's =\n%+v", want.ID, got, want)
					}
				}
				got, err := q.GetInnovation(ctx, admin, in)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, wantN) {
					t.Errorf("read model's innovation =\n%+v\ncommand side's =\n%+v", got, wantN)
				}
			})
		}
	})
}
