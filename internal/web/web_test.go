package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
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

// TestFiguresCSVCountsStories exports the figures of a known history:
// in February growth fails twice and core once, a lead tells the story
// of one of growth's failures that month, a member that of the other in
// March, and a lead's story of core's failure is retracted. The story
// columns say what the overview does: the failures with a story, whenever
// told, over the failures, and the leads' stories in their month.
func TestFiguresCSVCountsStories(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	feb, mar := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	g1, g2, c1, won := newID(feb), newID(feb.Add(1)), newID(feb.Add(2)), newID(feb.Add(3))
	for _, x := range []struct{ id, team, outcome string }{
		{g1, "growth", experiments.OutcomeFailed}, {g2, "growth", experiments.OutcomeFailed},
		{c1, "core", experiments.OutcomeFailed}, {won, "growth", experiments.OutcomeSucceeded},
	} {
		e.register(x.id, x.team, "Experiment "+x.id, feb)
		e.conclude(x.id, x.team, x.outcome, feb, feb.Add(24*time.Hour))
	}
	story := func(id, team, role string, at time.Time, about string) {
		e.add(events.StoryPublished, id, team, at, events.StoryPublishedV1{Team: team, Title: "Story " + id, Learned: "l",
			ExperimentIDs: []string{about}, Visibility: experiments.VisibilityOrg, AuthorRole: role})
	}
	story(newID(feb), "growth", "lead", feb.Add(48*time.Hour), g1)
	story(newID(mar), "growth", "member", mar, g2)
	gone := newID(feb)
	story(gone, "core", "lead", feb.Add(48*time.Hour), c1)
	e.add(events.StoryRetracted, gone, "core", feb.Add(72*time.Hour), events.StoryRetractedV1{})
	e.apply()
	c := newClient(t, e.h)
	for _, tc := range []struct {
		query string
		want  map[string][]string // "period team" → failed, failures_with_stories, openness_stories, stories_by_leads
	}{
		{"", map[string][]string{
			"2026-02 all teams": {"3", "2", "0.6667", "1"}, "2026-02 growth": {"2", "2", "1.0000", "1"},
			"2026-02 core": {"1", "0", "0.0000", "0"},
		}},
		{"?team=growth&bucket=quarter", map[string][]string{"2026-Q1 growth": {"2", "2", "1.0000", "1"}}},
	} {
		status, _, body := c.get("/export/figures.csv" + tc.query)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if status != http.StatusOK || err != nil || len(rows) < 2 {
			t.Fatalf("figures.csv%s = %d (%v):\n%s", tc.query, status, err, body)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		got := map[string][]string{}
		for _, r := range rows[1:] {
			got[r[col["period"]]+" "+r[col["team"]]] = []string{r[col["failed"]], r[col["failures_with_stories"]],
				r[col["openness_stories"]], r[col["stories_by_leads"]]}
		}
		for k, want := range tc.want {
			if !slices.Equal(got[k], want) {
				t.Errorf("figures.csv%s row %s: failed, failures_with_stories, openness_stories, stories_by_leads = %v, want %v",
					tc.query, k, got[k], want)
			}
		}
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
