package experiments_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// newService returns a service over a fresh embedded event store, with a
// clock the test controls.
func newService(t *testing.T) (*experiments.Service, *events.Store, *clock) {
	t.Helper()
	_, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(context.Background(), nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	c.set(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, c
}

type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

var local = experiments.Meta{Actor: "tester"}

func register(t *testing.T, svc *experiments.Service, buildsOn ...string) experiments.Experiment {
	t.Helper()
	e, err := svc.RegisterExperiment(context.Background(), local, experiments.RegisterExperiment{
		Team: "growth", Title: "t", Hypothesis: "h", SuccessCriteria: "+5%", BuildsOn: buildsOn,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func wantCode(t *testing.T, err error, code experiments.Code) {
	t.Helper()
	if experiments.ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestLifecycleAndSealedPreRegistration(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := newService(t)
	e := register(t, svc)
	if e.Status != experiments.StatusPlanned || e.Version != 1 || e.Kind != "other" || e.Visibility != experiments.VisibilityOrg {
		t.Fatalf("registered = %+v", e)
	}
	crit := "+10% annual plans"
	e, err := svc.ReviseExperiment(ctx, local, e.ID, experiments.ReviseExperiment{SuccessCriteria: &crit})
	if err != nil || e.SuccessCriteria != crit || e.Title != "t" {
		t.Fatalf("revise while planned = %+v, %v", e, err)
	}
	_, err = svc.ConcludeExperiment(ctx, local, e.ID, experiments.ConcludeExperiment{Outcome: "failed", Decision: "stop", Summary: "s"})
	wantCode(t, err, experiments.CodeConflict)

	started := clk.now().Add(-24 * time.Hour)
	if e, err = svc.StartExperiment(ctx, local, e.ID, experiments.StartExperiment{StartedAt: &started}); err != nil {
		t.Fatal(err)
	}
	moved := "+1%"
	_, err = svc.ReviseExperiment(ctx, local, e.ID, experiments.ReviseExperiment{SuccessCriteria: &moved})
	wantCode(t, err, experiments.CodeConflict)
	_, err = svc.StartExperiment(ctx, local, e.ID, experiments.StartExperiment{})
	wantCode(t, err, experiments.CodeConflict)

	before := started.Add(-time.Hour)
	_, err = svc.ConcludeExperiment(ctx, local, e.ID, experiments.ConcludeExperiment{Outcome: "failed", Decision: "stop", Summary: "s", ConcludedAt: &before})
	wantCode(t, err, experiments.CodeInvalid)

	clk.add(time.Hour)
	e, err = svc.ConcludeExperiment(ctx, local, e.ID, experiments.ConcludeExperiment{
		Outcome: "failed", Decision: "pivot", Summary: "no lift",
		Learnings: []experiments.NewLearning{{Text: "one", Skills: []string{"pricing", "pricing"}}, {Text: "two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != experiments.StatusConcluded || len(e.Learnings) != 2 || e.Version != 6 || len(e.Learnings[0].Skills) != 1 {
		t.Fatalf("concluded = %+v", e)
	}
	_, err = svc.ReviseOutcome(ctx, local, e.ID, experiments.ReviseOutcome{Outcome: "failed", Reason: "same"})
	wantCode(t, err, experiments.CodeConflict)
	if e, err = svc.ReviseOutcome(ctx, local, e.ID, experiments.ReviseOutcome{Outcome: "inconclusive", Reason: "sample too small"}); err != nil || e.Outcome != "inconclusive" || e.OutcomeRevisions != 1 {
		t.Fatalf("revised outcome = %+v, %v", e, err)
	}
	_, err = svc.AbandonExperiment(ctx, local, e.ID, experiments.AbandonExperiment{Reason: "late"})
	wantCode(t, err, experiments.CodeConflict)
	if e, err = svc.RecordLearning(ctx, local, e.ID, experiments.NewLearning{Text: "after the fact"}); err != nil || len(e.Learnings) != 3 {
		t.Fatalf("learning after conclusion = %+v, %v", e, err)
	}
}

func TestAbandonFromPlannedOrRunning(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	p := register(t, svc)
	if e, err := svc.AbandonExperiment(ctx, local, p.ID, experiments.AbandonExperiment{Reason: "deprioritised"}); err != nil || e.Status != experiments.StatusAbandoned {
		t.Fatalf("abandon planned = %+v, %v", e, err)
	}
	r := register(t, svc)
	if _, err := svc.StartExperiment(ctx, local, r.ID, experiments.StartExperiment{}); err != nil {
		t.Fatal(err)
	}
	if e, err := svc.AbandonExperiment(ctx, local, r.ID, experiments.AbandonExperiment{Reason: "broken"}); err != nil || e.Status != experiments.StatusAbandoned {
		t.Fatalf("abandon running = %+v, %v", e, err)
	}
	_, err := svc.StartExperiment(ctx, local, r.ID, experiments.StartExperiment{})
	wantCode(t, err, experiments.CodeConflict)
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	svc, store, clk := newService(t)
	future := clk.now().Add(48 * time.Hour)
	cases := []struct {
		name  string
		cmd   experiments.RegisterExperiment
		field string
	}{
		{"missing team", experiments.RegisterExperiment{Title: "t", Hypothesis: "h"}, "team"},
		{"bad team", experiments.RegisterExperiment{Team: "a b", Title: "t", Hypothesis: "h"}, "team"},
		{"missing title", experiments.RegisterExperiment{Team: "g", Hypothesis: "h"}, "title"},
		{"blank title", experiments.RegisterExperiment{Team: "g", Title: "   ", Hypothesis: "h"}, "title"},
		{"long title", experiments.RegisterExperiment{Team: "g", Title: strings.Repeat("é", 201), Hypothesis: "h"}, "title"},
		{"missing hypothesis", experiments.RegisterExperiment{Team: "g", Title: "t"}, "hypothesis"},
		{"bad kind", experiments.RegisterExperiment{Team: "g", Title: "t", Hypothesis: "h", Kind: "x"}, "kind"},
		{"bad visibility", experiments.RegisterExperiment{Team: "g", Title: "t", Hypothesis: "h", Visibility: "secret"}, "visibility"},
		{"unknown builds_on", experiments.RegisterExperiment{Team: "g", Title: "t", Hypothesis: "h", BuildsOn: []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}}, "builds_on"},
		{"negative cost", experiments.RegisterExperiment{Team: "g", Title: "t", Hypothesis: "h", Cost: &events.Cost{Spend: -1}}, "cost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.RegisterExperiment(ctx, local, c.cmd)
			var e *experiments.Error
			if !errors.As(err, &e) || e.Code != experiments.CodeInvalid || e.Field != c.field {
				t.Fatalf("err = %v, want invalid %s", err, c.field)
			}
		})
	}
	e := register(t, svc)
	_, err := svc.StartExperiment(ctx, local, e.ID, experiments.StartExperiment{StartedAt: &future})
	wantCode(t, err, experiments.CodeInvalid)
	if last, _ := store.LastSequence(ctx); last != 1 {
		t.Fatalf("stream has %d events after invalid commands, want 1", last)
	}
}

func TestInnovationLinks(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	running := register(t, svc)
	if _, err := svc.StartExperiment(ctx, local, running.ID, experiments.StartExperiment{}); err != nil {
		t.Fatal(err)
	}
	done := register(t, svc)
	svc.StartExperiment(ctx, local, done.ID, experiments.StartExperiment{})
	if _, err := svc.ConcludeExperiment(ctx, local, done.ID, experiments.ConcludeExperiment{Outcome: "failed", Decision: "stop", Summary: "s"}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.RecordInnovation(ctx, local, experiments.RecordInnovation{Team: "growth", Title: "i", InformedBy: []experiments.LinkInput{{ExperimentID: running.ID}}})
	wantCode(t, err, experiments.CodeConflict)

	inn, err := svc.RecordInnovation(ctx, local, experiments.RecordInnovation{Team: "growth", Title: "i", InformedBy: []experiments.LinkInput{{ExperimentID: done.ID}, {ExperimentID: done.ID}}})
	if err != nil || len(inn.InformedBy) != 1 || inn.Version != 2 {
		t.Fatalf("record = %+v, %v", inn, err)
	}
	again, err := svc.LinkExperiment(ctx, local, inn.ID, experiments.LinkInput{ExperimentID: done.ID})
	if err != nil || again.Version != 2 {
		t.Fatalf("linking twice = %+v, %v; want no new event", again, err)
	}
	un, err := svc.UnlinkExperiment(ctx, local, inn.ID, done.ID)
	if err != nil || len(un.InformedBy) != 0 || un.Version != 3 {
		t.Fatalf("unlink = %+v, %v", un, err)
	}
	_, err = svc.UnlinkExperiment(ctx, local, inn.ID, done.ID)
	wantCode(t, err, experiments.CodeNotFound)
	_, err = svc.LinkExperiment(ctx, local, inn.ID, experiments.LinkInput{ExperimentID: "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
	wantCode(t, err, experiments.CodeInvalid)
}

// TestStaleCacheAcrossProcesses runs two services over one stream, as two
// api processes would: each one's cache goes stale when the other writes,
// and the expected-sequence check makes it decide again instead of losing
// the other's write.
func TestStaleCacheAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	one, store, _ := newService(t)
	two, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	e := register(t, one)
	if _, err := two.RecordLearning(ctx, local, e.ID, experiments.NewLearning{Text: "from two"}); err != nil {
		t.Fatal(err)
	}
	got, err := one.RecordLearning(ctx, local, e.ID, experiments.NewLearning{Text: "from one"})
	if err != nil || len(got.Learnings) != 2 || got.Version != 3 {
		t.Fatalf("after a write elsewhere = %+v, %v; want both learnings", got, err)
	}
	stale := uint64(2)
	_, err = two.RecordLearning(ctx, experiments.Meta{IfMatch: &stale}, e.ID, experiments.NewLearning{Text: "stale"})
	wantCode(t, err, experiments.CodePrecondition)
}

func TestIdempotencyKeyOutlivesTheDuplicateWindow(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := newService(t)
	e := register(t, svc)
	m := experiments.Meta{IdempotencyKey: "k1"}
	first, err := svc.RecordLearning(ctx, m, e.ID, experiments.NewLearning{Text: "once"})
	if err != nil {
		t.Fatal(err)
	}
	// A second service has an empty cache, so it must find the key in the
	// aggregate's history rather than in the broker's window.
	other, _ := experiments.NewService(experiments.ServiceConfig{Store: store})
	again, err := other.RecordLearning(ctx, m, e.ID, experiments.NewLearning{Text: "once"})
	if err != nil || again.Version != first.Version || len(again.Learnings) != 1 {
		t.Fatalf("retry = %+v, %v; want the first result", again, err)
	}
	if last, _ := store.LastSequence(ctx); last != 2 {
		t.Fatalf("stream has %d events, want 2", last)
	}
}
