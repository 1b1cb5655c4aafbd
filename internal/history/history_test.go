package history_test

import (
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/history"
)

// The generated history has the size it was asked for, is valid for the
// event catalogue, holds every kind of event and experiment, and the
// lineage it was asked for.
func TestGenerate(t *testing.T) {
	counts := map[string]int{}
	kinds := map[string]bool{}
	var teamOnly, backdated int
	g := history.New(history.Config{Events: 20_000, Experiments: 2_000, Seed: 1, Lineage: 50})
	err := g.Emit(func(ev history.Event) error {
		env := &ev.Envelope
		if err := env.Validate(); err != nil {
			return err
		}
		name, p, err := events.Payload(env)
		if err != nil {
			return err
		}
		if ev.Subject != events.Subject(name, env.Subject) {
			t.Errorf("event %s on subject %s", name, ev.Subject)
		}
		counts[name]++
		switch p := p.(type) {
		case *events.ExperimentRegisteredV1:
			kinds[p.Kind] = true
			if p.Visibility == "team" {
				teamOnly++
			}
		case *events.ExperimentStartedV1:
			if p.StartedAt.Before(env.Time) {
				backdated++
			}
		case *events.ExperimentOutcomeRevisedV1:
			if p.Outcome == p.PreviousOutcome {
				t.Errorf("outcome revised from %s to itself", p.Outcome)
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Emitted() != 20_000 || g.Registered() != 2_000 {
		t.Errorf("generated %d events about %d experiments, want 20,000 about 2,000", g.Emitted(), g.Registered())
	}
	if counts[events.ExperimentRegistered] != 2_000 {
		t.Errorf("%d registrations, want 2,000", counts[events.ExperimentRegistered])
	}
	for _, name := range []string{
		events.ExperimentStarted, events.ExperimentConcluded, events.ExperimentLearningRecorded,
		events.ExperimentAbandoned, events.ExperimentRevised, events.ExperimentOutcomeRevised,
		events.InnovationRecorded, events.InnovationLinked, events.InnovationUnlinked,
	} {
		if counts[name] == 0 {
			t.Errorf("no %s event in the mix", name)
		}
	}
	if len(kinds) != 6 {
		t.Errorf("experiments of %d kinds, want all 6", len(kinds))
	}
	if teamOnly == 0 || backdated == 0 {
		t.Errorf("%d confidential experiments and %d backdated starts, want some of each", teamOnly, backdated)
	}
	t.Logf("mix: %v", counts)
	if g.LineageInnovation() == "" {
		t.Error("no lineage innovation")
	}
}

// A history emitted in stages, stopping at a count of experiments, is the
// same as the one emitted at once.
func TestEmitInStages(t *testing.T) {
	cfg := history.Config{Events: 5_000, Experiments: 500, Seed: 2}
	whole := history.Generate(cfg)
	g := history.New(cfg)
	var staged []history.Event
	emit := func(ev history.Event) error { staged = append(staged, ev); return nil }
	for _, stage := range []int{100, 300} {
		if err := g.Emit(emit, func() bool { return g.Registered() >= stage }); err != nil {
			t.Fatal(err)
		}
		if g.Registered() != stage || g.Done() {
			t.Fatalf("stopped at %d experiments (done %v), want %d", g.Registered(), g.Done(), stage)
		}
	}
	if err := g.Emit(emit, nil); err != nil {
		t.Fatal(err)
	}
	if len(staged) != len(whole) || !g.Done() {
		t.Fatalf("staged %d events, want %d", len(staged), len(whole))
	}
	for i := range whole {
		if staged[i].Envelope.ID != whole[i].Envelope.ID {
			t.Fatalf("event %d differs", i)
		}
	}
	if len(g.Experiments()) != 500 {
		t.Errorf("%d experiments, want 500", len(g.Experiments()))
	}
}
