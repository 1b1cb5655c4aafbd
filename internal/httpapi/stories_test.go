package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

func publishStory(t *testing.T, svc *experiments.Service, team, visibility string, xs ...string) experiments.Story {
	t.Helper()
	s, err := svc.PublishStory(context.Background(), testMeta, experiments.PublishStory{
		Team: team, Title: "story of " + team, Learned: "a lesson", ExperimentIDs: xs, Visibility: visibility,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEventStreamHidesTeamStories checks that a team-visible story's
// events, and those of a story about a team-only experiment, reach its
// team and leads and never an outsider, while an org story's reach all.
func TestEventStreamHidesTeamStories(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	open := registerExperiment(t, f.svc, "growth", "org")
	confidential := registerExperiment(t, f.svc, "growth", "team")
	public := publishStory(t, f.svc, "growth", "org", open.ID)
	teamStory := publishStory(t, f.svc, "growth", "team", open.ID)
	aboutSecret := publishStory(t, f.svc, "growth", "", confidential.ID)
	reader := experiments.Meta{Actor: "mia", Principal: &experiments.Principal{Name: "mia", Role: experiments.RoleMember, Teams: []string{"growth"}}}
	for _, id := range []string{public.ID, teamStory.ID, aboutSecret.ID} {
		if _, err := f.svc.MarkStoryHelped(ctx, reader, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.RetractStory(ctx, testMeta, teamStory.ID, experiments.RetractStory{}); err != nil {
		t.Fatal(err)
	}
	end := registerExperiment(t, f.svc, "platform", "org")
	secret := []string{teamStory.ID, aboutSecret.ID}
	for _, tt := range []struct {
		viewer     string
		token      string
		seesSecret bool
	}{
		{"outsider", f.outsider, false},
		{"insider", f.insider, true},
		{"lead", f.lead, true},
	} {
		t.Run(tt.viewer, func(t *testing.T) {
			s := f.openStream(t, tt.token, "type=story.published,story.helped,story.retracted,experiment.registered", "")
			seen := map[string]int{}
			for {
				env := s.next(t).envelope(t)
				if env.Subject == end.ID {
					break
				}
				seen[env.Subject]++
				if mentions(t, env, secret...) && !tt.seesSecret {
					t.Errorf("%s got %s of story %s", tt.viewer, env.Type, env.Subject)
				}
			}
			if seen[public.ID] != 2 {
				t.Errorf("%s got %d events of the org story, want 2", tt.viewer, seen[public.ID])
			}
			if tt.seesSecret && (seen[teamStory.ID] != 3 || seen[aboutSecret.ID] != 2) {
				t.Errorf("%s got %d and %d events of the team stories, want 3 and 2", tt.viewer, seen[teamStory.ID], seen[aboutSecret.ID])
			}
		})
	}
}

// TestGetStoryAnswersItsEarlierVersions reads a revised story and one
// never revised, each answer checked against openapi.yaml: the first
// comes with what it said as published, the second with no versions.
func TestGetStoryAnswersItsEarlierVersions(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	c := &checkedAPI{contractAPI: f, t: t, v: openAPIValidator(t), succeeded: map[string]bool{}}
	x := registerExperiment(t, f.svc, "growth", "org")
	revised, plain := publishStory(t, f.svc, "growth", "org", x.ID), publishStory(t, f.svc, "growth", "org", x.ID)
	title := "told again"
	if _, err := f.svc.ReviseStory(context.Background(), testMeta, revised.ID, experiments.ReviseStory{Title: &title}); err != nil {
		t.Fatal(err)
	}
	f.project(t)
	got := decodeBody[readmodel.StoryDetail](t, c.send(call{method: "GET", path: "/v1/stories/" + revised.ID, token: f.outsider, want: 200}))
	if got.Title != title || len(got.Revisions) != 1 {
		t.Fatalf("GET the revised story = %q with %d earlier versions, want %q with one", got.Title, len(got.Revisions), title)
	}
	if v := got.Revisions[0]; v.Version != 1 || v.Title != "story of growth" || v.Learned != "a lesson" || v.WrittenBy != testMeta.Actor ||
		!v.WrittenAt.Equal(revised.PublishedAt.Truncate(time.Microsecond)) {
		t.Errorf("earlier version = %+v, want the story as %s published it at %s", v, testMeta.Actor, revised.PublishedAt)
	}
	body := c.send(call{method: "GET", path: "/v1/stories/" + plain.ID, token: f.outsider, want: 200})
	if !strings.Contains(string(body), `"revisions":[]`) {
		t.Errorf("a story never revised answers %s, want no earlier versions", body)
	}
}
