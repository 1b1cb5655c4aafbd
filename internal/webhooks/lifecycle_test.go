package webhooks_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

func TestPausedSubscriptionResumesWhereItStopped(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	ctx := context.Background()
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	before := h.register(t, "growth", "Before the pause", experiments.VisibilityOrg)
	r.waitFor(t, 1)

	paused, err := h.m.Pause(ctx, local, sub.ID, "receiver maintenance")
	if err != nil {
		t.Fatal(err)
	}
	if paused.Status != webhooks.StatusPaused || paused.PauseReason != "receiver maintenance" || paused.PausedAutomatically {
		t.Fatalf("paused: %+v", paused)
	}
	h.barrier(t) // the worker has stopped
	var meanwhile []string
	for _, title := range []string{"During the pause 1", "During the pause 2", "During the pause 3"} {
		meanwhile = append(meanwhile, h.eventID(t, h.register(t, "growth", title, experiments.VisibilityOrg).Position))
	}
	if got := r.ids(); len(got) != 1 {
		t.Fatalf("a paused subscription delivered %v", got)
	}

	resumed, err := h.m.Resume(ctx, local, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Status != webhooks.StatusActive || resumed.PauseReason != "" {
		t.Fatalf("resumed: %+v", resumed)
	}
	r.waitFor(t, 4)
	want := append([]string{h.eventID(t, before.Position)}, meanwhile...)
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("after the resume the receiver has %v, want every event once, in stream order: %v", got, want)
	}
}

func TestReplayFromAPositionDeliversFromThere(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	ctx := context.Background()
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	var ids []string
	var positions []uint64
	for _, title := range []string{"One", "Two", "Three"} {
		x := h.register(t, "growth", title, experiments.VisibilityOrg)
		ids, positions = append(ids, h.eventID(t, x.Position)), append(positions, x.Position)
	}
	r.waitFor(t, 3)

	if _, err := h.m.Replay(ctx, local, sub.ID, webhooks.ReplayInput{FromPosition: positions[1]}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 5)
	after := h.register(t, "growth", "Four", experiments.VisibilityOrg)
	r.waitFor(t, 6)
	want := append(slices.Clone(ids), ids[1], ids[2], h.eventID(t, after.Position))
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("receiver has %v, want the replay from position %d, then the new event: %v", got, positions[1], want)
	}

	// A restart of the manager does not replay again: the consumer
	// remembers which replay it did.
	stop := run(t, h.newManager(t))
	h.barrier(t)
	last := h.register(t, "growth", "Five", experiments.VisibilityOrg)
	r.waitFor(t, 7)
	stop()
	if got := r.ids(); len(got) != 7 || got[6] != h.eventID(t, last.Position) {
		t.Errorf("after a second manager started, receiver has %v", got)
	}
}

func TestReplayFromATime(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	first := h.register(t, "growth", "Old", experiments.VisibilityOrg)
	r.waitFor(t, 1)
	// The stream's own timestamp of the first event, minus nothing: a
	// replay from it delivers the event again.
	st, err := h.store.JetStream().Stream(context.Background(), h.store.Stream())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(context.Background(), first.Position)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Replay(context.Background(), local, sub.ID, webhooks.ReplayInput{FromTime: &raw.Time}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 2)
	if got, want := r.ids(), h.eventID(t, first.Position); got[1] != want {
		t.Errorf("replay from a time delivered %v, want %s again", got, want)
	}
}

func TestRestartedManagerLosesNoPendingDelivery(t *testing.T) {
	h := newHarness(t, nil)
	var up atomic.Bool
	r := newReceiver(t, func(int, http.ResponseWriter) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	stop := run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	pending := h.register(t, "growth", "Pending", experiments.VisibilityOrg)
	r.waitFor(t, 2) // failing, and retried
	stop()

	later := h.register(t, "growth", "Written while no manager ran", experiments.VisibilityOrg)
	up.Store(true)
	run(t, h.newManager(t))
	eventually(t, "both events are delivered", func() bool {
		attempts, _ := h.m.Deliveries(context.Background(), sub.ID, 100)
		n := 0
		for _, a := range attempts {
			if a.Outcome == webhooks.OutcomeDelivered {
				n++
			}
		}
		return n == 2
	})
	got := r.ids()
	want := []string{h.eventID(t, pending.Position), h.eventID(t, later.Position)}
	var delivered []string
	for i, id := range got {
		if id != want[0] && id != want[1] {
			t.Errorf("request %d for unknown event %s", i, id)
		}
		if i == len(got)-1 || got[i+1] != id {
			delivered = append(delivered, id)
		}
	}
	if !slices.Equal(delivered, want) {
		t.Errorf("receiver saw %v, want the pending event (retried, one id) and then the later one: %v", got, want)
	}
}

func TestRepeatedFailuresPauseTheSubscription(t *testing.T) {
	h := newHarness(t, func(c *webhooks.Config) { c.PauseAfter = 150 * time.Millisecond })
	var up atomic.Bool
	r := newReceiver(t, func(int, http.ResponseWriter) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	run(t, h.m)
	ctx := context.Background()
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	x := h.register(t, "growth", "Never taken", experiments.VisibilityOrg)

	var got webhooks.Subscription
	eventually(t, "the engine pauses the subscription", func() bool {
		got, _ = h.m.Get(ctx, nil, sub.ID)
		return got.Status == webhooks.StatusPaused
	})
	if !got.PausedAutomatically || !strings.Contains(got.PauseReason, "500") || !strings.Contains(got.PauseReason, h.eventID(t, x.Position)) {
		t.Errorf("paused with %+v, want an automatic pause naming the failures", got)
	}
	last, err := h.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := h.store.Get(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != events.TypeOf(events.WebhookPaused) || rec.Subject != sub.ID {
		t.Errorf("last event is %s on %s, want the pause", rec.Type, rec.Subject)
	}

	up.Store(true)
	if _, err := h.m.Resume(ctx, local, sub.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the event is delivered after the resume", func() bool {
		attempts, _ := h.m.Deliveries(ctx, sub.ID, 1)
		return len(attempts) == 1 && attempts[0].Outcome == webhooks.OutcomeDelivered && attempts[0].Position == x.Position
	})
}

func TestDeletedSubscriptionStopsAndIsGone(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	ctx := context.Background()
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	h.register(t, "growth", "Delivered", experiments.VisibilityOrg)
	r.waitFor(t, 1)
	if _, err := h.m.Delete(ctx, local, sub.ID); err != nil {
		t.Fatal(err)
	}
	h.barrier(t)
	h.register(t, "growth", "Not delivered", experiments.VisibilityOrg)
	if _, err := h.m.Get(ctx, nil, sub.ID); !experimentsNotFound(err) {
		t.Errorf("Get of a deleted subscription = %v, want not found", err)
	}
	for _, s := range h.m.List(ctx, nil) {
		if s.ID == sub.ID {
			t.Errorf("List still has the deleted subscription")
		}
	}
	if _, err := h.store.JetStream().Consumer(ctx, h.store.Stream(), "webhook_"+sub.ID); err == nil {
		t.Errorf("the deleted subscription's consumer is still there")
	}
	h.barrier(t)
	if got := r.ids(); len(got) != 1 {
		t.Errorf("a deleted subscription delivered %v", got)
	}
}

func TestChangeRetargetsAndRotatesTheSecret(t *testing.T) {
	h := newHarness(t, nil)
	oldReceiver, newer := newReceiver(t, nil), newReceiver(t, nil)
	run(t, h.m)
	ctx := context.Background()
	sub := h.create(t, local, oldReceiver, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	h.register(t, "growth", "To the old target", experiments.VisibilityOrg)
	oldReceiver.waitFor(t, 1)

	target, evs := newer.url(), []string{events.ExperimentRegistered, events.ExperimentStarted}
	res, err := h.m.Change(ctx, local, sub.ID, webhooks.ChangeInput{TargetURL: &target, Events: &evs, RotateSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.SecretRotation != 2 || res.Secret == "" || res.TargetURL != target || len(res.Events) != 2 || res.Version != 2 {
		t.Fatalf("changed: %+v", res)
	}
	newer.setSecret(res.Secret) // the receiver verifies with the new secret only
	x := h.register(t, "growth", "To the new target", experiments.VisibilityOrg)
	if _, err := h.svc.StartExperiment(ctx, local, x.ID, experiments.StartExperiment{}); err != nil {
		t.Fatal(err)
	}
	newer.waitFor(t, 2)
	if n := len(oldReceiver.deliveries()); n != 1 {
		t.Errorf("the old target got %d requests after the change", n)
	}
	if got, _ := h.m.Get(ctx, nil, sub.ID); got.SecretRotation != 2 || got.TargetURL != target {
		t.Errorf("Get after the change: %+v", got)
	}
	if again, err := h.m.Change(ctx, local, sub.ID, webhooks.ChangeInput{}); err != nil || again.Version != 2 || again.Secret != "" {
		t.Errorf("an empty change = %+v, %v; want nothing written and no secret", again, err)
	}
}

func TestListAndGetShowOnlyWhatThePrincipalMaySee(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	ctx := context.Background()
	growth := h.create(t, member("gus", "growth"), r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	platform := h.create(t, member("pat", "platform"), r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	eventually(t, "the manager folds both", func() bool { return len(h.m.List(ctx, nil)) == 2 })

	if got := h.m.List(ctx, member("ann", "growth").Principal); len(got) != 1 || got[0].ID != growth.ID {
		t.Errorf("List for a growth member = %+v, want only growth's subscription", got)
	}
	if got := h.m.List(ctx, &experiments.Principal{Name: "root", Role: experiments.RoleAdmin}); len(got) != 2 {
		t.Errorf("List for an admin has %d subscriptions, want 2", len(got))
	}
	if _, err := h.m.Get(ctx, member("ann", "growth").Principal, platform.ID); !experimentsNotFound(err) {
		t.Errorf("Get of another team's subscription = %v, want not found", err)
	}
	if got, err := h.m.Get(ctx, member("pat", "platform").Principal, platform.ID); err != nil || got.Owner != "pat" ||
		got.OwnerRole != experiments.RoleMember || !slices.Equal(got.OwnerTeams, []string{"platform"}) || got.Team != "platform" {
		t.Errorf("Get by its owner = %+v, %v", got, err)
	}
}

func TestRetriedCreateReturnsTheFirstSubscription(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	meta := local
	meta.IdempotencyKey = "create-1"
	in := webhooks.CreateInput{Team: "growth", TargetURL: "https://hooks.example.com/ff", Events: []string{events.ExperimentConcluded}}
	first, err := h.m.Create(ctx, meta, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.m.Create(ctx, meta, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Secret != first.Secret || again.Version != 1 {
		t.Errorf("retried Create = %+v, want the first %+v", again, first)
	}
	if last, _ := h.store.LastSequence(ctx); last != 1 {
		t.Errorf("a retried Create left %d events, want 1", last)
	}
}
