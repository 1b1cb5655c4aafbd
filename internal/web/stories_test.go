package web_test

import (
	"net/http"
	"strings"
	"testing"

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
