package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

func experimentsNotFound(err error) bool {
	return errors.Is(err, experiments.ErrNotFound)
}

func member(name, team string) experiments.Meta {
	return experiments.Meta{Actor: name, Principal: &experiments.Principal{Name: name, Role: experiments.RoleMember, Teams: []string{team}}}
}

func TestConfidentialEventsNeverReachAnotherTeam(t *testing.T) {
	h := newHarness(t, nil)
	outsider, insider := newReceiver(t, nil), newReceiver(t, nil)
	run(t, h.m)
	evs := []string{events.ExperimentRegistered, events.ExperimentStarted, events.InnovationLinked}
	h.create(t, member("pat", "platform"), outsider, webhooks.CreateInput{Events: evs})
	h.create(t, member("gus", "growth"), insider, webhooks.CreateInput{Events: evs})

	ctx := context.Background()
	secret := h.register(t, "growth", "Confidential pricing test", experiments.VisibilityTeam)
	if _, err := h.svc.StartExperiment(ctx, local, secret.ID, experiments.StartExperiment{}); err != nil {
		t.Fatal(err)
	}
	open := h.register(t, "growth", "Open pricing test", experiments.VisibilityOrg)

	// Deliveries are in stream order: once the open experiment reached the
	// outsider, anything before it that was going to has arrived.
	outsider.waitFor(t, 1)
	insider.waitFor(t, 3)
	if got, want := outsider.ids(), []string{h.eventID(t, open.Position)}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("another team's subscription got %v, want only the open experiment %v", got, want)
	}
	for _, d := range outsider.deliveries() {
		if strings.Contains(string(d.body), secret.ID) {
			t.Errorf("the confidential experiment reached another team: %s", d.body)
		}
	}
}

func TestTeamsNarrowDeliveries(t *testing.T) {
	h := newHarness(t, nil)
	r := newReceiver(t, nil)
	run(t, h.m)
	h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}, Teams: []string{"platform"}})
	h.register(t, "growth", "Not for this subscription", experiments.VisibilityOrg)
	mine := h.register(t, "platform", "For this subscription", experiments.VisibilityOrg)
	r.waitFor(t, 1)
	if got := r.ids(); len(got) != 1 || got[0] != h.eventID(t, mine.Position) {
		t.Errorf("a subscription to team platform got %v", got)
	}
}

func TestPrivateTargetsAreRefusedUnlessAllowed(t *testing.T) {
	h := newHarness(t, func(c *webhooks.Config) { c.AllowPrivateTargets = false })
	ctx := context.Background()
	for _, target := range []string{
		"https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://192.168.0.7/hook", "https://169.254.169.254/latest",
		"https://[::1]/hook", "https://[fd00::1]/hook", "https://0.0.0.0/hook", "https://[::ffff:127.0.0.1]/hook",
		"https://100.64.0.1/hook",
	} {
		_, err := h.m.Create(ctx, local, webhooks.CreateInput{Team: "growth", TargetURL: target, Events: []string{events.ExperimentRegistered}})
		if field := invalidField(err); field != "target_url" {
			t.Errorf("Create(%s) = %v, want invalid target_url", target, err)
		}
	}

	// A host name is checked where it matters: at dial time, against the
	// address it resolves to.
	var hits atomic.Int32
	r := newReceiver(t, func(int, http.ResponseWriter) int { hits.Add(1); return http.StatusOK })
	run(t, h.m)
	target := strings.Replace(r.url(), "127.0.0.1", "localhost", 1)
	sub := h.create(t, local, r, webhooks.CreateInput{TargetURL: target, Events: []string{events.ExperimentRegistered}})
	h.register(t, "growth", "Not to loopback", experiments.VisibilityOrg)
	var attempts []webhooks.Attempt
	eventually(t, "a refused attempt is recorded", func() bool {
		attempts, _ = h.m.Deliveries(ctx, sub.ID, 1)
		return len(attempts) == 1
	})
	if a := attempts[0]; a.Outcome != webhooks.OutcomeFailed || !strings.Contains(a.Error, webhooks.ErrTargetRefused.Error()) || a.StatusCode != 0 {
		t.Errorf("attempt to localhost: %+v, want a refused connection", a)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	h := newHarness(t, nil)
	var followed atomic.Int32
	elsewhere := newReceiver(t, func(int, http.ResponseWriter) int { followed.Add(1); return http.StatusOK })
	r := newReceiver(t, func(_ int, w http.ResponseWriter) int {
		w.Header().Set("Location", elsewhere.url())
		return http.StatusFound
	})
	run(t, h.m)
	sub := h.create(t, local, r, webhooks.CreateInput{Events: []string{events.ExperimentRegistered}})
	h.register(t, "growth", "Redirected", experiments.VisibilityOrg)
	var attempts []webhooks.Attempt
	eventually(t, "the attempt is recorded", func() bool {
		attempts, _ = h.m.Deliveries(context.Background(), sub.ID, 10)
		return len(attempts) == 1
	})
	if a := attempts[0]; a.StatusCode != http.StatusFound || a.Outcome != webhooks.OutcomeRejected || !strings.Contains(a.Error, elsewhere.url()) {
		t.Errorf("attempt: %+v, want a rejected 302", a)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

// invalidField returns the field of a CodeInvalid error, or "" when err
// is not one.
func invalidField(err error) string {
	var e *experiments.Error
	if !errors.As(err, &e) || e.Code != experiments.CodeInvalid {
		return ""
	}
	return e.Field
}

func TestBadInputIsRefusedWithItsFieldAndAppendsNothing(t *testing.T) {
	h := newHarness(t, func(c *webhooks.Config) { c.AllowPrivateTargets = false })
	ctx := context.Background()
	ok := webhooks.CreateInput{Team: "growth", TargetURL: "https://hooks.example.com/ff", Events: []string{events.ExperimentConcluded}}
	sub, err := h.m.Create(ctx, local, ok)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*webhooks.CreateInput)) webhooks.CreateInput {
		in := ok
		f(&in)
		return in
	}
	creates := []struct {
		name  string
		in    webhooks.CreateInput
		field string
	}{
		{"not a URL", with(func(in *webhooks.CreateInput) { in.TargetURL = "not a url" }), "target_url"},
		{"no URL", with(func(in *webhooks.CreateInput) { in.TargetURL = "" }), "target_url"},
		{"relative URL", with(func(in *webhooks.CreateInput) { in.TargetURL = "/hooks" }), "target_url"},
		{"ftp", with(func(in *webhooks.CreateInput) { in.TargetURL = "ftp://hooks.example.com/" }), "target_url"},
		{"plain http", with(func(in *webhooks.CreateInput) { in.TargetURL = "http://hooks.example.com/" }), "target_url"},
		{"credentials", with(func(in *webhooks.CreateInput) { in.TargetURL = "https://u:p@hooks.example.com/" }), "target_url"},
		{"unknown event", with(func(in *webhooks.CreateInput) { in.Events = []string{"experiment.exploded"} }), "events"},
		{"webhook event", with(func(in *webhooks.CreateInput) { in.Events = []string{events.WebhookCreated} }), "events"},
		{"no events", with(func(in *webhooks.CreateInput) { in.Events = nil }), "events"},
		{"empty events", with(func(in *webhooks.CreateInput) { in.Events = []string{} }), "events"},
		{"bad format", with(func(in *webhooks.CreateInput) { in.Format = "xml" }), "format"},
		{"chat without a chat event", with(func(in *webhooks.CreateInput) {
			in.Format, in.Events = webhooks.FormatChat, []string{events.ExperimentRegistered}
		}), "events"},
		{"bad team filter", with(func(in *webhooks.CreateInput) { in.Teams = []string{"no spaces"} }), "teams"},
		{"bad team", with(func(in *webhooks.CreateInput) { in.Team = "-" }), "team"},
	}
	before, err := h.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range creates {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.m.Create(ctx, local, tt.in)
			if got := invalidField(err); got != tt.field {
				t.Errorf("Create = %v, want invalid %s", err, tt.field)
			}
		})
	}
	bad, none := "ftp://x/", []string{}
	t.Run("change to a bad URL", func(t *testing.T) {
		_, err := h.m.Change(ctx, local, sub.ID, webhooks.ChangeInput{TargetURL: &bad})
		if got := invalidField(err); got != "target_url" {
			t.Errorf("Change = %v, want invalid target_url", err)
		}
	})
	t.Run("change to no events", func(t *testing.T) {
		_, err := h.m.Change(ctx, local, sub.ID, webhooks.ChangeInput{Events: &none})
		if got := invalidField(err); got != "events" {
			t.Errorf("Change = %v, want invalid events", err)
		}
	})
	t.Run("replay from nowhere", func(t *testing.T) {
		_, err := h.m.Replay(ctx, local, sub.ID, webhooks.ReplayInput{})
		if got := invalidField(err); got != "from_position" {
			t.Errorf("Replay = %v, want invalid from_position", err)
		}
	})
	t.Run("replay from two places", func(t *testing.T) {
		now := time.Now()
		_, err := h.m.Replay(ctx, local, sub.ID, webhooks.ReplayInput{FromPosition: 1, FromTime: &now})
		if got := invalidField(err); got != "from_time" {
			t.Errorf("Replay = %v, want invalid from_time", err)
		}
	})
	t.Run("plain http by a member", func(t *testing.T) {
		in := with(func(in *webhooks.CreateInput) { in.TargetURL, in.AllowPlainHTTP = "http://hooks.example.com/", true })
		_, err := h.m.Create(ctx, member("pat", "growth"), in)
		if !errors.Is(err, experiments.ErrForbidden) {
			t.Errorf("Create = %v, want forbidden", err)
		}
	})
	t.Run("another team's webhook", func(t *testing.T) {
		_, err := h.m.Create(ctx, member("pat", "platform"), ok)
		if !errors.Is(err, experiments.ErrForbidden) {
			t.Errorf("Create for team growth by a member of platform = %v, want forbidden", err)
		}
		if _, err := h.m.Pause(ctx, member("pat", "platform"), sub.ID, ""); !experimentsNotFound(err) {
			t.Errorf("Pause of another team's webhook = %v, want not found", err)
		}
	})
	after, err := h.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("refused commands appended %d events", after-before)
	}
}

func TestNewManagerRefusesABadConfig(t *testing.T) {
	h := newHarness(t, nil)
	for name, mod := range map[string]func(*webhooks.Config){
		"no store":         func(c *webhooks.Config) { c.Store = nil },
		"short server key": func(c *webhooks.Config) { c.ServerKey = []byte("short") },
		"no visibility":    func(c *webhooks.Config) { c.Visible = nil },
		"backoff inverted": func(c *webhooks.Config) { c.BackoffBase, c.BackoffMax = time.Minute, time.Second },
		"short ack wait":   func(c *webhooks.Config) { c.AckWait = time.Millisecond },
	} {
		cfg := h.cfg
		mod(&cfg)
		if _, err := webhooks.NewManager(context.Background(), cfg); err == nil {
			t.Errorf("%s: NewManager accepted it", name)
		}
	}
}
