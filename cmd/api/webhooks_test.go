package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// receiver is a webhook receiver on loopback that keeps every delivery.
type receiver struct {
	srv *httptest.Server
	// failing makes it answer 503, which the engine retries.
	failing atomic.Bool
	mu      sync.Mutex
	got     []delivery
}

type delivery struct {
	id   string // webhook-id: the event's id
	body string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{id: r.Header.Get(webhooks.HeaderID), body: string(b)})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitFor polls until a delivery's body contains s, and returns every
// delivery so far.
func (rc *receiver) waitFor(t *testing.T, s string) []delivery {
	t.Helper()
	var got []delivery
	pollFor(t, 60*time.Second, "a delivery containing "+s, func() bool {
		got = rc.deliveries()
		return slices.ContainsFunc(got, func(d delivery) bool { return strings.Contains(d.body, s) })
	})
	return got
}

// subscribe creates, as role, a subscription to a private https address
// that nothing listens on, then has the admin point it at rc over plain
// http, which only an admin may allow: the subscription stays role's, and
// delivers only what role may see.
func (a *authed) subscribe(role experiments.Role, rc *receiver, events ...string) string {
	a.t.Helper()
	id := a.must(201, "POST", "/v1/webhooks", map[string]any{"target_url": "https://127.0.0.1:1/hook", "events": events}, a.as(role)...)["id"].(string)
	a.must(200, "PATCH", "/v1/webhooks/"+id, map[string]any{"target_url": rc.srv.URL + "/hook", "allow_plain_http": true}, a.as(experiments.RoleAdmin)...)
	return id
}

// TestWebhookAccessEveryRouteAndRole drives every /v1/webhooks route as
// every role against a subscription of its own team and one of another
// team: admins manage all, members and leads their team's, viewers none,
// and another team's subscription does not exist for them.
func TestWebhookAccessEveryRouteAndRole(t *testing.T) {
	a := startAuthed(t)
	admin := a.as(experiments.RoleAdmin)
	newSub := func(team string) string {
		return a.must(201, "POST", "/v1/webhooks", map[string]any{"team": team, "target_url": "https://hooks.example.com/" + team,
			"events": []string{"experiment.concluded"}}, admin...)["id"].(string)
	}
	type request struct {
		method, path string
		body         any
		ok           int
	}
	routes := map[string]func(id string) request{
		"create": func(string) request { return request{"POST", "/v1/webhooks", nil, 201} },
		"list":   func(string) request { return request{"GET", "/v1/webhooks", nil, 200} },
		"get":    func(id string) request { return request{"GET", "/v1/webhooks/" + id, nil, 200} },
		"change": func(id string) request {
			return request{"PATCH", "/v1/webhooks/" + id, map[string]any{"format": "chat"}, 200}
		},
		"pause": func(id string) request {
			return request{"PATCH", "/v1/webhooks/" + id, map[string]any{"paused": true, "reason": "r"}, 200}
		},
		"rotate": func(id string) request {
			return request{"PATCH", "/v1/webhooks/" + id, map[string]any{"rotate_secret": true}, 200}
		},
		"delete": func(id string) request { return request{"DELETE", "/v1/webhooks/" + id, nil, 200} },
		"replay": func(id string) request {
			return request{"POST", "/v1/webhooks/" + id + "/replay", map[string]any{"from_position": 1}, 200}
		},
		"deliveries": func(id string) request { return request{"GET", "/v1/webhooks/" + id + "/deliveries", nil, 200} },
	}
	for name, route := range routes {
		for _, role := range experiments.Roles {
			for _, tg := range []target{ownTeam, otherTeam} {
				t.Run(fmt.Sprintf("%s/%s/%s", name, role, tg), func(t *testing.T) {
					id := newSub(tg.team())
					req := route(id)
					if name == "create" {
						req.body = map[string]any{"team": tg.team(), "target_url": "https://hooks.example.com/new", "events": []string{"experiment.concluded"}}
					}
					want := req.ok
					switch {
					case role == experiments.RoleAdmin:
					case role == experiments.RoleViewer:
						want = 403
					case name == "list":
					case name == "create" && tg == otherTeam:
						want = 403
					case name == "create":
					case tg == otherTeam:
						want = 404
					case name == "replay":
						want = 403
					}
					before := a.streamLast()
					r := a.do(req.method, req.path, req.body, a.as(role)...)
					if r.status != want {
						t.Fatalf("%s %s as %s = %d %s, want %d", req.method, req.path, role, r.status, r.body, want)
					}
					if want >= 400 && a.streamLast() != before {
						t.Errorf("a refused %s appended to the stream", name)
					}
					if name == "list" && want == 200 {
						// The list is what the engine has folded, which may
						// lag a moment behind the create.
						if shows := role == experiments.RoleAdmin || tg == ownTeam; !listShows(a, role, id, shows) {
							t.Errorf("GET /v1/webhooks as %s: shows the subscription of %s = %v", role, tg, !shows)
						}
					}
				})
			}
		}
	}
}

// listShows reports whether the list as role shows id as want says,
// polling a while when it should: the list is what the engine has
// folded, which may lag a moment behind a create.
func listShows(a *authed, role experiments.Role, id string, want bool) bool {
	shows := func() bool { return strings.Contains(string(a.do("GET", "/v1/webhooks", nil, a.as(role)...).body), id) }
	if !want {
		return !shows()
	}
	pollFor(a.t, 10*time.Second, "the list shows "+id, shows)
	return true
}

// TestWebhookBadInputAppendsNothing sends bad subscriptions: each is
// answered 400 with the field, and the stream does not move.
func TestWebhookBadInputAppendsNothing(t *testing.T) {
	a := startAuthed(t)
	member := a.as(experiments.RoleMember)
	id := a.must(201, "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}}, member...)["id"].(string)
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"invalid URL", "POST", "/v1/webhooks", map[string]any{"target_url": "hooks example", "events": []string{"experiment.concluded"}}, 400, "target_url"},
		{"unknown event type", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.exploded"}}, 400, "events"},
		{"webhook event type", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"webhook.created"}}, 400, "events"},
		{"empty events", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{}}, 400, "events"},
		{"bad team", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}, "teams": []string{"no such team!"}}, 400, "teams"},
		{"bad format", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}, "format": "xml"}, 400, "format"},
		{"plain http", "POST", "/v1/webhooks", map[string]any{"target_url": "http://hooks.example.com/x", "events": []string{"experiment.concluded"}}, 400, "target_url"},
		{"private address", "POST", "/v1/webhooks", map[string]any{"target_url": "https://10.0.0.1/x", "events": []string{"experiment.concluded"}}, 400, "target_url"},
		{"plain http allowed by a member", "POST", "/v1/webhooks", map[string]any{"target_url": "http://hooks.example.com/x", "events": []string{"experiment.concluded"}, "allow_plain_http": true}, 403, "allow_plain_http"},
		{"unknown field", "POST", "/v1/webhooks", map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}, "secret": "mine"}, 400, "secret"},
		{"change to plain http", "PATCH", "/v1/webhooks/" + id, map[string]any{"target_url": "http://hooks.example.com/x"}, 403, "target_url"},
		{"change to no events", "PATCH", "/v1/webhooks/" + id, map[string]any{"events": []string{}}, 400, "events"},
		{"reason without pause", "PATCH", "/v1/webhooks/" + id, map[string]any{"reason": "why"}, 400, "reason"},
		{"replay from nowhere", "POST", "/v1/webhooks/" + id + "/replay", map[string]any{}, 400, "from_position"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := a.streamLast()
			headers := member
			if c.name == "replay from nowhere" {
				headers = a.as(experiments.RoleAdmin)
			}
			r := a.do(c.method, c.path, c.body, headers...)
			if r.status != c.status {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
			}
			if _, field := r.errField(t); field != c.field {
				t.Errorf("field %q, want %q (%s)", field, c.field, r.body)
			}
			if after := a.streamLast(); after != before {
				t.Errorf("the stream moved from %d to %d", before, after)
			}
		})
	}
}

// TestWebhookConfidentialStaysInItsTeam delivers through the api: a
// member's subscription gets another team's open experiments but never
// its confidential one, which a lead's subscription does get.
func TestWebhookConfidentialStaysInItsTeam(t *testing.T) {
	a := startAuthedEnv(t, map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true"})
	memberRC, leadRC := newReceiver(t), newReceiver(t)
	a.subscribe(experiments.RoleMember, memberRC, "experiment.registered", "experiment.concluded")
	a.subscribe(experiments.RoleLead, leadRC, "experiment.registered", "experiment.concluded")
	a.seed("search", experiments.VisibilityTeam, "concluded", secret)
	a.seed("search", experiments.VisibilityOrg, "concluded", "open search work")
	a.seed("growth", experiments.VisibilityOrg, "planned", "marker-of-the-end")

	got := memberRC.waitFor(t, "marker-of-the-end")
	var open bool
	for _, d := range got {
		if strings.Contains(d.body, secret) {
			t.Fatalf("the member's subscription received the confidential experiment of another team: %s", d.body)
		}
		open = open || strings.Contains(d.body, "open search work")
	}
	if !open {
		t.Errorf("the member's subscription did not receive another team's open experiment")
	}
	leadRC.waitFor(t, secret)
}

// TestWebhookRestartLosesNoDelivery stops the api while a receiver is
// down and deliveries are pending, starts it again on the same DATA_DIR,
// and checks that every event arrives, under the event's id.
func TestWebhookRestartLosesNoDelivery(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "WEBHOOK_ALLOW_PRIVATE": "true"}
	rc := newReceiver(t)
	rc.failing.Store(true)
	a := startApp(t, env)
	key, err := os.ReadFile(filepath.Join(dir, "webhook.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "webhook.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("webhook.key: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	sub := a.must(201, "POST", "/v1/webhooks", map[string]any{"team": "growth", "target_url": rc.srv.URL, "allow_plain_http": true,
		"events": []string{"experiment.registered"}})
	var ids []string
	for i := range 3 {
		x := a.must(201, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": fmt.Sprint("pending ", i), "hypothesis": "h"})
		ids = append(ids, x["id"].(string))
	}
	// The first attempt failed before the stop: the delivery is pending.
	pollFor(t, 30*time.Second, "a failed attempt is recorded", func() bool {
		r := a.do("GET", "/v1/webhooks/"+sub["id"].(string)+"/deliveries", nil)
		return strings.Contains(string(r.body), webhooks.OutcomeFailed)
	})
	a.stop()

	// The broker hands the event that was being delivered at the stop to
	// the new process once its AckWait (30s) has passed since the last
	// attempt: slow, but nothing is lost.
	rc.failing.Store(false)
	b := startApp(t, env)
	for i := range ids {
		rc.waitFor(t, fmt.Sprint("pending ", i))
	}
	seen := map[string]bool{}
	for _, d := range rc.deliveries() {
		if d.id == "" || seen[d.id] {
			t.Errorf("delivery with webhook-id %q, twice or empty", d.id)
		}
		seen[d.id] = true
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "webhook.key")); !bytes.Equal(after, key) {
		t.Errorf("the webhook key changed across a restart")
	}
	got := b.must(200, "GET", "/v1/webhooks/"+sub["id"].(string), nil)
	if got["status"] != webhooks.StatusActive {
		t.Errorf("after the restart the subscription is %v", got["status"])
	}
}

// pollFor polls cond until it holds, failing the test after d.
func pollFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookKeyMustBeLong refuses a WEBHOOK_KEY too short to keep
// secrets unguessable.
func TestWebhookKeyMustBeLong(t *testing.T) {
	_, err := parseConfig(nil, func(k string) string {
		return map[string]string{"WEBHOOK_KEY": "short"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_KEY") {
		t.Fatalf("parseConfig with a short WEBHOOK_KEY = %v, want an error naming it", err)
	}
}

// TestWebhookChatNotification links a failed experiment to an
// innovation: a chat subscription gets one message, with the lineage
// steps and a link under PUBLIC_URL.
func TestWebhookChatNotification(t *testing.T) {
	rc := newReceiver(t)
	a := startApp(t, map[string]string{"DATA_DIR": t.TempDir(), "WEBHOOK_ALLOW_PRIVATE": "true", "PUBLIC_URL": "https://tracker.example.com/"})
	a.must(201, "POST", "/v1/webhooks", map[string]any{"team": "growth", "target_url": rc.srv.URL, "allow_plain_http": true,
		"format": "chat", "events": []string{"innovation.linked"}})
	x := a.must(201, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "Annual plan banner", "hypothesis": "h"})["id"].(string)
	a.must(200, "POST", "/v1/experiments/"+x+"/start", nil)
	a.must(200, "POST", "/v1/experiments/"+x+"/conclude", map[string]any{"outcome": "failed", "decision": "pivot", "summary": "no lift"})
	inn := a.must(201, "POST", "/v1/innovations", map[string]any{"team": "growth", "title": "Plan picker"})["id"].(string)
	a.must(200, "POST", "/v1/innovations/"+inn+"/links", map[string]any{"experiment_id": x})
	got := rc.waitFor(t, "Plan picker")
	if len(got) != 1 {
		t.Fatalf("%d chat messages, want 1: %v", len(got), got)
	}
	for _, want := range []string{"Annual plan banner", "1 step on", "https://tracker.example.com/experiments/" + x} {
		if !strings.Contains(got[0].body, want) {
			t.Errorf("chat message %s does not contain %q", got[0].body, want)
		}
	}
}
