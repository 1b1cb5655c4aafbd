package webhooks_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// conclude starts and concludes x with outcome and one learning.
func (h *harness) conclude(t *testing.T, x experiments.Experiment, outcome, decision, learning string) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.svc.StartExperiment(ctx, local, x.ID, experiments.StartExperiment{}); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.ConcludeExperiment(ctx, local, x.ID, experiments.ConcludeExperiment{
		Outcome: outcome, Decision: decision, Summary: "s", Learnings: []experiments.NewLearning{{Text: learning}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func chatText(t *testing.T, d delivery) string {
	t.Helper()
	if d.contentType != "application/json" {
		t.Errorf("chat message has Content-Type %q", d.contentType)
	}
	var msg map[string]string
	if err := json.Unmarshal(d.body, &msg); err != nil || len(msg) != 1 || msg["text"] == "" {
		t.Fatalf("chat message %s, want {\"text\": ...} (%v)", d.body, err)
	}
	return msg["text"]
}

func TestChatFormatAnnouncesConclusionsAndFailuresThatFedInnovations(t *testing.T) {
	var (
		mu    sync.Mutex
		asked []string
	)
	h := newHarness(t, func(c *webhooks.Config) {
		c.Steps = func(_ context.Context, experimentID, innovationID string) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, experimentID+">"+innovationID)
			return 2, nil
		}
	})
	r := newReceiver(t, nil)
	run(t, h.m)
	h.create(t, local, r, webhooks.CreateInput{
		Format: webhooks.FormatChat,
		Events: []string{events.ExperimentRegistered, events.ExperimentConcluded, events.InnovationLinked},
	})
	ctx := context.Background()
	failed := h.register(t, "growth", "Fake door <for> exports", experiments.VisibilityOrg)
	h.conclude(t, failed, experiments.OutcomeFailed, "pivot", "admins export, not users")
	won := h.register(t, "growth", "Export pilot", experiments.VisibilityOrg)
	h.conclude(t, won, experiments.OutcomeSucceeded, "scale", "pilots convert")
	inn, err := h.svc.RecordInnovation(ctx, local, experiments.RecordInnovation{
		Team: "platform", Title: "Admin exports", Description: "d",
		InformedBy: []experiments.LinkInput{{ExperimentID: won.ID}, {ExperimentID: failed.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Registrations have no chat message, and a link to a success is no
	// failure feeding an innovation: three messages in all.
	got := r.waitFor(t, 3)
	first := chatText(t, got[0])
	for _, want := range []string{"Fake door &lt;for&gt; exports", "failed", "pivot", "admins export, not users",
		"https://failforward.example/experiments/" + failed.ID} {
		if !strings.Contains(first, want) {
			t.Errorf("conclusion message %q lacks %q", first, want)
		}
	}
	if second := chatText(t, got[1]); !strings.Contains(second, "Export pilot") || !strings.Contains(second, "succeeded") {
		t.Errorf("second message %q, want the successful conclusion", second)
	}
	fed := chatText(t, got[2])
	for _, want := range []string{"Fake door &lt;for&gt; exports", "Admin exports", "2 steps",
		"https://failforward.example/experiments/" + failed.ID} {
		if !strings.Contains(fed, want) {
			t.Errorf("failure-fed message %q lacks %q", fed, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != failed.ID+">"+inn.ID {
		t.Errorf("Steps asked for %v, want the failure and the innovation", asked)
	}
	h.barrier(t)
	if n := len(r.deliveries()); n != 3 {
		t.Errorf("receiver got %d chat messages, want 3", n)
	}
}
