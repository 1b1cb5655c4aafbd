package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// libraryEnv has a success and a failure about checkout banners, a
// failure that taught nothing, and an abandoned experiment with a
// learning.
func libraryEnv(t *testing.T) (e *env, won, lost, silent, dropped string) {
	e = newEnv(t, readstore.SQLite, testNow)
	at := testNow.AddDate(0, -2, 0)
	won, lost, silent, dropped = newID(at), newID(at.Add(time.Hour)), newID(at.Add(2*time.Hour)), newID(at.Add(3*time.Hour))
	e.register(won, "growth", "Checkout banner for annual plans", at)
	e.register(lost, "growth", "Discount banner", at.Add(time.Hour))
	e.register(silent, "core", "Onboarding quiz", at.Add(2*time.Hour))
	e.register(dropped, "core", "Survey of admins", at.Add(3*time.Hour))
	e.conclude(won, "growth", experiments.OutcomeSucceeded, at.Add(24*time.Hour), at.Add(48*time.Hour))
	e.conclude(lost, "growth", experiments.OutcomeFailed, at.Add(24*time.Hour), at.Add(72*time.Hour))
	e.conclude(silent, "core", experiments.OutcomeFailed, at.Add(24*time.Hour), at.Add(96*time.Hour))
	e.add(events.ExperimentAbandoned, dropped, "core", at.Add(24*time.Hour), events.ExperimentAbandonedV1{Reason: "no time", AbandonedAt: at.Add(24 * time.Hour)})
	e.learn(lost, "growth", "Banners at checkout go unseen", at.Add(80*time.Hour))
	e.learn(won, "growth", "Anchoring on the annual total works", at.Add(81*time.Hour))
	e.learn(dropped, "core", "Admins answer surveys only when asked by name", at.Add(82*time.Hour))
	e.apply()
	return e, won, lost, silent, dropped
}

func TestTriedBeforePanel(t *testing.T) {
	e, won, lost, _, _ := libraryEnv(t)
	c := newClient(t, e.h)

	_, _, form := c.get("/experiments/new")
	contains(t, form, `id="tried-heading"`)
	contains(t, form, `form="register-form" name="check"`)
	contains(t, form, "/static/tried.js?v=")
	if strings.Index(form, `id="check-tried"`) < strings.Index(form, "Register experiment</button>") {
		t.Error("the check button comes before the register button, so Enter in a field would check instead of register")
	}

	status, h, frag := c.get("/experiments/similar?text=" + url.QueryEscape("If we show a banner at checkout for annual plans"))
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || strings.Contains(frag, "<html") {
		t.Fatalf("GET /experiments/similar = %d %s, want an HTML fragment:\n%s", status, h.Get("Content-Type"), frag)
	}
	iLost, iWon := strings.Index(frag, `data-experiment-id="`+lost+`"`), strings.Index(frag, `data-experiment-id="`+won+`"`)
	if iLost < 0 || iWon < 0 || iLost > iWon {
		t.Errorf("the failure is not listed before the success:\n%s", frag)
	}
	contains(t, frag, `href="/experiments/`+lost+`"`)
	contains(t, frag, "Banners at checkout go unseen")
	contains(t, frag, "tried before and failed")
	if _, _, none := c.get("/experiments/similar?text=zzqx+wwqy"); !strings.Contains(none, "Nothing like it has been tried") {
		t.Errorf("no match does not say so:\n%s", none)
	}
	if status, _, _ := c.get("/experiments/similar?text=" + url.QueryEscape(strings.Repeat("banner ", 1000))); status != http.StatusOK {
		t.Errorf("a long text = %d, want it cut and answered", status)
	}

	// Without the script, the button sends the form to be checked: it
	// comes back as typed with the panel filled, and registers nothing.
	values := url.Values{"csrf_token": {token(t, form)}, "team": {"growth"}, "title": {"Checkout banner again"},
		"hypothesis": {"A banner at checkout lifts annual plans"}, "check": {"1"}}
	status, h, page := c.post("/experiments/new", values)
	if status != http.StatusOK || h.Get("Location") != "" {
		t.Fatalf("check = %d to %q, want the form again", status, h.Get("Location"))
	}
	contains(t, page, `value="Checkout banner again"`)
	contains(t, page, `data-experiment-id="`+lost+`"`)
	if strings.Contains(page, `class="error-summary"`) {
		t.Error("checking what was tried shows form errors")
	}
	// A form sent with errors shows the panel for what was typed too.
	values.Del("check")
	values.Set("title", "")
	if status, _, page := c.post("/experiments/new", values); status != http.StatusUnprocessableEntity || !strings.Contains(page, `data-experiment-id="`+lost+`"`) {
		t.Errorf("a form with errors = %d without the panel", status)
	}
}

func TestLearningsLibraryPage(t *testing.T) {
	e, won, lost, _, dropped := libraryEnv(t)
	c := newClient(t, e.h)
	for _, tc := range []struct {
		path       string
		want, not  []string
		chipActive string
	}{
		{"/learnings", []string{lost, won, dropped, `id="chip-failures" href="/learnings?outcome=failed"`}, nil, "chip-all"},
		{"/learnings?q=unseen", []string{"Banners at checkout go unseen", `href="/experiments/` + lost + `"`}, []string{won, dropped}, "chip-all"},
		{"/learnings?skill=Interviewing", []string{lost, won, dropped}, nil, "chip-all"},
		{"/learnings?skill=nothing", []string{"No learning matches these filters"}, []string{lost}, "chip-all"},
		{"/learnings?outcome=failed", []string{lost, "✕ Failed"}, []string{won, dropped}, "chip-failures"},
		{"/learnings?outcome=abandoned", []string{dropped, "Abandoned"}, []string{lost, won}, ""},
		{"/learnings?outcome=succeeded&team=growth", []string{won}, []string{lost, dropped}, ""},
		{"/learnings?outcome=bogus", []string{lost, won, dropped}, nil, "chip-all"},
		{"/learnings?q=banners&outcome=failed", []string{lost, `id="chip-all" href="/learnings?q=banners"`}, []string{won}, "chip-failures"},
	} {
		status, _, page := c.get(tc.path)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d", tc.path, status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(page, w) {
				t.Errorf("GET %s does not show %q", tc.path, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(page, n) {
				t.Errorf("GET %s shows %q", tc.path, n)
			}
		}
		if tc.chipActive != "" && !strings.Contains(page, `id="`+tc.chipActive+`" href="`) {
			t.Errorf("GET %s: no chip %s", tc.path, tc.chipActive)
		}
		if tc.chipActive != "" && !strings.Contains(page[strings.Index(page, `id="`+tc.chipActive+`"`):], `aria-current="true"`) {
			t.Errorf("GET %s does not mark %s as current", tc.path, tc.chipActive)
		}
	}
	_, _, home := c.get("/")
	contains(t, home, `href="/learnings"`)
	_, _, lib := c.get("/learnings")
	contains(t, lib, `<a href="/learnings" aria-current="page">Learnings</a>`)
}

func TestBacklogListsFailuresWithNoLesson(t *testing.T) {
	e, _, lost, silent, _ := libraryEnv(t)
	c := newClient(t, e.h)
	_, _, page := c.get("/backlog")
	i := strings.Index(page, `id="unlearned"`)
	if i < 0 {
		t.Fatalf("the backlog has no list of failures without a lesson:\n%s", page)
	}
	unlearned := page[i:]
	contains(t, unlearned, `href="/experiments/`+silent+`/learnings"`)
	if strings.Contains(unlearned, lost) {
		t.Error("a failure with a learning is listed as having none")
	}
	if _, _, growth := c.get("/backlog?team=growth"); strings.Contains(growth, silent) {
		t.Error("the team filter does not apply to failures without a lesson")
	}
}

// TestBacklogPages checks that a long backlog is listed a page at a
// time, oldest first, and that the pages together list every failure
// once, with the team filter kept from page to page.
func TestBacklogPages(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	at := testNow.AddDate(-1, 0, 0)
	var ids []string
	for i := range 2*50 + 7 {
		id, t0 := newID(at.Add(time.Duration(i)*time.Hour)), at.Add(time.Duration(i)*time.Hour)
		e.register(id, "growth", fmt.Sprintf("Failure %03d", i), t0)
		e.conclude(id, "growth", experiments.OutcomeFailed, t0.Add(time.Minute), t0.Add(2*time.Minute))
		e.learn(id, "growth", fmt.Sprintf("Lesson %03d", i), t0.Add(3*time.Minute))
		ids = append(ids, id)
	}
	e.apply()
	c := newClient(t, e.h)
	var listed []string
	path := "/backlog?team=growth"
	for pages := 0; path != ""; pages++ {
		if pages == 3 {
			t.Fatal("the backlog has more than three pages for 107 failures")
		}
		status, _, page := c.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, status)
		}
		for _, m := range regexp.MustCompile(`<li data-experiment-id="([0-9A-Z]+)">\s*<h2>`).FindAllStringSubmatch(page, -1) {
			listed = append(listed, m[1])
		}
		path = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(page); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "team=growth") || !strings.Contains(path, "cursor=") {
				t.Errorf("next page link %q does not keep the team and a cursor", path)
			}
		}
	}
	if !slices.Equal(listed, ids) {
		t.Errorf("the pages list %d failures, want all %d, oldest first", len(listed), len(ids))
	}
	if status, _, _ := c.get("/backlog?cursor=zzz"); status != http.StatusBadRequest {
		t.Errorf("GET /backlog with a bad cursor = %d, want 400", status)
	}
}

func TestConcludeAsksForTheLesson(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	id := newID(testNow.AddDate(0, -1, 0))
	e.register(id, "growth", "Banner", testNow.AddDate(0, -1, 0))
	e.add(events.ExperimentStarted, id, "growth", testNow.AddDate(0, 0, -20), events.ExperimentStartedV1{StartedAt: testNow.AddDate(0, 0, -20)})
	e.apply()
	c := newClient(t, e.h)
	_, _, form := c.get("/experiments/" + id + "/conclude")
	contains(t, form, `id="lesson-prompt"`)
	contains(t, form, `<section class="lesson" id="lesson"`)
	contains(t, form, "/static/lesson.js?v=")
	contains(t, form, `id="learning_text"`)
	// Sent back with an error, a failure's lesson is marked without any
	// script.
	status, _, page := c.post("/experiments/"+id+"/conclude", url.Values{"csrf_token": {token(t, form)}, "outcome": {"failed"}, "decision": {"stop"}})
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("conclude without a summary = %d, want 422", status)
	}
	contains(t, page, `<section class="lesson asked" id="lesson"`)
	if _, _, other := c.get("/experiments/" + id + "/abandon"); strings.Contains(other, "lesson.js") {
		t.Error("a form other than conclude loads the lesson script")
	}
}
