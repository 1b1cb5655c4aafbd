package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// storyOf publishes, as admin, a story of the target's team and
// visibility about a concluded experiment of the target, and returns its
// id. A confidential target's story is about its confidential experiment.
func (a *authed) storyOf(tg target, title string) string {
	a.t.Helper()
	x := a.seed(tg.team(), tg.visibility(), "concluded", title)
	return a.must(201, "POST", "/v1/stories", map[string]any{"team": tg.team(), "title": title, "learned": "learned " + title,
		"experiment_ids": []string{x}, "visibility": tg.visibility()}, a.as(experiments.RoleAdmin)...)["id"].(string)
}

// principalOf is the principal of a role's token in startAuthed.
func principalOf(role experiments.Role) *experiments.Principal {
	p := &experiments.Principal{Name: string(role) + "-ada", Role: role, Teams: []string{"growth"}}
	if role == experiments.RoleAdmin {
		p.Teams = nil
	}
	return p
}

// TestStoryAccessEveryRouteRoleAndTeam drives every story route as every
// role against a story of its own team, of another team, and one of
// another team about a confidential experiment. Stories are published by
// the admin, so the admin is their author.
func TestStoryAccessEveryRouteRoleAndTeam(t *testing.T) {
	top := startAuthed(t)
	a := top
	type request struct {
		method, path string
		body         any
	}
	// A route's prepare makes fresh resources for one case and returns
	// the request, the command (or kind of read) whose rule decides it,
	// and the status when allowed.
	type route struct {
		name    string
		prepare func(tg target, title string) (request, experiments.StoryCommand, int)
	}
	routes := []route{
		{"publish", func(tg target, title string) (request, experiments.StoryCommand, int) {
			x := a.seed(tg.team(), tg.visibility(), "concluded", title)
			return request{"POST", "/v1/stories", map[string]any{"team": tg.team(), "title": title, "learned": "l",
				"experiment_ids": []string{x}, "visibility": tg.visibility()}}, "publish", 201
		}},
		{"revise", func(tg target, title string) (request, experiments.StoryCommand, int) {
			return request{"PATCH", "/v1/stories/" + a.storyOf(tg, title), map[string]any{"tried": "again"}}, experiments.StoryRevise, 200
		}},
		{"retract", func(tg target, title string) (request, experiments.StoryCommand, int) {
			return request{"POST", "/v1/stories/" + a.storyOf(tg, title) + "/retract", nil}, experiments.StoryRetract, 200
		}},
		{"helped", func(tg target, title string) (request, experiments.StoryCommand, int) {
			return request{"POST", "/v1/stories/" + a.storyOf(tg, title) + "/helped", nil}, experiments.StoryHelped, 200
		}},
		{"get story", func(tg target, title string) (request, experiments.StoryCommand, int) {
			return request{"GET", "/v1/stories/" + a.storyOf(tg, title), nil}, "read", 200
		}},
		{"stories", func(tg target, title string) (request, experiments.StoryCommand, int) {
			a.storyOf(tg, title)
			return request{"GET", "/v1/stories", nil}, "list", 200
		}},
		{"stories about an experiment", func(tg target, title string) (request, experiments.StoryCommand, int) {
			x := a.seed(tg.team(), tg.visibility(), "concluded", title)
			a.must(201, "POST", "/v1/stories", map[string]any{"team": tg.team(), "title": title, "learned": "l", "experiment_ids": []string{x}},
				a.as(experiments.RoleAdmin)...)
			return request{"GET", "/v1/stories?experiment_id=" + x, nil}, "list", 200
		}},
	}
	for _, rt := range routes {
		for _, role := range experiments.Roles {
			for _, tg := range []target{ownTeam, otherTeam, confidential} {
				t.Run(fmt.Sprintf("%s/%s/%s", rt.name, role, tg), func(t *testing.T) {
					sub := *top.app
					sub.t = t
					a = &authed{app: &sub, tokens: top.tokens, authDir: top.authDir}
					title := fmt.Sprintf("story-%s-%s-%s", strings.ReplaceAll(rt.name, " ", "_"), role, strings.ReplaceAll(string(tg), " ", "_"))
					if tg == confidential {
						title = secret + "-" + title
					}
					req, cmd, want := rt.prepare(tg, title)
					p := principalOf(role)
					story := experiments.Story{ID: "s", Team: tg.team(), Visibility: tg.visibility(), Author: "admin-ada"}
					see := story.VisibleTo(p)
					switch cmd {
					case "publish":
						if !p.CanPublishStory(tg.team()) {
							want = 403
						} else if !see {
							want = 400 // the experiment does not exist for this role
						}
					case "read":
						if !see {
							want = 404
						}
					case "list":
					default:
						switch err := story.Permits(p, p.Name, cmd); experiments.ErrorCode(err) {
						case experiments.CodeNotFound:
							want = 404
						case experiments.CodeForbidden:
							want = 403
						}
					}
					path := req.path
					if req.method == "GET" {
						sep := "?"
						if strings.Contains(path, "?") {
							sep = "&"
						}
						path += fmt.Sprintf("%smin_position=%d", sep, a.streamLast())
					}
					r := a.do(req.method, path, req.body, a.as(role)...)
					if r.status != want {
						t.Fatalf("%s %s as %s = %d %s, want %d", req.method, req.path, role, r.status, r.body, want)
					}
					if !see && strings.Contains(string(r.body), secret) {
						t.Fatalf("%s may not see the confidential story, but the response holds it: %s", role, r.body)
					}
				})
			}
		}
	}
}

// TestStoryRules checks the refusals of the story commands, that a mark
// is counted once per reader and a second one writes nothing, and that a
// retracted story leaves the feed and its page.
func TestStoryRules(t *testing.T) {
	a := startAuthed(t)
	member, lead := a.as(experiments.RoleMember), a.as(experiments.RoleLead)
	x := a.seed("growth", experiments.VisibilityOrg, "concluded", "Failed upsell")
	story := a.must(201, "POST", "/v1/stories", map[string]any{"title": "My upsell flop", "learned": "ask first",
		"experiment_ids": []string{x}}, lead...)
	id := story["id"].(string)
	if story["author"] != "lead-ada" || story["author_role"] != "lead" || story["team"] != "growth" || story["version"] != 1.0 {
		t.Errorf("published story = %v, want lead-ada's, a lead's, of growth, version 1", story)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"learned": "l", "experiment_ids": []string{x}}, "title"},
		{map[string]any{"title": "t", "experiment_ids": []string{x}}, "learned"},
		{map[string]any{"title": strings.Repeat("t", 201), "learned": "l", "experiment_ids": []string{x}}, "title"},
		{map[string]any{"title": "t", "learned": strings.Repeat("l", 10001), "experiment_ids": []string{x}}, "learned"},
		{map[string]any{"title": "t", "learned": "l", "experiment_ids": []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}}, "experiment_ids"},
		{map[string]any{"title": "t", "learned": "l", "experiment_ids": []string{x}, "visibility": "everyone"}, "visibility"},
	} {
		r := a.do("POST", "/v1/stories", c.body, member...)
		if code, field := r.errField(t); r.status != http.StatusBadRequest || field != c.field {
			t.Errorf("publish %v = %d %s on %q, want 400 on %q", c.body, r.status, code, field, c.field)
		}
	}
	if r := a.do("POST", "/v1/stories", map[string]any{"team": "search", "title": "t", "learned": "l", "experiment_ids": []string{x}}, member...); r.status != http.StatusForbidden {
		t.Errorf("member publishes for search = %d, want 403", r.status)
	}

	marked := a.must(200, "POST", "/v1/stories/"+id+"/helped", nil, member...)
	before := a.streamLast()
	again := a.must(200, "POST", "/v1/stories/"+id+"/helped", nil, member...)
	if got := a.streamLast(); got != before || marked["helped"] != 1.0 || again["helped"] != 1.0 {
		t.Errorf("a second mark wrote %d events, helped %v then %v; want nothing written and 1 twice", got-before, marked["helped"], again["helped"])
	}
	if r := a.do("POST", "/v1/stories/"+id+"/helped", nil, lead...); r.status != http.StatusForbidden {
		t.Errorf("the author marks their own story = %d, want 403", r.status)
	}
	got := a.must(200, "GET", "/v1/stories/"+id+"?min_position="+position(again), nil, member...)
	if got["helped"] != 1.0 || got["title"] != "My upsell flop" {
		t.Errorf("story = %v, want it with one mark", got)
	}
	if r := a.must(200, "GET", "/v1/stories?skill=juggling", nil, member...); len(r["items"].([]any)) != 0 {
		t.Errorf("an unknown skill lists %v, want nothing", r["items"])
	}
	if r := a.must(200, "GET", "/v1/stories?skill=NEGOTIATION&by_leads=true", nil, member...); len(r["items"].([]any)) != 1 {
		t.Errorf("stories by leads on negotiation = %v, want the lead's", r["items"])
	}

	gone := a.must(200, "POST", "/v1/stories/"+id+"/retract", map[string]any{"reason": "told wrong"}, lead...)
	if gone["retracted"] != true {
		t.Errorf("retracted story = %v", gone)
	}
	for _, role := range experiments.Roles {
		if r := a.do("GET", "/v1/stories/"+id+"?min_position="+position(gone), nil, a.as(role)...); r.status != http.StatusNotFound {
			t.Errorf("%s GET a retracted story = %d, want 404", role, r.status)
		}
		if r := a.must(200, "GET", "/v1/stories", nil, a.as(role)...); len(r["items"].([]any)) != 0 {
			t.Errorf("%s's feed still lists the retracted story: %v", role, r["items"])
		}
	}
	if r := a.do("POST", "/v1/stories/"+id+"/helped", nil, member...); r.status != http.StatusConflict {
		t.Errorf("marking a retracted story = %d, want 409", r.status)
	}
}

// TestHiddenStoriesStayHidden publishes a team story of another team and
// a story about a confidential experiment: neither reaches a member or a
// viewer of growth through the feed, the story, the experiment's stories
// or the event stream, while a lead gets them all.
func TestHiddenStoriesStayHidden(t *testing.T) {
	a := startAuthed(t)
	admin := a.as(experiments.RoleAdmin)
	open := a.seed("search", experiments.VisibilityOrg, "concluded", "Open search failure")
	conf := a.seed("search", experiments.VisibilityTeam, "concluded", "Confidential search failure")
	teamStory := a.must(201, "POST", "/v1/stories", map[string]any{"team": "search", "title": secret + "-team story", "learned": "l",
		"experiment_ids": []string{open}, "visibility": "team"}, admin...)["id"].(string)
	// No visibility asked for: the confidential experiment makes it team.
	confStory := a.must(201, "POST", "/v1/stories", map[string]any{"team": "search", "title": secret + "-about a secret", "learned": "l",
		"experiment_ids": []string{conf}}, admin...)
	if confStory["visibility"] != "team" {
		t.Errorf("story about a confidential experiment has visibility %v, want team", confStory["visibility"])
	}
	a.must(200, "POST", "/v1/stories/"+teamStory+"/helped", nil, a.as(experiments.RoleLead)...)
	end := a.seed("growth", experiments.VisibilityOrg, "planned", "the end")
	pos := fmt.Sprintf("?min_position=%d", a.streamLast())
	for _, c := range []struct {
		role experiments.Role
		sees bool
	}{{experiments.RoleMember, false}, {experiments.RoleViewer, false}, {experiments.RoleLead, true}, {experiments.RoleAdmin, true}} {
		for _, path := range []string{"/v1/stories" + pos, "/v1/stories" + pos + "&team=search", "/v1/stories" + pos + "&experiment_id=" + open,
			"/v1/stories" + pos + "&skill=negotiation", "/v1/stories/" + teamStory + pos, "/v1/stories/" + confStory["id"].(string) + pos} {
			r := a.do("GET", path, nil, a.as(c.role)...)
			if got := strings.Contains(string(r.body), secret); got != c.sees {
				t.Errorf("%s GET %s shows a hidden story = %v, want %v (%d %s)", c.role, path, got, c.sees, r.status, r.body)
			}
			if !c.sees && strings.HasPrefix(path, "/v1/stories/") && r.status != http.StatusNotFound {
				t.Errorf("%s GET %s = %d, want 404", c.role, path, r.status)
			}
		}
		events := readEvents(t, a.app, a.tokens[c.role], end)
		if got := strings.Contains(events, teamStory) || strings.Contains(events, secret); got != c.sees {
			t.Errorf("%s's event stream shows the hidden stories = %v, want %v", c.role, got, c.sees)
		}
	}
}

// readEvents reads GET /v1/events from the start up to the event of
// aggregate end, and returns what it read.
func readEvents(t *testing.T, a *app, token, end string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/events = %d", resp.StatusCode)
	}
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), end) {
			return b.String()
		}
	}
	t.Fatalf("the event stream ended before the event of %s: %v\n%s", end, sc.Err(), b.String())
	return ""
}

// TestStoryRevisionsFollowAccess widens a team story of another team to
// everyone: a member and a viewer of growth then read the story, but not
// what it said while it was that team's, on the API and on its page,
// while a lead and an admin read both. Once retracted, it is gone with
// its versions for everyone.
func TestStoryRevisionsFollowAccess(t *testing.T) {
	a := startAuthed(t)
	admin := a.as(experiments.RoleAdmin)
	x := a.seed("search", experiments.VisibilityOrg, "concluded", "Open search failure")
	id := a.must(201, "POST", "/v1/stories", map[string]any{"team": "search", "title": secret + "-as told to the team",
		"learned": "l", "experiment_ids": []string{x}, "visibility": "team"}, admin...)["id"].(string)
	widened := a.must(200, "PATCH", "/v1/stories/"+id, map[string]any{"title": "Told to everyone", "visibility": "org"}, admin...)
	pos := "?min_position=" + position(widened)
	pages := map[experiments.Role]*webClient{}
	for _, c := range []struct {
		role experiments.Role
		sees bool
	}{{experiments.RoleMember, false}, {experiments.RoleViewer, false}, {experiments.RoleLead, true}, {experiments.RoleAdmin, true}} {
		r := a.do("GET", "/v1/stories/"+id+pos, nil, a.as(c.role)...)
		var got struct {
			Title     string `json:"title"`
			Revisions []struct {
				Version   int    `json:"version"`
				WrittenBy string `json:"written_by"`
				Title     string `json:"title"`
			} `json:"revisions"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Title != "Told to everyone" || got.Revisions == nil {
			t.Fatalf("%s GET the widened story = %d %s", c.role, r.status, r.body)
		}
		if seen := len(got.Revisions) == 1; seen != c.sees || strings.Contains(string(r.body), secret) != c.sees {
			t.Errorf("%s reads the team's version = %v, want %v: %s", c.role, seen, c.sees, r.body)
		} else if seen && (got.Revisions[0].Version != 1 || got.Revisions[0].WrittenBy != "admin-ada") {
			t.Errorf("%s reads the first version as %+v, want version 1 by admin-ada", c.role, got.Revisions[0])
		}
		pages[c.role] = newWebClient(t, a.app)
		pages[c.role].signIn(a.tokens[c.role], "/")
		page := pages[c.role].get("/stories/" + id)
		if body := string(page.body); page.status != http.StatusOK || strings.Contains(body, secret) != c.sees ||
			strings.Contains(body, "Earlier versions") != c.sees {
			t.Errorf("%s's page of the widened story = %d, shows the team's version: %v, want %v:\n%s",
				c.role, page.status, strings.Contains(body, secret), c.sees, body)
		}
	}
	gone := a.must(200, "POST", "/v1/stories/"+id+"/retract", nil, admin...)
	for role, web := range pages {
		if r := a.do("GET", "/v1/stories/"+id+"?min_position="+position(gone), nil, a.as(role)...); r.status != http.StatusNotFound ||
			strings.Contains(string(r.body), secret) {
			t.Errorf("%s GET the retracted story = %d %s, want 404", role, r.status, r.body)
		}
		if r := web.get("/stories/" + id); r.status != http.StatusNotFound || strings.Contains(string(r.body), secret) {
			t.Errorf("%s's page of the retracted story = %d, want 404", role, r.status)
		}
	}
}
