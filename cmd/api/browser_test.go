package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/failforward/failforward/internal/experiments"
)

// The browser tests drive the real app in headless Chromium (Debian's
// chromium package). Without it they skip locally; in CI (CI=true) a
// missing browser is a failure, as a missing Postgres is.

// chromiumPath finds the browser or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI must run the browser tests (apt-get install chromium)")
	}
	t.Skip("chromium is not installed; skipping the browser tests")
	return ""
}

// browser starts a headless Chromium with a fresh profile that makes no
// network request of its own (the machine's network is closed), and
// returns a tab's context that ends with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshotDir is testdata/output/screenshots at the repository's root,
// which .gitignore keeps out of commits.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "testdata", "output", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

var experimentPath = regexp.MustCompile(`^/experiments/[0-9A-HJKMNP-TV-Z]{26}$`)

// do runs browser steps, failing the test with what they were for.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one browser action and returns its value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

type css = chromedp.CSS

// TestBrowserFailureToInnovation is the product's story in the browser:
// a team registers an experiment (after a form error), runs it, concludes
// it as a failure with a learning; the failure waits in the learning
// backlog until an innovation credits it, and then shows on the overview
// and in the innovation's lineage graph.
func TestBrowserFailureToInnovation(t *testing.T) {
	ctx := browser(t)
	a := startEmbedded(t)
	submit := css(`form.command button[type=submit]`)

	// A missing title: the error shows beside the field, and nothing
	// typed is lost.
	do(t, ctx, "submit the registration form without a title",
		chromedp.Navigate(a.base+"/experiments/new"),
		chromedp.WaitVisible(css(`#title`)),
		chromedp.SendKeys(css(`#team`), "growth"),
		chromedp.SendKeys(css(`#hypothesis`), "A banner at checkout lifts annual plans by 2 points"),
		chromedp.Click(submit),
		chromedp.WaitVisible(css(`#title-error`)),
	)
	if text := get(t, ctx, "read the error", chromedp.Text(css(`#title-error`))); !strings.Contains(text, "required") {
		t.Errorf("title error = %q, want it to say the title is required", text)
	}
	if v := get(t, ctx, "read the team", chromedp.Value(css(`#team`))); v != "growth" {
		t.Errorf("team after the error = %q, want what was typed (growth)", v)
	}
	if d := get(t, ctx, "read aria-describedby", chromedp.AttributeValue(css(`#title`), "aria-describedby")); !strings.Contains(d.Value, "title-error") {
		t.Errorf("title's aria-describedby = %q, want it to point at the error", d.Value)
	}
	if !get(t, ctx, "locate the error", chromedp.Evaluate[bool](`document.querySelector('#field-title').contains(document.querySelector('#title-error'))`)) {
		t.Error("the title's error is not inside the title's field")
	}
	saveScreenshot(t, "form-error.png", get(t, ctx, "screenshot the form", chromedp.FullScreenshot(100)))

	// Register for real: the redirect lands on the new experiment's page.
	do(t, ctx, "register",
		chromedp.SendKeys(css(`#title`), "Checkout banner for annual plans"),
		chromedp.Click(submit),
		chromedp.WaitVisible(css(`form[action$="/start"] button`)),
	)
	loc := get(t, ctx, "read the location", chromedp.Location())
	path := strings.TrimPrefix(loc, a.base)
	if !experimentPath.MatchString(path) {
		t.Fatalf("after registering, the browser is at %s", loc)
	}
	id := strings.TrimPrefix(path, "/experiments/")

	do(t, ctx, "start and conclude as failed, with a learning",
		chromedp.Click(css(`form[action$="/start"] button`)),
		chromedp.WaitVisible(css(`a[href$="/conclude"]`)),
		chromedp.Click(css(`a[href$="/conclude"]`)),
		chromedp.WaitVisible(css(`#outcome-failed`)),
		chromedp.Click(css(`#outcome-failed`)),
		// Choosing failed marks the learning fields as asked for.
		chromedp.WaitVisible(css(`#lesson.asked #learning_text`)),
		chromedp.SetValue(css(`#decision`), "iterate"),
		chromedp.SendKeys(css(`#summary`), "No lift: the banner went unseen."),
		chromedp.SendKeys(css(`#failure_reasons`), "Banner below the fold"),
		chromedp.SendKeys(css(`#learning_text`), "Users ignore banners at checkout; price anchoring may work better."),
		chromedp.SendKeys(css(`#learning_skills`), "pricing, ux"),
		chromedp.Click(submit),
		chromedp.WaitVisible(css(`#h-outcome`)),
	)
	if text := get(t, ctx, "read the learnings", chromedp.Text(css(`#live .learnings`))); !strings.Contains(text, "Users ignore banners") {
		t.Errorf("learnings on the experiment page = %q", text)
	}

	inBacklog := `document.querySelector('li[data-experiment-id="` + id + `"]') !== null`
	do(t, ctx, "open the backlog", chromedp.Navigate(a.base+"/backlog"), chromedp.WaitVisible(css(`#live`)))
	if !get(t, ctx, "look in the backlog", chromedp.Evaluate[bool](inBacklog)) {
		t.Fatal("the failure is not in the learning backlog before any innovation credits it")
	}

	// Another team builds on the failure, through the JSON API, and
	// succeeds.
	next := a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{
		"team": "growth", "title": "Price anchoring on the plan page", "hypothesis": "Showing the monthly total anchors the annual price",
		"builds_on": []string{id},
	})["id"].(string)
	a.must(http.StatusOK, "POST", "/v1/experiments/"+next+"/start", nil)
	concluded := a.must(http.StatusOK, "POST", "/v1/experiments/"+next+"/conclude", map[string]any{
		"outcome": "succeeded", "decision": "scale", "summary": "+3 points of annual plans",
	})
	a.must(http.StatusOK, "GET", "/v1/experiments/"+next+"?min_position="+position(concluded), nil)

	// Record an innovation from both: they come pre-checked.
	do(t, ctx, "open the innovation form",
		chromedp.Navigate(a.base+"/innovations/new?informed_by="+id+"&informed_by="+next),
		chromedp.WaitVisible(css(`#title`)))
	for _, x := range []string{id, next} {
		if !get(t, ctx, "read the checkbox", chromedp.Evaluate[bool](`document.getElementById('informed_by-`+x+`').checked`)) {
			t.Errorf("experiment %s, named in the link that opened the form, is not pre-checked", x)
		}
	}
	node := css(`svg.lineage a.node.failed[data-id="` + id + `"]`)
	do(t, ctx, "record an innovation linked to it",
		chromedp.SendKeys(css(`#title`), "Anchored annual pricing"),
		chromedp.SendKeys(css(`#note`), "Showed that banners do not work"),
		chromedp.Click(submit),
		chromedp.WaitVisible(node),
		chromedp.WaitVisible(css(`svg.lineage a.node[data-id="`+next+`"]`)),
	)
	saveScreenshot(t, "lineage-graph.png", get(t, ctx, "screenshot the lineage", chromedp.Screenshot(css(`figure.graph`))))
	if href := get(t, ctx, "read the node's link", chromedp.AttributeValue(node, "href")); href.Value != "/experiments/"+id {
		t.Errorf("lineage node links to %q, want /experiments/%s", href.Value, id)
	}

	do(t, ctx, "open the backlog again", chromedp.Navigate(a.base+"/backlog"), chromedp.WaitVisible(css(`#live`)))
	if get(t, ctx, "look in the backlog", chromedp.Evaluate[bool](inBacklog)) {
		t.Error("the failure is still in the learning backlog after an innovation credits it")
	}

	// The overview counts it and credits it in the failure yield.
	do(t, ctx, "open the overview", chromedp.Navigate(a.base+"/"), chromedp.WaitVisible(css(`#figure-failure-yield`)))
	failed := get(t, ctx, "read failed", chromedp.Text(css(`#count-failed strong`)))
	yield := get(t, ctx, "read failure yield", chromedp.Text(css(`#figure-failure-yield .value`)))
	bars := get(t, ctx, "count failed bars", chromedp.Evaluate[int](`document.querySelectorAll('svg.outcomes-chart rect.s-failed').length`))
	if failed != "1" || yield != "100%" || bars != 1 {
		t.Errorf("overview: failed = %q, failure yield = %q, failed bars = %d; want 1, 100%%, 1", failed, yield, bars)
	}
	saveScreenshot(t, "overview.png", get(t, ctx, "screenshot the overview", chromedp.FullScreenshot(100)))

	do(t, ctx, "see what the experiment fed",
		chromedp.Navigate(a.base+"/experiments/"+id),
		chromedp.WaitVisible(css(`svg.lineage a.node.innovation`)),
	)
	saveScreenshot(t, "experiment.png", get(t, ctx, "screenshot the experiment", chromedp.FullScreenshot(100)))

	// Live: a write made elsewhere shows up on an open page without a
	// reload (the marker set on the window would not survive one).
	do(t, ctx, "open the overview and mark the window",
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitVisible(css(`#count-registered`)),
	)
	get(t, ctx, "mark the window", chromedp.Evaluate[bool](`window.notReloaded = true`))
	a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{
		"team": "search", "title": "Export to sheets", "hypothesis": "People want exports",
	})
	get(t, ctx, "see the count change live", chromedp.Poll[bool](
		`document.querySelector('#count-registered strong').textContent === '2' && window.notReloaded === true`,
		chromedp.WithPollingTimeout(20*time.Second)))

	checkTriedBefore(t, ctx, a, id)
	checkLearningsLibrary(t, ctx, a, id)
}

// checkTriedBefore types an idea like the failed experiment id into the
// registration form: the form shows the failure as tried before, first,
// with its learning and a link to it, without being sent.
func checkTriedBefore(t *testing.T, ctx context.Context, a *app, id string) {
	t.Helper()
	failure := css(`#tried-results li.failed[data-experiment-id="` + id + `"]`)
	do(t, ctx, "type an idea like the failure into the registration form",
		chromedp.Navigate(a.base+"/experiments/new"),
		chromedp.WaitVisible(css(`#title`)),
		chromedp.SendKeys(css(`#title`), "Annual plan banner"),
		chromedp.SendKeys(css(`#hypothesis`), "A banner at checkout will sell more annual plans"),
	)
	get(t, ctx, "see the failure as tried before", chromedp.Poll[bool](
		`document.querySelector('#tried-results li[data-experiment-id]') !== null`, chromedp.WithPollingTimeout(10*time.Second)))
	do(t, ctx, "wait for the failure", chromedp.WaitVisible(failure))
	if first := get(t, ctx, "read the first result", chromedp.Evaluate[string](
		`document.querySelector('#tried-results li[data-experiment-id]').dataset.experimentId`)); first != id {
		t.Errorf("the first experiment tried before is %s, want the failure %s", first, id)
	}
	if text := get(t, ctx, "read the failure", chromedp.Text(failure)); !strings.Contains(text, "Users ignore banners") || !strings.Contains(text, "Failed") {
		t.Errorf("the failure tried before reads %q, want its outcome and learning", text)
	}
	if href := get(t, ctx, "read its link", chromedp.AttributeValue(css(`#tried-results li.failed a`), "href")); href.Value != "/experiments/"+id {
		t.Errorf("the failure tried before links to %q", href.Value)
	}
	if loc := get(t, ctx, "read the location", chromedp.Location()); loc != a.base+"/experiments/new" {
		t.Errorf("typing moved the browser to %s", loc)
	}
	saveScreenshot(t, "tried-before.png", get(t, ctx, "screenshot the form", chromedp.FullScreenshot(100)))
}

// checkLearningsLibrary finds the failure's learning in the library by
// text, then by skill through its link, and with the failures filter.
func checkLearningsLibrary(t *testing.T, ctx context.Context, a *app, id string) {
	t.Helper()
	learning := css(`ol.library li[data-experiment-id="` + id + `"]`)
	// The search form is a GET form: its page is its URL. Opening the URL
	// waits for that page, where clicking the button could leave a step
	// acting on the page it left.
	do(t, ctx, "search the library by text",
		chromedp.Navigate(a.base+"/learnings?q=ignore+banners"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.WaitVisible(learning),
	)
	if v := get(t, ctx, "read the search box", chromedp.Value(css(`#q`))); v != "ignore banners" {
		t.Errorf("the search box after a search = %q, want the text searched", v)
	}
	if n := get(t, ctx, "count results", chromedp.Evaluate[int](`document.querySelectorAll('ol.library > li').length`)); n != 1 {
		t.Errorf("the text search lists %d learnings, want the one", n)
	}
	if n := get(t, ctx, "find its skill link", chromedp.Evaluate[int](`document.querySelectorAll('ol.library a.skill[href="/learnings?skill=ux"]').length`)); n == 0 {
		t.Error("the learning does not link to its skill ux")
	}
	do(t, ctx, "follow its skill", chromedp.Navigate(a.base+"/learnings?skill=ux"), chromedp.WaitVisible(learning))
	if loc := get(t, ctx, "read the location", chromedp.Location()); loc != a.base+"/learnings?skill=ux" {
		t.Errorf("the skill link leads to %s", loc)
	}
	do(t, ctx, "keep only failures", chromedp.Click(css(`#chip-failures`)), chromedp.WaitVisible(css(`#chip-failures[aria-current="true"]`)), chromedp.WaitVisible(learning))
	if href := get(t, ctx, "read the experiment link", chromedp.AttributeValue(css(`ol.library li a[href^="/experiments/"]`), "href")); href.Value != "/experiments/"+id {
		t.Errorf("the learning links to %q, want its experiment", href.Value)
	}
	saveScreenshot(t, "learnings.png", get(t, ctx, "screenshot the library", chromedp.FullScreenshot(100)))
}

// TestBrowserAccessibleAndResponsive checks keyboard access, visible
// focus, labels on every input, and that pages fit a phone's width
// without sideways scrolling.
func TestBrowserAccessibleAndResponsive(t *testing.T) {
	ctx := browser(t)
	a := startEmbedded(t)
	x := a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{
		"team": "growth", "title": "A rather long experiment title that has to wrap on a phone", "hypothesis": "h",
	})
	id := x["id"].(string)
	a.must(http.StatusOK, "POST", "/v1/experiments/"+id+"/start", nil)

	do(t, ctx, "open the overview and press Tab",
		chromedp.Navigate(a.base+"/"),
		chromedp.WaitVisible(css(`#figure-win-rate`)),
		chromedp.KeyEvent(kb.Tab),
	)
	active := get(t, ctx, "read the focus", chromedp.Evaluate[string](`document.activeElement.className`))
	outline := get(t, ctx, "read the outline", chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`))
	if active != "skip-link" || outline == "none" {
		t.Errorf("first Tab focuses %q with outline %q, want the visible skip link", active, outline)
	}

	for _, path := range []string{"/experiments/new", "/experiments/" + id + "/conclude", "/innovations/new", "/experiments", "/", "/learnings"} {
		do(t, ctx, "open "+path, chromedp.Navigate(a.base+path), chromedp.WaitVisible(css(`main`)))
		n := get(t, ctx, "count unlabelled inputs", chromedp.Evaluate[int](`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
			.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length`))
		if n > 0 {
			t.Errorf("%s has %d inputs without a label", path, n)
		}
	}

	do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/", "/experiments", "/experiments/" + id, "/experiments/new", "/backlog", "/innovations", "/learnings", "/experiments/" + id + "/conclude"} {
		do(t, ctx, "open "+path, chromedp.Navigate(a.base+path), chromedp.WaitVisible(css(`main`)))
		if get(t, ctx, "measure the width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)) {
			t.Errorf("%s scrolls sideways at 390 px", path)
		}
		if path == "/" {
			saveScreenshot(t, "overview-phone.png", get(t, ctx, "screenshot", chromedp.FullScreenshot(100)))
		}
	}
}

// TestBrowserSignIn signs in through the form in the browser, after a
// wrong token, registers an experiment as the member, and signs out. The
// session cookie is out of the page's scripts' reach.
func TestBrowserSignIn(t *testing.T) {
	ctx := browser(t)
	a := startAuthed(t)
	token := a.tokens[experiments.RoleMember]

	do(t, ctx, "open a form before signing in",
		chromedp.Navigate(a.base+"/experiments/new"),
		chromedp.WaitVisible(css(`#token`)),
	)
	if loc := get(t, ctx, "read the location", chromedp.Location()); loc != a.base+"/signin?next=%2Fexperiments%2Fnew" {
		t.Errorf("before signing in, the form's address leads to %s", loc)
	}
	if typ := get(t, ctx, "read the input's type", chromedp.AttributeValue(css(`#token`), "type")); typ.Value != "password" {
		t.Errorf("the token input is of type %q, want password", typ.Value)
	}
	// A token's last character is one of 16 (it carries 4 bits): the
	// wrong token changes it to one it is not.
	wrong := token[:len(token)-1] + "Q"
	if wrong == token {
		wrong = token[:len(token)-1] + "U"
	}
	do(t, ctx, "sign in with a wrong token",
		chromedp.SendKeys(css(`#token`), wrong),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`#token-error`)),
	)
	if v := get(t, ctx, "read the token input", chromedp.Value(css(`#token`))); v != "" {
		t.Error("the sign-in form shows the wrong token again")
	}
	if d := get(t, ctx, "read aria-describedby", chromedp.AttributeValue(css(`#token`), "aria-describedby")); !strings.Contains(d.Value, "token-error") {
		t.Errorf("the token's aria-describedby = %q, want it to point at the error", d.Value)
	}
	saveScreenshot(t, "signin-error.png", get(t, ctx, "screenshot the sign-in form", chromedp.FullScreenshot(100)))

	do(t, ctx, "sign in",
		chromedp.SendKeys(css(`#token`), token),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`#title`)),
	)
	if v := get(t, ctx, "read the team", chromedp.Value(css(`#team`))); v != "growth" {
		t.Errorf("the registration form offers team %q, want the member's growth", v)
	}
	if get(t, ctx, "read the cookies", chromedp.Evaluate[bool](`document.cookie.includes("failforward_token")`)) {
		t.Error("the page's script can read the session cookie")
	}
	do(t, ctx, "register an experiment",
		chromedp.SendKeys(css(`#title`), "Signed-in onboarding checklist"),
		chromedp.SendKeys(css(`#hypothesis`), "A checklist gets new teams to their first experiment faster"),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action$="/start"] button`)),
	)
	if path := strings.TrimPrefix(get(t, ctx, "read the location", chromedp.Location()), a.base); !experimentPath.MatchString(path) {
		t.Fatalf("after registering, the browser is at %s", path)
	}
	if name := get(t, ctx, "read the header", chromedp.Text(css(`#signed-in-name`))); name != "member-ada" {
		t.Errorf("the header names %q, want member-ada", name)
	}
	if who := get(t, ctx, "read the history", chromedp.Text(css(`table tbody tr td:nth-child(3)`))); who != "member-ada" {
		t.Errorf("the history says %q registered it, want member-ada", who)
	}
	saveScreenshot(t, "signed-in.png", get(t, ctx, "screenshot the experiment", chromedp.FullScreenshot(100)))

	do(t, ctx, "sign out",
		chromedp.Click(css(`#signed-in button[type=submit]`)),
		chromedp.WaitVisible(css(`#token`)),
		chromedp.Navigate(a.base+"/experiments"),
		chromedp.WaitVisible(css(`#token`)),
	)
}
