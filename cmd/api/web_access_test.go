package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// webClient is a browser stand-in for the UI of the real app: it keeps
// cookies, reads form tokens, and follows no redirect, so that a test
// sees each one.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebClient(t *testing.T, a *app) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webClient{t: t, base: a.base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *webClient) send(req *http.Request) response {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *webClient) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(req)
}

func (c *webClient) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.send(req)
}

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// form returns the values of a fresh form shown at path (its CSRF token
// and idempotency key) with fields added.
func (c *webClient) form(path string, fields ...string) url.Values {
	c.t.Helper()
	r := c.get(path)
	if r.status != http.StatusOK {
		c.t.Fatalf("GET %s = %d, want the form:\n%s", path, r.status, r.body)
	}
	v := url.Values{}
	m := csrfPattern.FindSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s has no CSRF token", path)
	}
	v.Set("csrf_token", string(m[1]))
	if k := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindSubmatch(r.body); k != nil {
		v.Set("idempotency_key", string(k[1]))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	return v
}

// signIn signs in through the form and fails the test unless the app
// redirects to next.
func (c *webClient) signIn(token, next string) response {
	c.t.Helper()
	r := c.post("/signin", c.form("/signin", "token", token, "next", next))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != next {
		c.t.Fatalf("sign in = %d to %q, want 303 to %s:\n%s", r.status, r.header.Get("Location"), next, r.body)
	}
	return r
}

// sessionCookie returns the Set-Cookie line of the session cookie, or "".
func sessionCookie(h http.Header) string {
	for _, line := range h.Values("Set-Cookie") {
		if strings.HasPrefix(line, auth.CookieName+"=") {
			return line
		}
	}
	return ""
}

// TestWebSignIn walks the sign-in: anonymous pages go to the sign-in
// form, a wrong token is refused beside the field, a good one sets a
// session cookie that scripts cannot read and other sites cannot send,
// and signing out ends it.
func TestWebSignIn(t *testing.T) {
	a := startAuthed(t)
	anon := newWebClient(t, a.app)
	before := a.streamLast()

	for path, want := range map[string]string{
		"/":                         "/signin",
		"/experiments?q=x&team=y":   "/signin?next=" + url.QueryEscape("/experiments?q=x&team=y"),
		"/export/experiments.csv":   "/signin?next=" + url.QueryEscape("/export/experiments.csv"),
		"/experiments/new":          "/signin?next=" + url.QueryEscape("/experiments/new"),
		"/innovations":              "/signin?next=" + url.QueryEscape("/innovations"),
		"/experiments/not-an-id/xy": "/signin?next=" + url.QueryEscape("/experiments/not-an-id/xy"),
	} {
		if r := anon.get(path); r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("anonymous GET %s = %d to %q, want 303 to %s", path, r.status, r.header.Get("Location"), want)
		}
	}
	if r := anon.get("/ui/live"); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous live stream = %d, want 401", r.status)
	}
	form := url.Values{"team": {"growth"}, "title": {"anon"}, "hypothesis": {"h"}}
	if r := anon.post("/experiments/new", form); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), `href="/signin`) {
		t.Errorf("anonymous POST /experiments/new = %d, want 401 with a link to sign in", r.status)
	}
	// A public path's spelling does not open another: the server only
	// redirects to the clean path, which is then refused.
	if r := anon.post("/signin/../experiments/new", form); r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/experiments/new" {
		t.Errorf("anonymous POST /signin/../experiments/new = %d to %q, want only a redirect to the clean path", r.status, r.header.Get("Location"))
	}
	for _, path := range []string{"/static/app.css", "/favicon.ico", "/signin"} {
		if r := anon.get(path); r.status != http.StatusOK {
			t.Errorf("anonymous GET %s = %d, want 200", path, r.status)
		}
	}
	signin := anon.get("/signin?next=%2Fbacklog")
	for _, want := range []string{`<label for="token">`, `type="password" id="token" name="token"`, `name="next" value="/backlog"`} {
		if !strings.Contains(string(signin.body), want) {
			t.Errorf("the sign-in form does not contain %s", want)
		}
	}
	if strings.Contains(string(signin.body), `href="/experiments"`) {
		t.Error("the sign-in page offers the menu to someone not signed in")
	}
	// The API is unchanged: no token, or a session cookie it does not
	// know, is a JSON 401; a wrong bearer token is a 401 on a page too.
	if r := a.do("GET", "/v1/experiments", nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/experiments without a token = %d, want 401", r.status)
	}
	if r := a.do("GET", "/v1/experiments", nil, "Cookie", auth.CookieName+"=ff_nope"); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/experiments with a bad cookie = %d, want 401", r.status)
	}
	// Nor does the cookie of a signed-in browser open the API: a page on
	// another site could make the browser send it.
	if r := a.do("GET", "/v1/experiments", nil, "Cookie", auth.CookieName+"="+a.tokens[experiments.RoleAdmin]); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/experiments with a good session cookie = %d, want 401", r.status)
	}
	if r := a.do("GET", "/", nil, "Authorization", "Bearer ff_"+strings.Repeat("x", 43)); r.status != http.StatusUnauthorized {
		t.Errorf("GET / with a wrong bearer token = %d, want 401", r.status)
	}
	// A stale session cookie leads to the sign-in form, and is cleared.
	stale := newWebClient(t, a.app)
	u, _ := url.Parse(a.base)
	stale.c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.CookieName, Value: "ff_" + strings.Repeat("y", 43)}})
	if r := stale.get("/experiments"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") ||
		!strings.Contains(sessionCookie(r.header), "Max-Age=0") {
		t.Errorf("GET /experiments with a stale cookie = %d to %q (Set-Cookie %q), want 303 to /signin clearing it",
			r.status, r.header.Get("Location"), sessionCookie(r.header))
	}

	member := a.tokens[experiments.RoleMember]
	c := newWebClient(t, a.app)
	for name, tc := range map[string]struct {
		values url.Values
		status int
		want   string
	}{
		"wrong token": {c.form("/signin", "token", member[:len(member)-2]+"zz"), http.StatusUnauthorized, `id="token-error"`},
		"empty token": {c.form("/signin", "token", " "), http.StatusUnprocessableEntity, `id="token-error"`},
		"no CSRF":     {url.Values{"token": {member}}, http.StatusForbidden, "expired"},
	} {
		r := c.post("/signin", tc.values)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: sign in = %d, want %d with %s:\n%s", name, r.status, tc.status, tc.want, r.body)
		}
		if sessionCookie(r.header) != "" {
			t.Errorf("%s: sign in set the session cookie", name)
		}
		if strings.Contains(string(r.body), member[3:20]) {
			t.Errorf("%s: the sign-in page shows the token typed", name)
		}
	}

	// Where a sign-in returns to is a path of this site, never another.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)", "/signin"} {
		cc := newWebClient(t, a.app)
		got := cc.post("/signin", cc.form("/signin", "token", member, "next", next))
		if got.status != http.StatusSeeOther || got.header.Get("Location") != "/" {
			t.Errorf("sign in with next=%q = %d to %q, want 303 to /", next, got.status, got.header.Get("Location"))
		}
		if page := cc.get("/signin?next=" + url.QueryEscape(next)); !strings.Contains(string(page.body), `name="next" value="/"`) {
			t.Errorf("the sign-in form keeps next=%q", next)
		}
	}

	r := c.signIn(member, "/experiments?team=growth")
	line := sessionCookie(r.header)
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} {
		if !strings.Contains(line, attr) {
			t.Errorf("session cookie %q lacks %s", line, attr)
		}
	}
	if strings.Contains(line, "Secure") {
		t.Errorf("session cookie %q is Secure over plain HTTP, where the browser would never send it back", line)
	}
	page := c.get("/experiments?team=growth")
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "member-ada") || !strings.Contains(string(page.body), `action="/signout"`) {
		t.Fatalf("signed in, GET /experiments = %d without the name and sign-out in the header:\n%s", page.status, page.body)
	}

	// Sign-out is a form: without its CSRF token nothing happens.
	if r := c.post("/signout", url.Values{}); r.status != http.StatusForbidden || sessionCookie(r.header) != "" {
		t.Errorf("sign out without CSRF = %d (Set-Cookie %q), want 403 and no change", r.status, sessionCookie(r.header))
	}
	if r := c.get("/"); r.status != http.StatusOK {
		t.Errorf("after a refused sign-out, GET / = %d, want 200", r.status)
	}
	r = c.post("/signout", c.form("/"))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" || !strings.Contains(sessionCookie(r.header), "Max-Age=0") {
		t.Errorf("sign out = %d to %q (Set-Cookie %q), want 303 to /signin clearing the cookie", r.status, r.header.Get("Location"), sessionCookie(r.header))
	}
	if r := c.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("after signing out, GET / = %d, want 303 to sign in", r.status)
	}
	if got := a.streamLast(); got != before {
		t.Errorf("%d events were written by requests that were not signed in", got-before)
	}
	if logs := a.out.String(); strings.Contains(logs, member[3:20]) || !strings.Contains(logs, "member-ada") {
		t.Error("the log holds the token typed into the sign-in form, or does not name who signed in")
	}
}

// TestWebHonoursThePrincipal checks every kind of UI page against what
// the principal may see and do, as the JSON API does: a member writes for
// its team only and never meets another team's team-only experiment, a
// viewer writes nothing, a lead sees everything.
func TestWebHonoursThePrincipal(t *testing.T) {
	a := startAuthed(t)
	admin := a.as(experiments.RoleAdmin)
	reg := func(team, visibility, title string, buildsOn ...string) string {
		body := map[string]any{"team": team, "title": title, "hypothesis": "h " + title, "visibility": visibility}
		if len(buildsOn) > 0 {
			body["builds_on"] = buildsOn
		}
		return a.must(201, "POST", "/v1/experiments", body, admin...)["id"].(string)
	}
	fail := func(id, title string) map[string]any {
		a.must(200, "POST", "/v1/experiments/"+id+"/start", nil, admin...)
		return a.must(200, "POST", "/v1/experiments/"+id+"/conclude", map[string]any{"outcome": "failed", "decision": "pivot",
			"summary": "s " + title, "learnings": []map[string]any{{"text": "learned " + title, "skills": []string{"negotiation"}}}}, admin...)
	}
	// root is everyone's; confFed, confidential to search, builds on it and
	// feeds an innovation; confWaiting, also confidential, waits in the
	// learning backlog; searchOpen is search's and seen by all.
	root := reg("growth", experiments.VisibilityOrg, "Root experiment")
	fail(root, "root")
	confFed := reg("search", experiments.VisibilityTeam, secret+"-fed", root)
	fail(confFed, "fed")
	confWaiting := reg("search", experiments.VisibilityTeam, secret+"-waiting")
	fail(confWaiting, "waiting")
	// A skill only the team-only experiments name, which the skills page
	// must show to a lead and never to the member.
	a.must(201, "POST", "/v1/experiments/"+confWaiting+"/learnings", map[string]any{"text": "t", "skills": []string{secret + "-skill"}}, admin...)
	searchOpen := reg("search", experiments.VisibilityOrg, "Search experiment for all")
	// confSilent, confidential to payments, failed without a learning.
	confSilent := reg("payments", experiments.VisibilityTeam, secret+"-silent")
	a.must(200, "POST", "/v1/experiments/"+confSilent+"/start", nil, admin...)
	a.must(200, "POST", "/v1/experiments/"+confSilent+"/conclude", map[string]any{"outcome": "failed", "decision": "stop", "summary": "s"}, admin...)
	inn := a.must(201, "POST", "/v1/innovations", map[string]any{"team": "search", "title": "Shipped thing",
		"informed_by": []map[string]any{{"experiment_id": confFed}, {"experiment_id": root}}}, admin...)
	a.must(200, "GET", "/v1/innovations/"+inn["id"].(string)+"?min_position="+position(inn), nil, admin...)
	innID := inn["id"].(string)

	member := newWebClient(t, a.app)
	member.signIn(a.tokens[experiments.RoleMember], "/")

	// The member registers an experiment through the form.
	if page := member.get("/experiments/new"); !strings.Contains(string(page.body), `id="team" name="team" value="growth"`) {
		t.Error("the registration form does not offer the member's only team")
	}
	before := a.streamLast()
	r := member.post("/experiments/new", member.form("/experiments/new", "team", "growth", "title", "Member's own", "hypothesis", "It works"))
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !experimentPath.MatchString(loc) {
		t.Fatalf("member registers = %d to %q, want 303 to the experiment:\n%s", r.status, loc, r.body)
	}
	if page := member.get(loc); !strings.Contains(string(page.body), "Member&#39;s own") || !strings.Contains(string(page.body), "<td>member-ada</td>") {
		t.Errorf("the member's experiment page does not show it, registered by member-ada:\n%s", page.body)
	}
	if got := a.streamLast(); got != before+1 {
		t.Errorf("registering wrote %d events, want 1", got-before)
	}

	// Writing outside its team is refused with a reason, and writes nothing.
	before = a.streamLast()
	r = member.post("/experiments/new", member.form("/experiments/new", "team", "search", "title", "Not mine", "hypothesis", "h"))
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), `id="team-error"`) || !strings.Contains(string(r.body), "member-ada may not register experiments for team search") {
		t.Errorf("member registers for search = %d, want 403 with the reason beside the team:\n%s", r.status, r.body)
	}
	if r := member.get("/experiments/" + searchOpen + "/learnings"); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "Not allowed") {
		t.Errorf("member opens a learning form of search = %d, want the 403 page", r.status)
	}
	r = member.post("/experiments/"+searchOpen+"/learnings", member.form("/experiments/"+root+"/learnings", "text", "mine"))
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "member-ada may not change experiments of team search") {
		t.Errorf("member records a learning for search = %d, want 403 saying why:\n%s", r.status, r.body)
	}
	if page := member.get("/experiments/" + searchOpen); strings.Contains(string(page.body), searchOpen+"/learnings\"") || strings.Contains(string(page.body), "Start now") {
		t.Error("the page of another team's experiment offers the member commands it may not send")
	}
	// The team-only experiment of another team does not exist for it.
	for _, path := range []string{"/experiments/" + confFed, "/experiments/" + confWaiting + "/learnings", "/experiments/" + confFed + "/outcome"} {
		if r := member.get(path); r.status != http.StatusNotFound {
			t.Errorf("member GET %s = %d, want 404", path, r.status)
		}
	}
	if r := member.post("/experiments/"+confFed+"/learnings", member.form("/experiments/"+root+"/learnings", "text", "t")); r.status != http.StatusNotFound {
		t.Errorf("member POST a learning to a hidden experiment = %d, want 404", r.status)
	}
	if got := a.streamLast(); got != before {
		t.Errorf("refused writes wrote %d events", got-before)
	}

	// No UI page, export or stream shows the member the hidden
	// experiments; the same pages show them to a lead.
	lead := newWebClient(t, a.app)
	lead.signIn(a.tokens[experiments.RoleLead], "/")
	pages := []struct {
		path     string
		leadSees bool
	}{
		{"/", false}, {"/?team=search", false}, {"/?bucket=quarter&team=search", false},
		{"/experiments", true}, {"/experiments?q=TOPSECRET", true}, {"/experiments?team=search&status=concluded", true},
		{"/backlog", true}, {"/backlog?team=search", true},
		{"/skills", true}, {"/skills?team=search&bucket=quarter", true},
		{"/innovations", false}, {"/innovations/" + innID, true}, {"/innovations/new?informed_by=" + confFed, true},
		{"/experiments/" + root, true}, {"/experiments/new?builds_on=" + confFed, false},
		{"/export/experiments.csv", true}, {"/export/experiments.csv?team=search", true}, {"/export/figures.csv?team=search", false},
		{"/learnings", true}, {"/learnings?q=learned", true}, {"/learnings?outcome=failed&skill=negotiation", true},
		{"/experiments/similar?text=" + url.QueryEscape(secret+" fed waiting"), true},
	}
	for _, p := range pages {
		mr := member.get(p.path)
		if mr.status != http.StatusOK {
			t.Errorf("member GET %s = %d, want 200", p.path, mr.status)
		}
		// A page may repeat an id the member put in its address, and
		// no other.
		ids := strings.Contains(string(mr.body), confWaiting) || strings.Contains(string(mr.body), confSilent) ||
			!strings.Contains(p.path, confFed) && strings.Contains(string(mr.body), confFed)
		if strings.Contains(string(mr.body), secret) || ids {
			t.Errorf("member GET %s shows a team-only experiment of another team:\n%s", p.path, mr.body)
		}
		if lr := lead.get(p.path); p.leadSees && !strings.Contains(string(lr.body), secret) {
			t.Errorf("lead GET %s = %d does not show the team-only experiment", p.path, lr.status)
		}
	}
	// The member's skills page shows what it may see: root's skill, first
	// learned from a failure, linked to the learnings that name it.
	if body := string(member.get("/skills").body); !strings.Contains(body, `href="/learnings?skill=negotiation&amp;team=growth"`) ||
		!strings.Contains(body, "first learned from a failure") {
		t.Errorf("member's skills page lacks growth's negotiation, first learned from a failure:\n%s", body)
	}
	if r := lead.get("/experiments/" + confFed); r.status != http.StatusOK || !strings.Contains(string(r.body), secret) {
		t.Errorf("lead GET the confidential experiment = %d, want it", r.status)
	}
	// The backlog lists the confidential failure with no lesson to the
	// lead only, and the registration form's check of what was tried
	// shows the member nothing it may not see.
	if r := lead.get("/backlog"); !strings.Contains(string(r.body), `data-experiment-id="`+confSilent+`"`) {
		t.Error("the lead's backlog does not list the confidential failure with no learning")
	}
	check := member.post("/experiments/new", member.form("/experiments/new", "team", "growth", "title", secret, "hypothesis", "fed waiting", "check", "1"))
	if check.status != http.StatusOK || !strings.Contains(string(check.body), `id="tried-results"`) ||
		strings.Contains(string(check.body), confFed) || strings.Contains(string(check.body), confWaiting) {
		t.Errorf("member checks what was tried = %d, want the form with the panel and no hidden experiment:\n%s", check.status, check.body)
	}
	// The figures count only what the principal may see.
	if got, want := failedIn(t, member.get("/export/figures.csv?team=search")), 0; got != want {
		t.Errorf("member's figures count %d failures in search, want %d", got, want)
	}
	if got, want := failedIn(t, lead.get("/export/figures.csv?team=search")), 2; got != want {
		t.Errorf("lead's figures count %d failures in search, want %d", got, want)
	}
	checkLive(t, member)

	// A viewer reads, and may send no form.
	viewer := newWebClient(t, a.app)
	viewer.signIn(a.tokens[experiments.RoleViewer], "/")
	csrf := viewer.form("/experiments/" + root)
	before = a.streamLast()
	for path, values := range map[string]url.Values{
		"/experiments/new":                  {"team": {"growth"}, "title": {"viewer's"}, "hypothesis": {"h"}},
		"/experiments/" + root + "/outcome": {"outcome": {"succeeded"}, "reason": {"r"}},
		"/innovations/" + innID + "/links":  {"experiment_id": {root}},
	} {
		values.Set("csrf_token", csrf.Get("csrf_token"))
		if r := viewer.post(path, values); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "viewer-ada may not") {
			t.Errorf("viewer POST %s = %d, want 403 saying the viewer may not:\n%s", path, r.status, r.body)
		}
	}
	if r := viewer.post("/experiments/new", url.Values{"csrf_token": {csrf.Get("csrf_token")}, "title": {secret}, "check": {"1"}}); r.status != http.StatusForbidden ||
		strings.Contains(string(r.body), confFed) {
		t.Errorf("viewer checks what was tried on the registration form = %d, want 403 as for the form", r.status)
	}
	if got := a.streamLast(); got != before {
		t.Errorf("a viewer's forms wrote %d events", got-before)
	}
	if r := viewer.get("/experiments/new"); r.status != http.StatusForbidden {
		t.Errorf("viewer opens the registration form = %d, want 403", r.status)
	}
	if body := string(viewer.get("/backlog").body); strings.Contains(body, "Record what it taught") {
		t.Error("the viewer's backlog offers to record a learning")
	}
	for _, path := range []string{"/", "/experiments/" + root, "/innovations/" + innID, "/innovations", "/backlog", "/learnings", "/skills"} {
		body := string(viewer.get(path).body)
		for _, offer := range []string{`href="/experiments/new`, `href="/innovations/new`, `/outcome"`, `/remove"`, `action="/innovations/` + innID + `/links"`} {
			if strings.Contains(body, offer) {
				t.Errorf("viewer's %s offers %s, which it may not use", path, offer)
			}
		}
	}

	// Forms are still protected against CSRF, signed in or not.
	before = a.streamLast()
	if r := member.post("/experiments/new", url.Values{"team": {"growth"}, "title": {"forged"}, "hypothesis": {"h"}}); r.status != http.StatusForbidden {
		t.Errorf("member POST without a CSRF token = %d, want 403", r.status)
	}
	if got := a.streamLast(); got != before {
		t.Errorf("a form without its CSRF token wrote %d events", got-before)
	}
}

// failedIn sums the failed column of team search in a figures export.
func failedIn(t *testing.T, r response) int {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) == 0 || rows[0][6] != "failed" {
		t.Fatalf("figures.csv = %d %v:\n%s", r.status, err, r.body)
	}
	n := 0
	for _, row := range rows[1:] {
		if row[1] == "search" {
			f, err := strconv.Atoi(row[6])
			if err != nil {
				t.Fatal(err)
			}
			n += f
		}
	}
	return n
}

// checkLive reads the signed-in live stream up to its first position
// event, which carries a position and nothing else.
func checkLive(t *testing.T, c *webClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/ui/live?since=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("signed-in live stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if strings.HasPrefix(sc.Text(), "data: ") {
			break
		}
	}
	if s := strings.Join(got, "\n"); !strings.Contains(s, "event: position") || strings.Contains(s, secret) {
		t.Errorf("live stream said %q, want a position event and nothing more", s)
	}
}
