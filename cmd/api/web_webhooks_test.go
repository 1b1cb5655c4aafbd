package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

var (
	secretPattern    = regexp.MustCompile(`<code id="secret-value">(whsec_[^<]+)</code>`)
	webhookIDPattern = regexp.MustCompile(`action="/webhooks/([0-9A-Z]{26})/rotate"`)
)

// signedIn returns a browser signed in as role.
func (a *authed) signedIn(role experiments.Role) *webClient {
	a.t.Helper()
	c := newWebClient(a.t, a.app)
	c.signIn(a.tokens[role], "/")
	return c
}

// pollPage polls GET path until its body contains want.
func (c *webClient) pollPage(path, want string) {
	c.t.Helper()
	pollFor(c.t, 10*time.Second, "GET "+path+" shows "+want, func() bool {
		return strings.Contains(string(c.get(path).body), want)
	})
}

// TestWebWebhookPages walks the webhook pages: who gets them and the
// menu's link, the create form (its errors, and the secret shown once),
// pause with a reason, resume, rotate, replay for admins, and delete.
func TestWebWebhookPages(t *testing.T) {
	a := startAuthed(t)
	viewer := a.signedIn(experiments.RoleViewer)
	if r := viewer.get("/webhooks"); r.status != http.StatusForbidden {
		t.Errorf("a viewer's GET /webhooks = %d, want 403", r.status)
	}
	if r := viewer.get("/"); strings.Contains(string(r.body), `href="/webhooks"`) {
		t.Error("the menu offers webhooks to a viewer")
	}
	member := a.signedIn(experiments.RoleMember)
	if r := member.get("/"); !strings.Contains(string(r.body), `href="/webhooks"`) {
		t.Error("the menu does not offer webhooks to a member")
	}
	if r := member.get("/webhooks/new"); strings.Contains(string(r.body), "allow_plain_http") {
		t.Error("the form offers plain http to a member")
	}

	before := a.streamLast()
	bad := member.form("/webhooks/new", "target_url", "https://hooks.example.com/x", "format", "cloudevents")
	r := member.post("/webhooks/new", bad)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="events-error"`) {
		t.Fatalf("a webhook without events = %d, want 422 with the error beside the events:\n%s", r.status, r.body)
	}
	if a.streamLast() != before {
		t.Error("a refused webhook form appended to the stream")
	}

	form := member.form("/webhooks/new", "target_url", "https://hooks.example.com/x", "format", "cloudevents", "teams", "growth")
	form.Add("events", "experiment.concluded")
	form.Add("events", "innovation.linked")
	r = member.post("/webhooks/new", form)
	secret, id := secretPattern.FindSubmatch(r.body), webhookIDPattern.FindSubmatch(r.body)
	if r.status != http.StatusCreated || secret == nil || id == nil {
		t.Fatalf("create = %d, want 201 with the secret:\n%s", r.status, r.body)
	}
	page := "/webhooks/" + string(id[1])
	if r := member.get(page); r.status != http.StatusOK || strings.Contains(string(r.body), string(secret[1])) {
		t.Fatalf("GET %s = %d; the secret shown again: %v", page, r.status, strings.Contains(string(r.body), string(secret[1])))
	}
	member.pollPage("/webhooks", page)

	r = member.post(page+"/pause", member.form(page, "reason", "receiver moving"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != page {
		t.Fatalf("pause = %d to %q, want 303 to %s:\n%s", r.status, r.header.Get("Location"), page, r.body)
	}
	member.pollPage("/webhooks", "receiver moving")
	if r := member.post(page+"/resume", member.form(page)); r.status != http.StatusSeeOther {
		t.Fatalf("resume = %d:\n%s", r.status, r.body)
	}
	member.pollPage(page, "Active")
	r = member.post(page+"/rotate", member.form(page))
	if rotated := secretPattern.FindSubmatch(r.body); r.status != http.StatusOK || rotated == nil || string(rotated[1]) == string(secret[1]) {
		t.Fatalf("rotate = %d, want the page with a new secret:\n%s", r.status, r.body)
	}

	if r := member.get(page); strings.Contains(string(r.body), "/replay") {
		t.Error("a member is offered the replay form")
	}
	if r := member.post(page+"/replay", member.form(page, "from_position", "1")); r.status != http.StatusForbidden {
		t.Errorf("a member's replay = %d, want 403", r.status)
	}
	admin := a.signedIn(experiments.RoleAdmin)
	if r := admin.post(page+"/replay", admin.form(page, "from_position", "x")); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="from_position-error"`) {
		t.Errorf("a replay from a bad position = %d, want 422 beside the field:\n%s", r.status, r.body)
	}
	if r := admin.post(page+"/replay", admin.form(page, "from_position", "1")); r.status != http.StatusSeeOther {
		t.Errorf("an admin's replay = %d, want 303:\n%s", r.status, r.body)
	}
	lead := a.signedIn(experiments.RoleLead)
	if r := lead.get(page); r.status != http.StatusOK {
		t.Errorf("a lead of the team: GET %s = %d, want 200", page, r.status)
	}
	if r := member.post(page+"/delete", member.form(page)); r.status != http.StatusSeeOther || r.header.Get("Location") != "/webhooks" {
		t.Fatalf("delete = %d to %q, want 303 to /webhooks", r.status, r.header.Get("Location"))
	}
	if r := member.get(page); r.status != http.StatusNotFound {
		t.Errorf("GET %s after delete = %d, want 404", page, r.status)
	}
}
