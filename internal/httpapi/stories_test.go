package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
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
