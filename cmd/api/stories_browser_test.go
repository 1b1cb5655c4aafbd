package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/failforward/failforward/internal/experiments"
)

// signInBrowser signs in through the form with token, starting at next.
func signInBrowser(t *testing.T, ctx context.Context, a *authed, token, next string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(a.base+next),
		chromedp.WaitVisible(css(`#token`)),
		chromedp.SendKeys(css(`#token`), token),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`#signed-in-name`)),
	)
}

// TestBrowserFailureStory: a lead tells the story of a failed experiment
// from its page; a member finds it on the experiment's page and marks it
// helpful, once.
func TestBrowserFailureStory(t *testing.T) {
	ctx := browser(t)
	a := startAuthed(t)
	id := a.seed("growth", experiments.VisibilityOrg, "concluded", "Checkout banner for annual plans")
	x := "/experiments/" + id

	signInBrowser(t, ctx, a, a.tokens[experiments.RoleLead], x)
	do(t, ctx, "tell the story from the experiment's page",
		chromedp.WaitVisible(css(`#tell-story`)),
		chromedp.Click(css(`#tell-story`)),
		chromedp.WaitVisible(css(`#title`)),
	)
	if !get(t, ctx, "read the checkbox", chromedp.Evaluate[bool](`document.getElementById('experiment_ids-`+id+`').checked`)) {
		t.Error("the experiment the form was opened from is not pre-checked")
	}
	do(t, ctx, "publish the story",
		chromedp.SendKeys(css(`#title`), "I bet on a banner nobody saw"),
		chromedp.SendKeys(css(`#tried`), "A banner at checkout for annual plans."),
		chromedp.SendKeys(css(`#went_wrong`), "It sat below the fold; nobody scrolled to it."),
		chromedp.SendKeys(css(`#learned`), "Check where people look before deciding what to show them."),
		chromedp.SendKeys(css(`#differently`), "A five-user hallway test first."),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`#story-author`)),
	)
	if by := get(t, ctx, "read the author", chromedp.Text(css(`#story-author`))); !strings.Contains(by, "lead-ada, lead at the time") {
		t.Errorf("the story names its author as %q", by)
	}
	do(t, ctx, "sign out", chromedp.Click(css(`#signed-in button[type=submit]`)), chromedp.WaitVisible(css(`#token`)))

	signInBrowser(t, ctx, a, a.tokens[experiments.RoleMember], x)
	do(t, ctx, "open the story from the experiment's page",
		chromedp.WaitVisible(css(`ul.stories a`)),
		chromedp.Click(css(`ul.stories a`)),
		chromedp.WaitVisible(css(`#mark-helped`)),
		chromedp.Click(css(`#mark-helped`)),
		chromedp.WaitVisible(css(`#helped strong`)),
	)
	if n := get(t, ctx, "read the count", chromedp.Text(css(`#helped-count`))); n != "1" {
		t.Errorf("after the mark, the count is %q, want 1", n)
	}
	if get(t, ctx, "look for the button", chromedp.Evaluate[bool](`document.getElementById('mark-helped') !== null`)) {
		t.Error("the story still offers the member the mark")
	}
	saveScreenshot(t, "story.png", get(t, ctx, "screenshot the story", chromedp.FullScreenshot(100)))

	do(t, ctx, "open the feed, told by leads", chromedp.Navigate(a.base+"/stories?by_leads=true"), chromedp.WaitVisible(css(`ul.stories`)))
	if text := get(t, ctx, "read the feed", chromedp.Text(css(`ul.stories`))); !strings.Contains(text, "I bet on a banner nobody saw") || !strings.Contains(text, "helped 1") {
		t.Errorf("the feed shows %q", text)
	}
	saveScreenshot(t, "stories.png", get(t, ctx, "screenshot the feed", chromedp.FullScreenshot(100)))

	checkOpenness(t, ctx, a)
	checkSkills(t, ctx, a, id)

	do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/stories", "/stories/new?experiment_id=" + id, x} {
		do(t, ctx, "open "+path, chromedp.Navigate(a.base+path), chromedp.WaitVisible(css(`main`)))
		n := get(t, ctx, "count unlabelled inputs", chromedp.Evaluate[int](`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
			.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length`))
		if n > 0 {
			t.Errorf("%s has %d inputs without a label", path, n)
		}
		if get(t, ctx, "measure the width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)) {
			t.Errorf("%s scrolls sideways at 390 px", path)
		}
	}
}

// checkOpenness opens the overview after the one failure got its learning
// and its story from a lead: learning rate, openness in learnings and in
// stories are all of it, and the lead's story is counted.
func checkOpenness(t *testing.T, ctx context.Context, a *authed) {
	t.Helper()
	do(t, ctx, "open the overview", chromedp.Navigate(a.base+"/"), chromedp.WaitVisible(css(`#figure-openness-stories`)))
	want := map[string]string{"learning-rate": "100%", "openness": "100%", "openness-stories": "100%", "stories-by-leads": "1"}
	for id, v := range want {
		js := `(document.querySelector('#figure-` + id + ` .value') || {}).textContent === '` + v + `'`
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			got := get(t, ctx, "read "+id, chromedp.Text(css(`#figure-`+id+` .value`)))
			t.Errorf("overview: %s = %q, want %s", id, got, v)
		}
	}
	saveScreenshot(t, "overview-openness.png", get(t, ctx, "screenshot the overview", chromedp.FullScreenshot(100)))
}

// checkSkills opens the skills page: the failure's skill is there, counted
// from failures, marked as first learned from one, and opens the learning
// that names it.
func checkSkills(t *testing.T, ctx context.Context, a *authed, id string) {
	t.Helper()
	row := css(`table.skills tr[data-skill="negotiation"]`)
	do(t, ctx, "open the skills page", chromedp.Navigate(a.base+"/skills"), chromedp.WaitVisible(row))
	if text := get(t, ctx, "read the skill", chromedp.Text(row)); !strings.Contains(text, "first learned from a failure") {
		t.Errorf("the skill's row reads %q, want it marked first learned from a failure", text)
	}
	if n := get(t, ctx, "read from failures", chromedp.Text(css(`table.skills tr[data-skill="negotiation"] td.from-failures`))); n != "1" {
		t.Errorf("negotiation from failures = %q, want 1", n)
	}
	saveScreenshot(t, "skills.png", get(t, ctx, "screenshot the skills", chromedp.FullScreenshot(100)))
	href := get(t, ctx, "read the skill's link", chromedp.AttributeValue(css(`table.skills tr[data-skill="negotiation"] a.skill`), "href"))
	do(t, ctx, "open the skill's learnings", chromedp.Navigate(a.base+href.Value),
		chromedp.WaitVisible(css(`ol.library li[data-experiment-id="`+id+`"]`)))
}
