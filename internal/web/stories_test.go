package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// TestStoryPagesRender shows the feed, a story, the publish form prefilled
// from a failed experiment, and the experiment's stories, to the local
// admin (a UI without sign-in).
func TestStoryPagesRender(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	at := testNow.AddDate(0, -1, 0)
	x, told, gone := newID(at), newID(at.Add(1)), newID(at.Add(2))
	e.register(x, "growth", "Annual plan upsell", at)
	e.conclude(x, "growth", experiments.OutcomeFailed, at, at.Add(48*3600e9))
	e.learn(x, "growth", "price anchoring backfires", at.Add(49*3600e9))
	e.add(events.StoryPublished, told, "growth", at.Add(50*3600e9), events.StoryPublishedV1{
		Team: "growth", Title: "How I oversold the annual plan", Tried: "an upsell modal", WentWrong: "churn rose",
		Learned: "anchor on value, not price", Differently: "test on a small cohort", ExperimentIDs: []string{x},
		Visibility: experiments.VisibilityOrg, AuthorRole: "lead"})
	e.add(events.StoryHelped, told, "growth", at.Add(51*3600e9), events.StoryHelpedV1{})
	e.add(events.StoryPublished, gone, "growth", at.Add(52*3600e9), events.StoryPublishedV1{
		Team: "growth", Title: "Retracted tale", Learned: "l", ExperimentIDs: []string{x}, Visibility: "org", AuthorRole: "member"})
	e.add(events.StoryRetracted, gone, "growth", at.Add(53*3600e9), events.StoryRetractedV1{})
	e.apply()
	c := newClient(t, e.h)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/stories", []string{"How I oversold the annual plan", "lead at the time", "helped 1"}},
		{"/stories?by_leads=true&skill=PRICING", []string{"How I oversold the annual plan"}},
		{"/stories/" + told, []string{"churn rose", "anchor on value, not price", "test on a small cohort", "Annual plan upsell",
			`id="helped-count">1<`, "This helped me", "Revise", "Retract this story"}},
		{"/stories/new?experiment_id=" + x, []string{`value="` + x + `" checked`, `id="team" name="team" value="growth"`}},
		{"/stories/" + told + "/revise", []string{"an upsell modal", "Save the revision"}},
		{"/experiments/" + x, []string{"Stories about this failure", "How I oversold the annual plan", "Tell the story of this failure"}},
	} {
		status, _, body := c.get(tc.path)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tc.path, status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s does not show %q", tc.path, w)
			}
		}
		if strings.Contains(body, "Retracted tale") {
			t.Errorf("GET %s shows a retracted story", tc.path)
		}
	}
	for _, path := range []string{"/stories/" + gone, "/stories/not-an-id", "/stories/" + newID(at) + "/revise"} {
		if status, _, _ := c.get(path); status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, status)
		}
	}
	if _, _, body := c.get("/stories?skill=juggling"); !strings.Contains(body, "No story matches these filters") {
		t.Error("an unknown skill does not show an empty feed")
	}
}

// TestStoryPageShowsEarlierVersions revises a story twice, the second
// time as an admin: its page shows both earlier versions, oldest first,
// each in its own disclosure with who wrote it and when, and the story
// as it is now above them; a story never revised has no such section,
// and a retracted one stays gone with its versions.
func TestStoryPageShowsEarlierVersions(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	at := testNow.AddDate(0, 0, -10)
	x, told, plain, gone := newID(at), newID(at.Add(1)), newID(at.Add(2)), newID(at.Add(3))
	e.register(x, "growth", "Annual plan upsell", at)
	e.conclude(x, "growth", experiments.OutcomeFailed, at, at.Add(time.Hour))
	e.add(events.StoryPublished, told, "growth", at.Add(2*time.Hour), events.StoryPublishedV1{
		Team: "growth", Title: "How I oversold the annual plan", Tried: "an upsell modal", Learned: "anchor on value",
		ExperimentIDs: []string{x}, Visibility: experiments.VisibilityOrg, AuthorRole: "lead"})
	e.stream[len(e.stream)-1].Actor = "lee"
	title, wrong := "The annual plan, told again", "churn rose <fast>"
	e.add(events.StoryRevised, told, "growth", testNow.AddDate(0, 0, -5), events.StoryRevisedV1{Title: &title})
	e.stream[len(e.stream)-1].Actor = "lee"
	e.add(events.StoryRevised, told, "growth", testNow.AddDate(0, 0, -2), events.StoryRevisedV1{WentWrong: &wrong})
	e.stream[len(e.stream)-1].Actor = "ada"
	e.add(events.StoryPublished, plain, "growth", at, events.StoryPublishedV1{
		Team: "growth", Title: "Never revised", Learned: "l", ExperimentIDs: []string{x}, Visibility: "org", AuthorRole: "member"})
	e.add(events.StoryPublished, gone, "growth", at, events.StoryPublishedV1{
		Team: "growth", Title: "Gone", Learned: "l", ExperimentIDs: []string{x}, Visibility: "org", AuthorRole: "member"})
	e.add(events.StoryRevised, gone, "growth", at, events.StoryRevisedV1{Title: &title})
	e.add(events.StoryRetracted, gone, "growth", at, events.StoryRetractedV1{})
	e.apply()
	c := newClient(t, e.h)

	status, _, page := c.get("/stories/" + told)
	if status != http.StatusOK {
		t.Fatalf("GET the story = %d", status)
	}
	current := strings.Index(page, `<h1>The annual plan, told again</h1>`)
	section := strings.Index(page, `<section id="versions" aria-labelledby="h-versions">`)
	first, second := strings.Index(page, `<details class="version" id="version-1">`), strings.Index(page, `<details class="version" id="version-2">`)
	if current < 0 || section < current || first < section || second < first {
		t.Fatalf("the page does not show the story, then its earlier versions in order:\n%s", page)
	}
	contains(t, page, `<h2 id="h-versions">Earlier versions</h2>`)
	contains(t, page, `Version 1: published by <strong>lee</strong>, <time datetime="`+at.Add(2*time.Hour).Format(time.RFC3339)+`">5 Mar 2026</time>`)
	contains(t, page, `Version 2: revised by <strong>lee</strong>, <time datetime="2026-03-10T12:00:00Z">10 Mar 2026</time>`)
	contains(t, page, `<dt>Title</dt><dd>How I oversold the annual plan</dd>`)
	contains(t, page, `<dt>What we tried</dt><dd class="prose">an upsell modal</dd>`)
	contains(t, page, `<dt>What went wrong</dt><dd class="prose"><span class="meta">not told</span></dd>`)
	contains(t, page, `<dt>What we learned</dt><dd class="prose">anchor on value</dd>`)
	contains(t, page, `churn rose &lt;fast&gt;`) // the story as it is now, escaped
	if strings.Contains(page, `id="version-3"`) {
		t.Error("the current version is shown among the earlier ones")
	}
	if _, _, page := c.get("/stories/" + plain); strings.Contains(page, "Earlier versions") {
		t.Error("a story never revised shows earlier versions")
	}
	if status, _, page := c.get("/stories/" + gone); status != http.StatusNotFound || strings.Contains(page, "told again") {
		t.Errorf("GET a retracted story with versions = %d, want 404", status)
	}
}
