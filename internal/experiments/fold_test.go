package experiments_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// recorded is an event of name on aggregate id, written at at by team,
// with data as given, decoded as every reader decodes it.
func recorded(t *testing.T, seq uint64, name, id, team string, at time.Time, data string) (*events.Recorded, any) {
	t.Helper()
	r := &events.Recorded{Envelope: events.Envelope{
		SpecVersion: events.SpecVersion, ID: name, Source: events.Source, Type: events.TypeOf(name),
		Subject: id, Time: at, Team: team, Data: json.RawMessage(data),
	}, Sequence: seq}
	_, p, err := events.Payload(&r.Envelope)
	if err != nil {
		t.Fatalf("decode %s %s: %v", name, data, err)
	}
	return r, p
}

func TestExperimentApplyReadsWhatAnEventLacks(t *testing.T) {
	at := time.Date(2026, 5, 1, 9, 30, 0, 0, time.FixedZone("CEST", 2*60*60))
	var x experiments.Experiment
	for i, e := range []struct{ name, data string }{
		{events.ExperimentRegistered, `{"title": "t", "cost": {"person_days": 0}}`},
		{events.ExperimentStarted, `{}`},
		{events.ExperimentConcluded, `{"outcome": "failed", "decision": "stop", "summary": "s"}`},
		{events.ExperimentLearningRecorded, `{"learning_id": "l1", "text": "t"}`},
	} {
		r, p := recorded(t, uint64(i+1), e.name, "X1", "growth", at.Add(time.Duration(i)*time.Hour), e.data)
		if err := x.Apply(r, p); err != nil {
			t.Fatal(err)
		}
	}
	utc := at.UTC()
	started, concluded := utc.Add(time.Hour), utc.Add(2*time.Hour)
	want := experiments.Experiment{
		ID: "X1", Team: "growth", Title: "t", Kind: "other", Tags: []string{}, BuildsOn: []string{},
		Visibility: experiments.VisibilityOrg, Status: experiments.StatusConcluded, Outcome: "failed", Decision: "stop",
		Summary: "s", FailureReasons: []string{},
		Learnings:    []experiments.Learning{{ID: "l1", ExperimentID: "X1", Text: "t", Skills: []string{}, RecordedAt: utc.Add(3 * time.Hour)}},
		RegisteredAt: utc, StartedAt: &started, ConcludedAt: &concluded, Version: 4, Position: 4,
	}
	if !reflect.DeepEqual(x, want) {
		t.Errorf("folded =\n%+v\nwant\n%+v", x, want)
	}

	r, p := recorded(t, 5, events.ExperimentAbandoned, "X2", "core", at, `{"reason": "r"}`)
	var y experiments.Experiment
	if err := y.Apply(r, p); err != nil || y.AbandonedAt == nil || !y.AbandonedAt.Equal(at) || y.AbandonedAt.Location() != time.UTC {
		t.Errorf("abandoned without abandoned_at: AbandonedAt = %v, %v; want %v in UTC", y.AbandonedAt, err, at)
	}
}

func TestExperimentApplyRevisesCost(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var x experiments.Experiment
	for i, e := range []struct {
		data string
		want *events.Cost
	}{
		{`{"title": "t"}`, nil},
		{`{"cost": {"spend": 10}}`, &events.Cost{Spend: 10}},
		{`{"title": "kept"}`, &events.Cost{Spend: 10}},
		{`{"cost": {"person_days": 0, "spend": 0}}`, nil}, // a zero cost is how a cost is removed
	} {
		name := events.ExperimentRevised
		if i == 0 {
			name = events.ExperimentRegistered
		}
		r, p := recorded(t, uint64(i+1), name, "X1", "growth", at, e.data)
		if err := x.Apply(r, p); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x.Cost, e.want) {
			t.Errorf("after %s: cost = %+v, want %+v", e.data, x.Cost, e.want)
		}
	}
}

func TestApplyRefusesAnotherAggregatesEvent(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	r, p := recorded(t, 1, events.ExperimentRegistered, "X1", "growth", at, `{"title": "t"}`)
	var x experiments.Experiment
	if err := x.Apply(r, p); err != nil {
		t.Fatal(err)
	}
	before := x
	ri, pi := recorded(t, 2, events.InnovationRecorded, "N1", "growth", at, `{"title": "n"}`)
	if err := x.Apply(ri, pi); err == nil || !reflect.DeepEqual(x, before) {
		t.Errorf("experiment Apply(innovation.recorded) = %v, state %+v; want an error and no change", err, x)
	}
	var n experiments.Innovation
	if err := n.Apply(r, p); err == nil || !reflect.DeepEqual(n, experiments.Innovation{}) {
		t.Errorf("innovation Apply(experiment.registered) = %v, state %+v; want an error and no change", err, n)
	}
}

func TestInnovationApplyLinks(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var n experiments.Innovation
	for i, e := range []struct{ name, data string }{
		{events.InnovationRecorded, `{"title": "n"}`},
		{events.InnovationLinked, `{"experiment_id": "X1", "note": "first"}`},
		{events.InnovationLinked, `{"experiment_id": "X1", "note": "again"}`}, // linking is idempotent
		{events.InnovationLinked, `{"experiment_id": "X2"}`},
		{events.InnovationUnlinked, `{"experiment_id": "X1"}`},
		{events.InnovationUnlinked, `{"experiment_id": "X1"}`},
		{events.InnovationLinked, `{"experiment_id": "X1", "note": "back"}`},
	} {
		r, p := recorded(t, uint64(i+1), e.name, "N1", "core", at.Add(time.Duration(i)*time.Hour), e.data)
		if err := n.Apply(r, p); err != nil {
			t.Fatal(err)
		}
	}
	want := experiments.Innovation{ID: "N1", Team: "core", Title: "n", LaunchedAt: at, RecordedAt: at,
		InformedBy: []experiments.Link{
			{ExperimentID: "X2", LinkedAt: at.Add(3 * time.Hour)},
			{ExperimentID: "X1", Note: "back", LinkedAt: at.Add(6 * time.Hour)},
		}, Version: 7, Position: 7}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("folded =\n%+v\nwant\n%+v", n, want)
	}
}

func TestReviseNamesEachTagOnce(t *testing.T) {
	svc, _, _ := newService(t)
	x := register(t, svc)
	tags := []string{"ux", "pricing", "ux"}
	x, err := svc.ReviseExperiment(context.Background(), local, x.ID, experiments.ReviseExperiment{Tags: &tags})
	if err != nil || !slices.Equal(x.Tags, []string{"ux", "pricing"}) {
		t.Errorf("revised tags = %q, %v; want [ux pricing], as a registration keeps them", x.Tags, err)
	}
	empty := []string{}
	if x, err = svc.ReviseExperiment(context.Background(), local, x.ID, experiments.ReviseExperiment{Tags: &empty}); err != nil || x.Tags == nil || len(x.Tags) != 0 {
		t.Errorf("tags revised to none = %#v, %v; want []", x.Tags, err)
	}
}
