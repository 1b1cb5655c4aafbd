package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// secret is the title of the confidential experiment: no response to
// someone who may not see it may contain it.
const secret = "TOPSECRET-partner-bet-7f3a"

// authed is an api with AUTH_FILE and a token per role, all in team growth
// but the admin.
type authed struct {
	*app
	tokens  map[experiments.Role]string
	authDir string
}

func startAuthed(t *testing.T) *authed {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.json")
	tokens := map[experiments.Role]string{}
	for _, role := range experiments.Roles {
		teams := []string{"growth"}
		if role == experiments.RoleAdmin {
			teams = nil
		}
		tok, entry, err := auth.NewToken(string(role)+"-ada", role, teams)
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.AddToFile(file, entry); err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	a := startApp(t, map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "AUTH_FILE": file, "WRITES_PER_SECOND": "100000"})
	return &authed{app: a, tokens: tokens, authDir: dir}
}

func (a *authed) as(role experiments.Role) []string {
	return []string{"Authorization", "Bearer " + a.tokens[role]}
}

// seed creates, as admin, an experiment of team with visibility in status
// ("planned", "running", "concluded") and returns its id.
func (a *authed) seed(team, visibility, status, title string) string {
	a.t.Helper()
	admin := a.as(experiments.RoleAdmin)
	id := a.must(201, "POST", "/v1/experiments", map[string]any{"team": team, "title": title, "hypothesis": "h " + title, "visibility": visibility}, admin...)["id"].(string)
	if status == "planned" {
		return id
	}
	a.must(200, "POST", "/v1/experiments/"+id+"/start", nil, admin...)
	if status == "running" {
		return id
	}
	a.must(200, "POST", "/v1/experiments/"+id+"/conclude", map[string]any{"outcome": "failed", "decision": "pivot", "summary": "s " + title,
		"learnings": []map[string]any{{"text": "learned " + title, "skills": []string{"negotiation"}}}}, admin...)
	return id
}

type target string

const (
	ownTeam      target = "own team"
	otherTeam    target = "other team"
	confidential target = "confidential"
)

func (tg target) team() string {
	if tg == ownTeam {
		return "growth"
	}
	return "search"
}

func (tg target) visibility() string {
	if tg == confidential {
		return experiments.VisibilityTeam
	}
	return experiments.VisibilityOrg
}

// access answers what a role may do with the target: see it, write its
// experiments, write its innovations.
func access(role experiments.Role, tg target) (see, writeExp, writeInn bool) {
	p := &experiments.Principal{Role: role, Teams: []string{"growth"}}
	if role == experiments.RoleAdmin {
		p.Teams = nil
	}
	return p.CanSee(tg.team(), tg.visibility()), p.CanWriteExperiment(tg.team()), p.CanWriteInnovation(tg.team())
}

// TestAccessEveryRouteRoleAndTeam drives every route as every role against
// an experiment of its own team, of another team, and a confidential one
// of another team.
func TestAccessEveryRouteRoleAndTeam(t *testing.T) {
	top := startAuthed(t)
	// a is the api as seen from the running subtest, so that a failure in
	// preparing a case fails that case.
	a := top
	type request struct {
		method, path string
		body         any
	}
	type route struct {
		name string
		// prepare makes fresh resources for one case and returns the request
		// and the status when allowed.
		prepare func(tg target, title string) (request, int)
		// kind says which right the route needs.
		kind string // "read-exp", "write-exp", "write-inn", "read-all"
	}
	exp := func(status string) func(tg target, title string) string {
		return func(tg target, title string) string { return a.seed(tg.team(), tg.visibility(), status, title) }
	}
	// Innovations are seen by everyone, so their titles carry no secret.
	innovationOf := func(tg target, title string, linked string) string {
		body := map[string]any{"team": tg.team(), "title": "innovation " + strings.TrimPrefix(title, secret)}
		if linked != "" {
			body["informed_by"] = []map[string]any{{"experiment_id": linked}}
		}
		return a.must(201, "POST", "/v1/innovations", body, a.as(experiments.RoleAdmin)...)["id"].(string)
	}
	routes := []route{
		{"register", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments", map[string]any{"team": tg.team(), "title": title, "hypothesis": "h", "visibility": tg.visibility()}}, 201
		}, "write-exp-new"},
		{"revise", func(tg target, title string) (request, int) {
			return request{"PATCH", "/v1/experiments/" + exp("planned")(tg, title), map[string]any{"owner": "bo"}}, 200
		}, "write-exp"},
		{"start", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments/" + exp("planned")(tg, title) + "/start", nil}, 200
		}, "write-exp"},
		{"conclude", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments/" + exp("running")(tg, title) + "/conclude", map[string]any{"outcome": "failed", "decision": "stop", "summary": "s"}}, 200
		}, "write-exp"},
		{"revise outcome", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments/" + exp("concluded")(tg, title) + "/outcome", map[string]any{"outcome": "inconclusive", "reason": "r"}}, 200
		}, "write-exp"},
		{"abandon", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments/" + exp("running")(tg, title) + "/abandon", map[string]any{"reason": "r"}}, 200
		}, "write-exp"},
		{"learning", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/experiments/" + exp("planned")(tg, title) + "/learnings", map[string]any{"text": "t"}}, 201
		}, "write-exp"},
		{"record innovation", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/innovations", map[string]any{"team": tg.team(), "title": strings.TrimPrefix(title, secret), "informed_by": []map[string]any{{"experiment_id": exp("concluded")(tg, title)}}}}, 201
		}, "write-inn"},
		{"link", func(tg target, title string) (request, int) {
			return request{"POST", "/v1/innovations/" + innovationOf(tg, title, "") + "/links", map[string]any{"experiment_id": exp("concluded")(tg, title)}}, 200
		}, "write-inn"},
		{"unlink", func(tg target, title string) (request, int) {
			e := exp("concluded")(tg, title)
			return request{"DELETE", "/v1/innovations/" + innovationOf(tg, title, e) + "/links/" + e, nil}, 200
		}, "write-inn"},
		{"get experiment", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/experiments/" + exp("concluded")(tg, title), nil}, 200
		}, "read-exp"},
		{"history", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/experiments/" + exp("concluded")(tg, title) + "/history", nil}, 200
		}, "read-exp"},
		{"experiment lineage", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/experiments/" + exp("concluded")(tg, title) + "/lineage", nil}, 200
		}, "read-exp"},
		{"list", func(tg target, title string) (request, int) {
			exp("concluded")(tg, title)
			return request{"GET", "/v1/experiments?q=" + title, nil}, 200
		}, "read-all"},
		{"innovations", func(tg target, title string) (request, int) {
			innovationOf(tg, title, exp("concluded")(tg, title))
			return request{"GET", "/v1/innovations", nil}, 200
		}, "read-all"},
		{"innovation", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/innovations/" + innovationOf(tg, title, exp("concluded")(tg, title)), nil}, 200
		}, "read-all"},
		{"innovation history", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/innovations/" + innovationOf(tg, title, exp("concluded")(tg, title)) + "/history", nil}, 200
		}, "read-all"},
		{"innovation lineage", func(tg target, title string) (request, int) {
			return request{"GET", "/v1/innovations/" + innovationOf(tg, title, exp("concluded")(tg, title)) + "/lineage", nil}, 200
		}, "read-all"},
		{"learnings", func(tg target, title string) (request, int) {
			exp("concluded")(tg, title)
			return request{"GET", "/v1/learnings?skill=negotiation", nil}, 200
		}, "read-all"},
		{"similar", func(tg target, title string) (request, int) {
			exp("concluded")(tg, title)
			return request{"GET", "/v1/experiments/similar?text=" + url.QueryEscape("h "+title), nil}, 200
		}, "read-all"},
		{"outcomes", func(tg target, title string) (request, int) {
			exp("concluded")(tg, title)
			return request{"GET", "/v1/dashboard/outcomes", nil}, 200
		}, "read-all"},
		{"failures", func(tg target, title string) (request, int) {
			exp("concluded")(tg, title)
			return request{"GET", "/v1/dashboard/failures?unlinked=true", nil}, 200
		}, "read-all"},
	}
	for _, rt := range routes {
		for _, role := range experiments.Roles {
			for _, tg := range []target{ownTeam, otherTeam, confidential} {
				t.Run(fmt.Sprintf("%s/%s/%s", rt.name, role, tg), func(t *testing.T) {
					sub := *top.app
					sub.t = t
					a = &authed{app: &sub, tokens: top.tokens, authDir: top.authDir}
					title := fmt.Sprintf("%s-%s-%s", strings.ReplaceAll(rt.name, " ", "_"), role, strings.ReplaceAll(string(tg), " ", "_"))
					if tg == confidential {
						title = secret + "-" + title
					}
					req, okStatus := rt.prepare(tg, title)
					see, writeExp, writeInn := access(role, tg)
					want := okStatus
					switch rt.kind {
					case "write-exp-new":
						if !writeExp {
							want = 403
						}
					case "write-exp":
						if !see {
							want = 404
						} else if !writeExp {
							want = 403
						}
					case "write-inn":
						if !writeInn {
							want = 403
						} else if !see {
							want = 400 // the experiment to link does not exist for this role
						}
					case "read-exp":
						if !see {
							want = 404
						}
					}
					last := a.streamLast()
					path := req.path
					if req.method == "GET" {
						sep := "?"
						if strings.Contains(path, "?") {
							sep = "&"
						}
						path += fmt.Sprintf("%smin_position=%d", sep, last)
					}
					r := a.do(req.method, path, req.body, a.as(role)...)
					if r.status != want {
						t.Fatalf("%s %s as %s = %d %s, want %d", req.method, req.path, role, r.status, r.body, want)
					}
					if !see && strings.Contains(string(r.body), secret) {
						t.Fatalf("%s may not see the confidential experiment, but the response holds it: %s", role, r.body)
					}
				})
			}
		}
	}
	a = top
	if r := a.do("GET", "/v1/experiments", nil); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token = %d, want 401 with WWW-Authenticate", r.status)
	}
	if r := a.do("GET", "/v1/experiments", nil, "Authorization", "Bearer ff_"+strings.Repeat("x", 43)); r.status != http.StatusUnauthorized {
		t.Errorf("unknown token = %d, want 401", r.status)
	}
}

// TestConfidentialFailureStaysHidden links a confidential failure to an
// innovation: another team sees neither it nor its effect on the figures,
// while a lead sees both.
func TestConfidentialFailureStaysHidden(t *testing.T) {
	a := startAuthed(t)
	conf := a.seed("search", experiments.VisibilityTeam, "concluded", secret)
	inn := a.must(201, "POST", "/v1/innovations", map[string]any{"team": "search", "title": "shipped", "informed_by": []map[string]any{{"experiment_id": conf}}}, a.as(experiments.RoleAdmin)...)
	pos := position(inn)
	lin := "/v1/innovations/" + inn["id"].(string) + "/lineage?min_position=" + pos
	for _, c := range []struct {
		role    experiments.Role
		visible bool
	}{{experiments.RoleMember, false}, {experiments.RoleViewer, false}, {experiments.RoleLead, true}, {experiments.RoleAdmin, true}} {
		for _, path := range []string{lin, "/v1/dashboard/failures?min_position=" + pos, "/v1/experiments?q=TOPSECRET", "/v1/learnings?q=learned", "/v1/experiments/" + conf + "/lineage",
			"/v1/learnings?outcome=failed", "/v1/experiments/similar?text=TOPSECRET+partner+bet"} {
			r := a.do("GET", path, nil, a.as(c.role)...)
			if got := strings.Contains(string(r.body), secret); got != c.visible {
				t.Errorf("%s GET %s: shows the confidential experiment = %v, want %v (%d %s)", c.role, path, got, c.visible, r.status, r.body)
			}
		}
		report := a.must(200, "GET", "/v1/dashboard/outcomes?team=search", nil, a.as(c.role)...)
		failed := 0.0
		for _, p := range report["periods"].([]any) {
			if p := p.(map[string]any); p["team"] == "search" {
				failed += p["failed"].(float64)
			}
		}
		if want := map[bool]float64{true: 1, false: 0}[c.visible]; failed != want {
			t.Errorf("%s sees %v failed search experiments in the dashboard, want %v", c.role, failed, want)
		}
	}
}

// TestTokensNeverLeak checks that no token reaches the logs or the stream.
func TestTokensNeverLeak(t *testing.T) {
	a := startAuthed(t)
	a.seed("growth", "org", "concluded", "leak check")
	member := a.as(experiments.RoleMember)
	a.must(201, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "by member", "hypothesis": "h"}, member...)
	a.do("POST", "/v1/experiments", `{"broken`, member...)
	a.do("GET", "/v1/experiments", nil, "Authorization", "Bearer "+a.tokens[experiments.RoleViewer]+"x")
	dump := a.out.String() + streamDump(t, a.app)
	for role, tok := range a.tokens {
		if strings.Contains(dump, tok) || strings.Contains(dump, tok[3:20]) {
			t.Errorf("the %s token appears in the logs or the stream", role)
		}
	}
	file, _ := os.ReadFile(filepath.Join(a.authDir, "tokens.json"))
	for role, tok := range a.tokens {
		if strings.Contains(string(file), tok) {
			t.Errorf("the %s token is stored in clear in AUTH_FILE", role)
		}
	}
	if !strings.Contains(dump, "member-ada") {
		t.Errorf("the actor's name is not recorded in the stream")
	}
}

// streamDump returns every message in the stream, headers and body, as
// text.
func streamDump(t *testing.T, a *app) string {
	t.Helper()
	js := a.jetStream()
	s, err := js.Stream(context.Background(), "TRACKER")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for seq := uint64(1); seq <= a.streamLast(); seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v %s\n", m.Header, m.Data)
	}
	return b.String()
}

// TestWriteRateLimit gives a token more writes than its rate allows.
func TestWriteRateLimit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.json")
	tok, entry, err := auth.NewToken("busy", experiments.RoleMember, []string{"growth"})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.AddToFile(file, entry); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "AUTH_FILE": file, "WRITES_PER_SECOND": "1", "WRITE_BURST": "3"})
	bearer := []string{"Authorization", "Bearer " + tok}
	before := a.streamLast()
	var limited response
	for i := range 10 {
		r := a.do("POST", "/v1/experiments", map[string]any{"team": "growth", "title": fmt.Sprint("t", i), "hypothesis": "h"}, bearer...)
		if r.status == http.StatusTooManyRequests {
			limited = r
			break
		}
	}
	if limited.status != http.StatusTooManyRequests || limited.header.Get("Retry-After") == "" {
		t.Fatalf("no 429 with Retry-After after a burst: %d %v", limited.status, limited.header)
	}
	if got := a.streamLast() - before; got != 3 {
		t.Fatalf("%d writes landed, want the burst of 3", got)
	}
	if r := a.do("GET", "/v1/experiments", nil, bearer...); r.status != http.StatusOK {
		t.Fatalf("reads are limited too: %d", r.status)
	}
}
