package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// output collects what the notifier prints, safely for the race detector.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.FieldsFunc(o.buf.String(), func(r rune) bool { return r == '\n' })
}

func TestNotifier(t *testing.T) {
	srv, nc := natsembedtest.Start(t)
	ctx := context.Background()
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	meta := experiments.Meta{Actor: "tester"}
	concluded := func(team, title, outcome string) experiments.Experiment {
		t.Helper()
		e, err := svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{Team: team, Title: title, Hypothesis: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.StartExperiment(ctx, meta, e.ID, experiments.StartExperiment{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ConcludeExperiment(ctx, meta, e.ID, experiments.ConcludeExperiment{Outcome: outcome, Decision: "pivot", Summary: "s"}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	failed := concluded("growth", "Fake door for exports", "failed")
	won := concluded("growth", "Annual plan nudge", "succeeded")
	inn, err := svc.RecordInnovation(ctx, meta, experiments.RecordInnovation{
		Team: "platform", Title: "Admin exports",
		InformedBy: []experiments.LinkInput{{ExperimentID: failed.ID}, {ExperimentID: won.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// A notifier started now, that also reports what happened before.
	out := &output{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"-nats-url", srv.ClientURL(), "-since", "all"}, func(string) string { return "" }, out, io.Discard)
	}()
	waitForLines(t, out, 1)

	// A success revised to failed after it was linked: its failure fed the
	// innovation too.
	if _, err := svc.ReviseOutcome(ctx, meta, won.ID, experiments.ReviseOutcome{Outcome: "failed", Reason: "the uplift was noise"}); err != nil {
		t.Fatal(err)
	}
	// A failure linked and unlinked, then revised: no longer linked, no
	// notification from the revision.
	other := concluded("research", "Interviews", "inconclusive")
	if _, err := svc.LinkExperiment(ctx, meta, inn.ID, experiments.LinkExperiment{ExperimentID: other.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UnlinkExperiment(ctx, meta, inn.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReviseOutcome(ctx, meta, other.ID, experiments.ReviseOutcome{Outcome: "failed", Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	// A last link, to know the notifier has read everything before it.
	last := concluded("research", "Pricing page", "failed")
	if _, err := svc.LinkExperiment(ctx, meta, inn.ID, experiments.LinkExperiment{ExperimentID: last.ID}); err != nil {
		t.Fatal(err)
	}
	lines := waitForLines(t, out, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	for i, want := range []string{
		`team growth: failed experiment ` + failed.ID + ` "Fake door for exports" fed innovation ` + inn.ID + ` "Admin exports" of team platform`,
		`team growth: failed experiment ` + won.ID + ` "Annual plan nudge" fed innovation`,
		`team research: failed experiment ` + last.ID + ` "Pricing page" fed innovation`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i+1, lines[i], want)
		}
	}
	if len(lines) != 3 {
		t.Errorf("printed %d lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	// Started with -since a time, it replays the history before it
	// silently. (The default, -since now, is the time it starts.)
	out = &output{}
	runCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	cut := time.Now().UTC().Format(time.RFC3339Nano)
	go func() {
		done <- run(runCtx, []string{"-nats-url", srv.ClientURL(), "-since", cut}, func(string) string { return "" }, out, io.Discard)
	}()
	fresh := concluded("growth", "Onboarding quiz", "failed")
	if _, err := svc.LinkExperiment(ctx, meta, inn.ID, experiments.LinkExperiment{ExperimentID: fresh.ID}); err != nil {
		t.Fatal(err)
	}
	if lines := waitForLines(t, out, 1); len(lines) != 1 || !strings.Contains(lines[0], fresh.ID) {
		t.Errorf("with -since %s, printed %q, want only the new link of %s", cut, lines, fresh.ID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// waitForLines polls until out has at least n lines.
func waitForLines(t *testing.T, out *output, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if lines := out.lines(); len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notifier printed %d lines within 15s, want %d: %q", len(out.lines()), n, out.lines())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
