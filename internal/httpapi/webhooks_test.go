package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// exerciseWebhooks drives every /v1/webhooks route against openapi.yaml:
// its successes, and its refusals of bad input, of viewers, of another
// team's subscription and of a replay by a non-admin.
func exerciseWebhooks(t *testing.T, c *checkedAPI) {
	f := c.contractAPI
	created := decodeBody[webhooks.Result](t, c.send(call{method: "POST", path: "/v1/webhooks", token: f.insider, want: 201,
		header: map[string]string{"Idempotency-Key": "wh-1"},
		body: map[string]any{"target_url": "https://hooks.example.com/failforward", "events": []string{"experiment.concluded"},
			"teams": []string{"growth"}, "format": "chat"}}))
	if !strings.HasPrefix(created.Secret, webhooks.SecretPrefix) || created.Team != "growth" {
		t.Fatalf("create: secret %q, team %q", created.Secret, created.Team)
	}
	path := "/v1/webhooks/" + created.ID
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{}}, "events"},
		{map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.exploded"}}, "events"},
		{map[string]any{"target_url": "not a url", "events": []string{"experiment.concluded"}}, "target_url"},
		{map[string]any{"target_url": "http://hooks.example.com/x", "events": []string{"experiment.concluded"}}, "target_url"},
		{map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}, "teams": []string{"no such team!"}}, "teams"},
	} {
		got := decodeBody[struct{ Error struct{ Field string } }](t, c.send(call{method: "POST", path: "/v1/webhooks", token: f.insider, body: bad.body, want: 400}))
		if got.Error.Field != bad.field {
			t.Errorf("POST /v1/webhooks %v: field %q, want %q", bad.body, got.Error.Field, bad.field)
		}
	}
	c.send(call{method: "POST", path: "/v1/webhooks", token: f.outsider, want: 403,
		body: map[string]any{"target_url": "https://hooks.example.com/x", "events": []string{"experiment.concluded"}}})

	pollUntil(t, "the engine lists the new subscription", func() bool {
		resp, body := f.do(t, "GET", "/v1/webhooks", f.insider, nil)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), created.ID)
	})
	listed := decodeBody[[]webhooks.Subscription](t, c.send(call{method: "GET", path: "/v1/webhooks", token: f.insider, want: 200}))
	if !slices.ContainsFunc(listed, func(s webhooks.Subscription) bool { return s.ID == created.ID }) {
		t.Errorf("GET /v1/webhooks misses %s", created.ID)
	}
	c.send(call{method: "GET", path: "/v1/webhooks", token: f.outsider, want: 403})
	c.send(call{method: "GET", path: path, token: f.insider, want: 200})
	c.send(call{method: "GET", path: path, token: f.lead, want: 404})
	c.send(call{method: "GET", path: path, token: f.outsider, want: 403})

	paused := decodeBody[webhooks.Result](t, c.send(call{method: "PATCH", path: path, token: f.insider, want: 200,
		body: map[string]any{"events": []string{"experiment.concluded", "innovation.linked"}, "paused": true, "reason": "receiver maintenance"}}))
	if paused.Status != webhooks.StatusPaused || paused.PauseReason != "receiver maintenance" || len(paused.Events) != 2 || paused.Secret != "" {
		t.Errorf("PATCH pause: %+v", paused)
	}
	rotated := decodeBody[webhooks.Result](t, c.send(call{method: "PATCH", path: path, token: f.insider, want: 200,
		body: map[string]any{"paused": false, "rotate_secret": true}}))
	if rotated.Status != webhooks.StatusActive || rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Errorf("PATCH resume and rotate: status %s, secret %q", rotated.Status, rotated.Secret)
	}
	c.send(call{method: "PATCH", path: path, token: f.insider, body: map[string]any{"reason": "no pause"}, want: 400})
	c.send(call{method: "PATCH", path: path, token: f.insider, body: map[string]any{"colour": "red"}, want: 400})
	c.send(call{method: "POST", path: path + "/replay", token: f.insider, body: map[string]any{"from_position": 1}, want: 403})
	c.send(call{method: "POST", path: path + "/replay", token: f.admin, body: map[string]any{}, want: 400})
	c.send(call{method: "POST", path: path + "/replay", token: f.admin, body: map[string]any{"from_position": 1}, want: 200})
	c.send(call{method: "GET", path: path + "/deliveries?limit=10", token: f.insider, want: 200})
	c.send(call{method: "GET", path: path + "/deliveries", token: f.lead, want: 404})
	c.send(call{method: "GET", path: path + "/deliveries?limit=0", token: f.insider, want: 400})
	c.send(call{method: "DELETE", path: path, token: f.lead, want: 404})
	c.send(call{method: "DELETE", path: path, token: f.insider, want: 200})
	c.send(call{method: "GET", path: path, token: f.insider, want: 404})
}

// TestEventStreamHidesWebhookEvents checks that GET /v1/events serves
// webhook events to admins alone: their target URLs can be credentials,
// and leads, who see every experiment, see no subscription.
func TestEventStreamHidesWebhookEvents(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	sub, err := f.webhooks.Create(ctx, experiments.Meta{Actor: "admin"}, webhooks.CreateInput{
		Team: "growth", TargetURL: "https://hooks.example.com/token-in-path-9c1e", Events: []string{events.ExperimentConcluded},
	})
	if err != nil {
		t.Fatal(err)
	}
	end := registerExperiment(t, f.svc, "growth", "org")
	for _, tt := range []struct {
		viewer, token string
		sees          bool
	}{
		{"admin", f.admin, true}, {"lead", f.lead, false}, {"insider", f.insider, false}, {"outsider", f.outsider, false},
	} {
		for _, query := range []string{"", "type=webhook.created,experiment.registered"} {
			t.Run(tt.viewer+"/"+query, func(t *testing.T) {
				s := f.openStream(t, tt.token, query, "")
				saw := false
				for {
					m := s.next(t)
					if strings.HasPrefix(m.event, events.TypePrefix+"webhook.") || strings.Contains(m.data, "token-in-path") {
						saw = true
					}
					if m.id == strconv.FormatUint(end.Position, 10) {
						break
					}
				}
				if saw != tt.sees {
					t.Errorf("%s sees webhook %s's events = %v, want %v", tt.viewer, sub.ID, saw, tt.sees)
				}
			})
		}
	}
}

// TestHistoryServesNoWebhook checks that the history routes, which read
// the read models' history of experiments and innovations, do not serve
// a webhook subscription's events under its id.
func TestHistoryServesNoWebhook(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	sub, err := f.webhooks.Create(context.Background(), experiments.Meta{Actor: "admin"}, webhooks.CreateInput{
		Team: "growth", TargetURL: "https://hooks.example.com/x", Events: []string{events.ExperimentConcluded},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/experiments/", "/v1/innovations/"} {
		path := p + sub.ID + "/history?min_position=" + strconv.FormatUint(sub.Position, 10)
		if resp, body := f.do(t, "GET", path, f.lead, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d %s, want 404", path, resp.StatusCode, body)
		}
	}
}
