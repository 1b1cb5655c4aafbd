package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
)

var storyPath = regexp.MustCompile(`^/stories/[0-9A-HJKMNP-TV-Z]{26}$`)

// TestWebStories walks the story pages of the running app: a lead tells
// the story of a failed experiment from its page, a member finds it there
// and marks it helpful once, a viewer is offered no publishing, and a
// team story of another team and a story about a confidential experiment
// appear on no page of the member's.
func TestWebStories(t *testing.T) {
	a := startAuthed(t)
	admin := a.as(experiments.RoleAdmin)
	failed := a.seed("growth", experiments.VisibilityOrg, "concluded", "Checkout redesign")
	open := a.seed("search", experiments.VisibilityOrg, "concluded", "Open search failure")
	conf := a.seed("search", experiments.VisibilityTeam, "concluded", secret+"-experiment")
	teamStory := a.must(201, "POST", "/v1/stories", map[string]any{"team": "search", "title": secret + "-team story", "learned": "l",
		"experiment_ids": []string{open}, "visibility": "team"}, admin...)["id"].(string)
	confStoryRes := a.must(201, "POST", "/v1/stories", map[string]any{"team": "search", "title": secret + "-about a secret", "learned": "l",
		"experiment_ids": []string{conf}}, admin...)
	confStory := confStoryRes["id"].(string)
	// The pages read the read models: wait until they hold every write.
	a.must(200, "GET", "/v1/experiments/"+failed+"?min_position="+position(confStoryRes), nil, admin...)

	lead := newWebClient(t, a.app)
	lead.signIn(a.tokens[experiments.RoleLead], "/")
	if page := string(lead.get("/experiments/" + failed).body); !strings.Contains(page, `href="/stories/new?experiment_id=`+failed+`"`) {
		t.Fatalf("the failed experiment's page offers the lead no story:\n%s", page)
	}
	form := "/stories/new?experiment_id=" + failed
	before := a.streamLast()
	r := lead.post("/stories/new", lead.form(form, "title", "", "learned", "ask first", "experiment_ids", failed))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="title-error"`) {
		t.Errorf("a story without a title = %d, want 422 with the error beside the title:\n%s", r.status, r.body)
	}
	r = lead.post("/stories/new", lead.form(form, "team", "growth", "title", "I pushed the redesign", "tried", "a one-page checkout",
		"went_wrong", "conversion fell", "learned", "ask first", "differently", "ship behind a flag", "experiment_ids", failed))
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !storyPath.MatchString(loc) {
		t.Fatalf("lead publishes = %d to %q, want 303 to the story:\n%s", r.status, loc, r.body)
	}
	if got := a.streamLast(); got != before+1 {
		t.Errorf("publishing wrote %d events, want 1", got-before)
	}
	if page := string(lead.get(loc).body); !strings.Contains(page, "lead at the time") || strings.Contains(page, `id="mark-helped"`) {
		t.Errorf("the lead's own story does not name their role, or offers them to mark it:\n%s", page)
	}

	member := newWebClient(t, a.app)
	member.signIn(a.tokens[experiments.RoleMember], "/")
	if page := string(member.get("/experiments/" + failed).body); !strings.Contains(page, `href="`+loc+`"`) {
		t.Fatalf("the experiment's page does not list its story for the member:\n%s", page)
	}
	story := member.get(loc)
	if !strings.Contains(string(story.body), `id="mark-helped"`) || strings.Contains(string(story.body), "Retract this story") {
		t.Errorf("the member is not offered the mark, or is offered the retraction:\n%s", story.body)
	}
	mark := member.form(loc)
	before = a.streamLast()
	if r := member.post(loc+"/helped", mark); r.status != http.StatusSeeOther {
		t.Fatalf("member marks = %d:\n%s", r.status, r.body)
	}
	page := string(member.get(loc).body)
	if !strings.Contains(page, `id="helped-count">1<`) || !strings.Contains(page, "You did too") || strings.Contains(page, `id="mark-helped"`) {
		t.Errorf("after the mark, the story page does not show it once:\n%s", page)
	}
	// A second post of a fresh form (a second tab) writes nothing.
	mark.Set("idempotency_key", "another-key-of-16-chars")
	if r := member.post(loc+"/helped", mark); r.status != http.StatusSeeOther {
		t.Errorf("member marks again = %d, want the redirect", r.status)
	}
	if got := a.streamLast(); got != before+1 {
		t.Errorf("two marks wrote %d events, want 1", got-before)
	}

	for _, path := range []string{"/stories", "/stories?team=search", "/stories?skill=negotiation", "/experiments/" + open} {
		body := string(member.get(path).body)
		if strings.Contains(body, secret) || strings.Contains(body, teamStory) || strings.Contains(body, confStory) {
			t.Errorf("member GET %s shows a hidden story:\n%s", path, body)
		}
		if lb := string(lead.get(path).body); path != "/stories?skill=negotiation" && !strings.Contains(lb, secret) {
			t.Errorf("lead GET %s does not show the team stories", path)
		}
	}
	for _, id := range []string{teamStory, confStory} {
		if r := member.get("/stories/" + id); r.status != http.StatusNotFound || strings.Contains(string(r.body), secret) {
			t.Errorf("member GET a hidden story = %d, want 404", r.status)
		}
	}

	viewer := newWebClient(t, a.app)
	viewer.signIn(a.tokens[experiments.RoleViewer], "/")
	for _, path := range []string{"/stories", "/experiments/" + failed} {
		if body := string(viewer.get(path).body); strings.Contains(body, `href="/stories/new`) {
			t.Errorf("viewer's %s offers to publish a story", path)
		}
	}
	if r := viewer.get("/stories/new"); r.status != http.StatusForbidden {
		t.Errorf("viewer opens the publish form = %d, want 403", r.status)
	}
}
