package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readstore"
)

var testNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func TestPagesRender(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	e.seed(200, testNow)
	c := newClient(t, e.h)
	_, _, list := c.get("/experiments?limit=5")
	id := list[strings.Index(list, `data-experiment-id="`)+len(`data-experiment-id="`):][:26]
	for _, tc := range []struct {
		path, want string
	}{
		{"/", "Failure yield"},
		{"/?bucket=quarter&period=2026-Q1", "Q1 2026"},
		{"/?team=growth&period=2025-11", "November 2025"},
		{"/?period=not-a-period", "March 2026"}, // falls back to the current period
		{"/experiments?status=concluded&outcome=failed", "Failed"},
		{"/experiments?q=Experiment+1", "Experiment 1"},
		{"/experiments/" + id, "History"},
		{"/experiments/new?builds_on=" + id, id},
		{"/backlog", "waiting"},
		{"/learnings?outcome=failed", "what "},
		{"/experiments/similar?text=Experiment+of+growth", "data-experiment-id"},
		{"/skills", "Skills teams learned"},
		{"/skills?team=growth&bucket=quarter", `aria-label="Skills of team growth in Q4 2025"`},
		{"/innovations", "Innovation"},
		{"/innovations/new", "Informed by"},
	} {
		status, _, body := c.get(tc.path)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tc.path, status)
			continue
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("GET %s does not show %q", tc.path, tc.want)
		}
	}
	for _, path := range []string{"/nothing-here", "/experiments/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/experiments/not-an-id", "/innovations/01ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if status, _, body := c.get(path); status != http.StatusNotFound || !strings.Contains(body, "Not found") {
			t.Errorf("GET %s = %d, want the 404 page", path, status)
		}
	}
}

func TestSecurityHeadersAndAssets(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	c := newClient(t, e.h)
	_, h, page := c.get("/")
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " onclick=") || strings.Contains(page, " style=") {
		t.Error("the page has inline script, handlers or styles, which the CSP forbids")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page names an outside address; every asset must come from the binary")
	}
	var ck *http.Cookie
	for _, k := range (&http.Response{Header: h}).Cookies() {
		if k.Name == "ff_csrf" {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("CSRF cookie = %+v, want HttpOnly and SameSite=Strict", ck)
	}
	i := strings.Index(page, "/static/app.css?v=")
	if i < 0 {
		t.Fatal("no versioned stylesheet link")
	}
	asset := page[i : i+strings.IndexByte(page[i:], '"')]
	status, ah, css := c.get(asset)
	if status != http.StatusOK || !strings.Contains(ah.Get("Cache-Control"), "immutable") || !strings.Contains(css, ":focus-visible") {
		t.Errorf("GET %s = %d, Cache-Control %q", asset, status, ah.Get("Cache-Control"))
	}
}

func TestFormErrorsKeepWhatWasTyped(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	c := newClient(t, e.h)
	_, _, form := c.get("/experiments/new")
	values := url.Values{
		"csrf_token": {token(t, form)}, "team": {"growth"}, "title": {""},
		"hypothesis": {"Nudges <b>work</b>"}, "tags": {"pricing, ux"},
	}
	status, _, page := c.post("/experiments/new", values)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("POST without a title = %d, want 422", status)
	}
	contains(t, page, `<p class="error" id="title-error">`)
	contains(t, page, `aria-invalid="true"`)
	contains(t, page, `value="growth"`)
	contains(t, page, `value="pricing, ux"`)
	contains(t, page, `Nudges &lt;b&gt;work&lt;/b&gt;`) // kept, and escaped

	values.Set("team", "not a team!")
	values.Set("title", "Nudge")
	if _, _, page = c.post("/experiments/new", values); !strings.Contains(page, `id="team-error"`) {
		t.Error("a team name the domain refuses is not shown beside the team field")
	}
	values.Set("team", "growth")
	values.Set("builds_on", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
	if _, _, page = c.post("/experiments/new", values); !strings.Contains(page, `id="builds_on-error"`) {
		t.Error("an unknown builds_on id is not shown beside its field")
	}
	values.Set("builds_on", "")
	values.Set("person_days", "three")
	if _, _, page = c.post("/experiments/new", values); !strings.Contains(page, `id="person_days-error"`) {
		t.Error("a cost that is not a number is not shown beside its field")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	c := newClient(t, e.h)
	_, _, form := c.get("/experiments/new")
	good := token(t, form)
	for name, tok := range map[string]string{"missing": "", "forged": "AAAA" + good[4:]} {
		status, _, page := c.post("/experiments/new", url.Values{"csrf_token": {tok}, "team": {"growth"}, "title": {"T"}, "hypothesis": {"H"}})
		if status != http.StatusForbidden {
			t.Errorf("%s token: status %d, want 403", name, status)
		}
		contains(t, page, "expired")
		contains(t, page, `value="growth"`) // the form comes back with what was typed
	}
	// A browser on another site sends no cookie (SameSite=Strict); a
	// token without its cookie is refused too.
	other := newClient(t, e.h)
	other.srv = c.srv
	if status, _, _ := other.post("/experiments/new", url.Values{"csrf_token": {good}, "team": {"growth"}, "title": {"T"}, "hypothesis": {"H"}}); status != http.StatusForbidden {
		t.Errorf("token without its cookie: status %d, want 403", status)
	}
}

func TestExportsAreCSVAndDefuseFormulas(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	at := testNow.Add(-48 * time.Hour)
	id := newID(at)
	e.register(id, "growth", "=HYPERLINK(\"http://evil\")", at)
	e.conclude(id, "growth", "failed", at, at.Add(time.Hour))
	e.apply()
	c := newClient(t, e.h)

	status, h, body := c.get("/export/experiments.csv?team=growth")
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("experiments.csv = %d %s", status, h.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("experiments.csv has %d rows (%v):\n%s", len(rows), err, body)
	}
	if got := rows[1][2]; got != `'=HYPERLINK("http://evil")` {
		t.Errorf("title cell = %q, want it defused with a leading quote", got)
	}
	_, _, body = c.get("/export/figures.csv")
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) < 3 || rows[0][0] != "period" {
		t.Fatalf("figures.csv:\n%s", body)
	}
	if rows[1][1] != "all teams" || rows[1][6] != "1" {
		t.Errorf("first figures row = %v, want all teams with one failure", rows[1])
	}
}

// TestLiveStream checks that the live stream says when the read models
// move on, and that Close ends it so that shutdown need not wait for it.
func TestLiveStream(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	e.register(newID(testNow), "growth", "first", testNow)
	e.apply()
	c := newClient(t, e.h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.srv.URL+"/ui/live?since=1", nil)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	e.add(events.ExperimentStarted, e.stream[0].Subject, "growth", testNow, events.ExperimentStartedV1{StartedAt: testNow})
	e.apply()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if sc.Text() == "data: 2" {
			break
		}
	}
	if !strings.Contains(strings.Join(got, "\n"), "event: position\ndata: 2") {
		t.Fatalf("stream said %q, want a position event for 2", got)
	}
	e.h.Close()
	for sc.Scan() {
	}
	if ctx.Err() != nil {
		t.Fatal("the stream did not end after Close")
	}
}
