package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

func TestDeliversSignedCloudEventsInStreamOrder(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered, events.ExperimentStarted}})
	if sub.Status != webhooks.StatusActive || sub.Format != webhooks.FormatCloudEvents || sub.SecretRotation != 1 {
		t.Fatalf("created %+v", sub)
	}

	ctx := context.Background()
	x := h.register(t, "growth", "Fake door", experiments.VisibilityOrg)
	started, err := h.svc.StartExperiment(ctx, local, x.ID, experiments.StartExperiment{})
	if err != nil {
		t.Fatal(err)
	}
	got := r.waitFor(t, 2)
	want := []string{h.eventID(t, x.Position), h.eventID(t, started.Position)}
	if ids := r.ids(); !slices.Equal(ids, want) {
		t.Fatalf("webhook-ids %v, want the events' ids in stream order %v", ids, want)
	}
	for i, d := range got {
		if d.contentType != events.ContentType {
			t.Errorf("delivery %d: Content-Type %q, want %s", i, d.contentType, events.ContentType)
		}
		// The body is the CloudEvent as the stream holds it.
		rec, err := h.store.Get(ctx, []uint64{x.Position, started.Position}[i])
		if err != nil {
			t.Fatal(err)
		}
		var env events.Envelope
		if err := json.Unmarshal(d.body, &env); err != nil || env.ID != rec.ID || env.Type != rec.Type || string(env.Data) != string(rec.Data) {
			t.Errorf("delivery %d: body %s, want the stored event %s (%v)", i, d.body, rec.ID, err)
		}
	}

	var attempts []webhooks.Attempt
	eventually(t, "both attempts are recorded", func() bool {
		attempts, err = h.m.Deliveries(ctx, sub.ID, 10)
		return err == nil && len(attempts) == 2
	})
	// Newest first.
	for i, a := range attempts {
		if a.Outcome != webhooks.OutcomeDelivered || a.StatusCode != http.StatusOK || a.Attempt != 1 || a.EventID != want[1-i] ||
			a.SubscriptionID != sub.ID || a.Time.IsZero() || a.LatencyMS <= 0 {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	if attempts[0].Position != started.Position || attempts[0].EventType != events.ExperimentStarted {
		t.Errorf("newest attempt %+v, want the start at %d", attempts[0], started.Position)
	}
	if one, err := h.m.Deliveries(ctx, sub.ID, 1); err != nil || len(one) != 1 || one[0].EventID != want[1] {
		t.Errorf("Deliveries(limit 1) = %+v, %v; want the newest", one, err)
	}
}

func TestRetriesWithOneWebhookIDUntilTheReceiverRecovers(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, func(n int, w http.ResponseWriter) int {
		switch n {
		case 1:
			return http.StatusInternalServerError
		case 2:
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		case 3:
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	x := h.register(t, "growth", "Retry me", experiments.VisibilityOrg)

	got := r.waitFor(t, 4)
	want := h.eventID(t, x.Position)
	for i, d := range got {
		if d.id != want {
			t.Errorf("request %d has webhook-id %s, want %s for every attempt", i+1, d.id, want)
		}
	}
	if wait := got[2].at.Sub(got[1].at); wait < 900*time.Millisecond {
		t.Errorf("retried %s after a 429 with Retry-After: 1, want at least 1s", wait)
	}
	var attempts []webhooks.Attempt
	eventually(t, "four attempts are recorded", func() bool {
		attempts, _ = h.m.Deliveries(context.Background(), sub.ID, 10)
		return len(attempts) == 4
	})
	slices.Reverse(attempts)
	for i, a := range attempts {
		wantOutcome, wantCode := webhooks.OutcomeFailed, []int{500, 429, 503, 200}[i]
		if i == 3 {
			wantOutcome = webhooks.OutcomeDelivered
		}
		if a.Attempt != i+1 || a.Outcome != wantOutcome || a.StatusCode != wantCode || a.EventID != want {
			t.Errorf("attempt %d: %+v, want attempt %d %s with %d", i, a, i+1, wantOutcome, wantCode)
		}
		if wantOutcome == webhooks.OutcomeFailed && (a.RetryInMS <= 0 || a.Error == "") {
			t.Errorf("failed attempt %d has no retry delay or error: %+v", i, a)
		}
	}
	if time.Duration(attempts[1].RetryInMS*float64(time.Millisecond)) < time.Second {
		t.Errorf("attempt after a Retry-After: 1 planned in %vms", attempts[1].RetryInMS)
	}
	if got := len(r.deliveries()); got != 4 {
		t.Errorf("receiver got %d requests, want 4", got)
	}
}

func TestAnswer400IsNotRetried(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	first := h.register(t, "growth", "Refused", experiments.VisibilityOrg)
	second := h.register(t, "growth", "Taken", experiments.VisibilityOrg)

	r.waitFor(t, 2)
	if ids, want := r.ids(), []string{h.eventID(t, first.Position), h.eventID(t, second.Position)}; !slices.Equal(ids, want) {
		t.Fatalf("receiver got %v, want each event once: %v", ids, want)
	}
	var attempts []webhooks.Attempt
	eventually(t, "two attempts are recorded", func() bool {
		attempts, _ = h.m.Deliveries(context.Background(), sub.ID, 10)
		return len(attempts) == 2
	})
	if a := attempts[1]; a.Outcome != webhooks.OutcomeRejected || a.StatusCode != 400 || a.Position != first.Position || a.Error == "" {
		t.Errorf("attempt of the refused event: %+v", a)
	}
	if a := attempts[0]; a.Outcome != webhooks.OutcomeDelivered || a.Position != second.Position {
		t.Errorf("attempt of the next event: %+v", a)
	}
}

func TestSlowReceiverDelaysOnlyItsOwnSubscription(t *testing.T) {
	h := newHarness(t, func(c *webhooks.Config) { c.AttemptTimeout = time.Minute })
	release := make(chan struct{})
	slow := newReceiver(t, func(int, http.ResponseWriter) int {
		<-release
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	fast := newReceiver(t, nil)
	run(t, h.m)
	evs := []string{events.ExperimentRegistered}
	h.create(t, local, slow, webhooks.CreateInput{Events: evs})
	h.create(t, local, fast, webhooks.CreateInput{Events: evs})
	for _, title := range []string{"One", "Two", "Three"} {
		h.register(t, "growth", title, experiments.VisibilityOrg)
	}
	slow.waitFor(t, 1)
	fast.waitFor(t, 3)
	if n := len(slow.deliveries()); n != 1 {
		t.Errorf("the slow receiver has %d requests while it holds the first, want 1", n)
	}
}
