package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// emitWebhookEvents writes every webhook event, through the webhook
// engine's commands, with as many optional fields set as they allow.
func emitWebhookEvents(t *testing.T, store *events.Store) {
	t.Helper()
	ctx := context.Background()
	m, err := webhooks.NewManager(ctx, webhooks.Config{
		Store: store, ServerKey: []byte("0123456789abcdef0123456789abcdef"), Visible: webhooks.StreamVisibility(store),
	})
	if err != nil {
		t.Fatal(err)
	}
	meta := experiments.Meta{Actor: "ada", CorrelationID: "corr-2", CausationID: "req-2"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sub, err := m.Create(ctx, meta, webhooks.CreateInput{
		Team: "growth", TargetURL: "http://hooks.example.com/failforward", Events: []string{events.ExperimentConcluded},
		Teams: []string{"growth"}, Format: webhooks.FormatChat, AllowPlainHTTP: true,
	})
	must(err)
	url, evs, teams, format, plain := "https://hooks.example.com/v2", []string{events.ExperimentConcluded, events.InnovationLinked}, []string{"growth", "platform"}, webhooks.FormatCloudEvents, false
	_, err = m.Change(ctx, meta, sub.ID, webhooks.ChangeInput{TargetURL: &url, Events: &evs, Teams: &teams, Format: &format, AllowPlainHTTP: &plain, RotateSecret: true})
	must(err)
	_, err = m.Replay(ctx, meta, sub.ID, webhooks.ReplayInput{FromPosition: 1})
	must(err)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_, err = m.Replay(ctx, meta, sub.ID, webhooks.ReplayInput{FromTime: &from})
	must(err)
	_, err = m.Pause(ctx, meta, sub.ID, "receiver down for maintenance")
	must(err)
	_, err = m.Resume(ctx, meta, sub.ID)
	must(err)
	_, err = m.Delete(ctx, meta, sub.ID)
	must(err)
}
