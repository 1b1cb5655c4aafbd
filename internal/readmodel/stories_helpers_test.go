package readmodel_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// publish appends a story.published by author, of role, about xs.
func (s *stream) publish(tb testing.TB, id, team, author, role, visibility string, at time.Time, xs ...string) {
	tb.Helper()
	s.add(tb, events.StoryPublished, id, team, at, events.StoryPublishedV1{
		Team: team, Title: "story " + id, Tried: "we tried", WentWrong: "it broke", Learned: "learned " + id,
		Differently: "smaller steps", ExperimentIDs: xs, Visibility: visibility, AuthorRole: role})
	s.evs[len(s.evs)-1].Actor = author
}

// storyEvent appends a revision, retraction or mark of story id by actor.
func (s *stream) storyEvent(tb testing.TB, name, id, team, actor string, at time.Time, payload any) {
	tb.Helper()
	s.add(tb, name, id, team, at, payload)
	s.evs[len(s.evs)-1].Actor = actor
}

// withStories returns evs, renumbered, with story events about the
// experiments registered so far mixed in (about one event in eight), and
// a few webhook events, which the read model passes over.
func withStories(tb testing.TB, evs []events.Recorded, seed uint64) []events.Recorded {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, seed+1))
	s := &stream{}
	var exps, stories []string
	team := map[string]string{}
	registered := events.TypeOf(events.ExperimentRegistered)
	for _, ev := range evs {
		s.addRaw(ev.Type, ev.StreamSubject, ev.Subject, ev.Team, ev.Time, ev.Data)
		if ev.Type == registered {
			exps = append(exps, ev.Subject)
			team[ev.Subject] = ev.Team
		}
		if len(exps) == 0 || r.IntN(8) != 0 {
			continue
		}
		at := ev.Time.Add(time.Second)
		switch k := r.IntN(10); {
		case k < 4 || len(stories) == 0:
			id := fmt.Sprintf("s%06d", len(stories))
			x := exps[r.IntN(len(exps))]
			roles := []string{"member", "lead", "admin"}
			s.publish(tb, id, team[x], "author"+id, roles[r.IntN(3)], experiments.VisibilityOrg, at, x)
			stories = append(stories, id)
			team[id] = team[x]
		case k < 6:
			id := stories[r.IntN(len(stories))]
			title, xs := "revised "+id, []string{exps[r.IntN(len(exps))]}
			s.storyEvent(tb, events.StoryRevised, id, team[id], "author"+id, at, events.StoryRevisedV1{Title: &title, ExperimentIDs: &xs})
		case k < 8:
			id := stories[r.IntN(len(stories))]
			s.storyEvent(tb, events.StoryHelped, id, team[id], fmt.Sprintf("reader%d", r.IntN(4)), at, events.StoryHelpedV1{})
		case k < 9:
			id := stories[r.IntN(len(stories))]
			s.storyEvent(tb, events.StoryRetracted, id, team[id], "author"+id, at, events.StoryRetractedV1{Reason: "wrong team"})
		default:
			s.addRaw(events.TypeOf(events.WebhookPaused), "tracker.webhook.w1.paused", "w1", "growth", at, json.RawMessage(`{}`))
		}
	}
	return s.evs
}
