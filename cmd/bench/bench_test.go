package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// TestMain lets the test binary stand in for the bench binary when the
// replay starts it as a projector process.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(context.Background(), os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// tinyScale runs every scenario in seconds: enough to show that each
// still runs end to end, not to say anything about speed.
var tinyScale = scale{
	name: "tiny", appendFor: 500 * time.Millisecond, appendClients: 8,
	lagRate: 200, lagFor: time.Second, lagFloorFor: 300 * time.Millisecond,
	events: 3000, experiments: 300, requests: 20, queryBudget: time.Second,
}

// TestTinyRun runs every scenario at a tiny scale, on Postgres too when
// DATABASE_URL is set, and checks that each printed its figures and that
// the last line is the count of targets. Targets may be missed at this
// scale; a scenario that cannot run fails the test.
func TestTinyRun(t *testing.T) {
	var out bytes.Buffer
	rep, err := runBench(t.Context(), options{scale: tinyScale, databaseURL: os.Getenv("DATABASE_URL")}, &out)
	if err != nil {
		t.Fatalf("runBench: %v", err)
	}
	t.Log("\n" + out.String())
	if rep.errored {
		t.Errorf("a scenario could not run:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^\d+ passed, \d+ failed(, \d+ skipped)?$`).MatchString(last) {
		t.Errorf("last line = %q, want the count of targets passed and failed", last)
	}
	for _, want := range []string{
		"append ", "lag/sqlite ", "replay/sqlite ", "queries/sqlite ", "rebuild/sqlite ",
	} {
		if !strings.Contains(out.String(), "\n"+want) {
			t.Errorf("no figure of %q in the output", strings.TrimSpace(want))
		}
	}
	if os.Getenv("DATABASE_URL") != "" && !strings.Contains(out.String(), "\nreplay/pg ") {
		t.Errorf("DATABASE_URL is set, but no Postgres replay figure was printed")
	}
}

// The generated history has the size it was asked for, is valid for the
// event catalogue, and holds the lineage the query scenario asks for.
func TestGenerate(t *testing.T) {
	counts := map[string]int{}
	h, err := generate(20_000, 2_000, 1, func(subject string, env *events.Envelope) error {
		if err := env.Validate(); err != nil {
			return err
		}
		name, _, err := events.Payload(env)
		if err != nil {
			return err
		}
		if subject != events.Subject(name, env.Subject) {
			t.Errorf("event %s on subject %s", name, subject)
		}
		counts[name]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.events != 20_000 || len(h.experiments) != 2_000 {
		t.Errorf("generated %d events about %d experiments, want 20,000 about 2,000", h.events, len(h.experiments))
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
	t.Logf("mix: %v", counts)
	if h.lineageInnovation == "" {
		t.Error("no lineage innovation")
	}
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(101-i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (latencies{}).percentile(99); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}
