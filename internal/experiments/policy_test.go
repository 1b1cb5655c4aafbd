package experiments_test

import (
	"context"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
)

// TestCommandsFollowTheRule walks every command × every status through
// the real service: a command is refused as a conflict exactly when the
// experiment's Allows says no.
func TestCommandsFollowTheRule(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	// into brings a new experiment to status.
	into := func(t *testing.T, status string) experiments.Experiment {
		t.Helper()
		x := register(t, svc)
		var err error
		switch status {
		case experiments.StatusRunning, experiments.StatusConcluded:
			x, err = svc.StartExperiment(ctx, local, x.ID, experiments.StartExperiment{})
			if err == nil && status == experiments.StatusConcluded {
				x, err = svc.ConcludeExperiment(ctx, local, x.ID, experiments.ConcludeExperiment{Outcome: "failed", Decision: "stop", Summary: "s"})
			}
		case experiments.StatusAbandoned:
			x, err = svc.AbandonExperiment(ctx, local, x.ID, experiments.AbandonExperiment{Reason: "r"})
		}
		if err != nil || x.Status != status {
			t.Fatalf("bring to %s: %+v, %v", status, x, err)
		}
		return x
	}
	title := "new title"
	send := map[experiments.Command]func(id string) error{
		experiments.CommandRevise: func(id string) error {
			_, err := svc.ReviseExperiment(ctx, local, id, experiments.ReviseExperiment{Title: &title})
			return err
		},
		experiments.CommandStart: func(id string) error {
			_, err := svc.StartExperiment(ctx, local, id, experiments.StartExperiment{})
			return err
		},
		experiments.CommandConclude: func(id string) error {
			_, err := svc.ConcludeExperiment(ctx, local, id, experiments.ConcludeExperiment{Outcome: "succeeded", Decision: "scale", Summary: "s"})
			return err
		},
		experiments.CommandReviseOutcome: func(id string) error {
			_, err := svc.ReviseOutcome(ctx, local, id, experiments.ReviseOutcome{Outcome: "inconclusive", Reason: "r"})
			return err
		},
		experiments.CommandAbandon: func(id string) error {
			_, err := svc.AbandonExperiment(ctx, local, id, experiments.AbandonExperiment{Reason: "r"})
			return err
		},
		experiments.CommandRecordLearning: func(id string) error {
			_, err := svc.RecordLearning(ctx, local, id, experiments.RecordLearning{Text: "t"})
			return err
		},
	}
	if len(send) != len(experiments.ExperimentCommands) {
		t.Fatalf("the test sends %d commands, the domain has %d", len(send), len(experiments.ExperimentCommands))
	}
	for _, status := range experiments.Statuses {
		for _, cmd := range experiments.ExperimentCommands {
			t.Run(status+"/"+string(cmd), func(t *testing.T) {
				x := into(t, status)
				err := send[cmd](x.ID)
				if x.Allows(cmd) {
					if err != nil {
						t.Fatalf("%s on a %s experiment: %v, want it allowed", cmd, status, err)
					}
					return
				}
				wantCode(t, err, experiments.CodeConflict)
			})
		}
	}
}

func TestAllowsRefusesUnknownCommands(t *testing.T) {
	x := experiments.Experiment{Status: experiments.StatusPlanned}
	if x.Allows("launch") {
		t.Fatal("an unknown command is allowed")
	}
}
