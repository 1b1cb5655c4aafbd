package experiments_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// TestStoryApply folds a story's events as the read side does, from the
// envelopes alone: the author and each reader are the events' actors, and
// a reader counted once stays counted once.
func TestStoryApply(t *testing.T) {
	at := time.Date(2026, 5, 1, 9, 30, 0, 0, time.FixedZone("CEST", 2*60*60))
	var s experiments.Story
	for i, e := range []struct{ name, actor, data string }{
		{events.StoryPublished, "gia", `{"title": "t", "tried": "a", "went_wrong": "b", "learned": "c", "differently": "d",
			"experiment_ids": ["X1"], "visibility": "team", "author_role": "lead"}`},
		{events.StoryRevised, "ada", `{"title": "t2", "experiment_ids": ["X1", "X2"]}`},
		{events.StoryHelped, "vic", `{}`},
		{events.StoryHelped, "vic", `{}`},
		{events.StoryHelped, "lee", `{}`},
		{events.StoryRetracted, "gia", `{"reason": "r"}`},
	} {
		r, p := recorded(t, uint64(10+i), e.name, "S1", "growth", at.Add(time.Duration(i)*time.Hour), e.data)
		r.Actor = e.actor
		if err := s.Apply(r, p); err != nil {
			t.Fatal(err)
		}
	}
	utc := at.UTC()
	revised, retracted := utc.Add(time.Hour), utc.Add(5*time.Hour)
	want := experiments.Story{
		ID: "S1", Team: "growth", Title: "t2", Tried: "a", WentWrong: "b", Learned: "c", Differently: "d",
		ExperimentIDs: []string{"X1", "X2"}, Visibility: experiments.VisibilityTeam, Author: "gia",
		AuthorRole: experiments.RoleLead, PublishedAt: utc, RevisedAt: &revised, Retracted: true, RetractedAt: &retracted,
		RetractReason: "r", Helped: 2, HelpedBy: map[string]bool{"vic": true, "lee": true}, Version: 6, Position: 15,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("folded =\n%+v\nwant\n%+v", s, want)
	}

	r, p := recorded(t, 20, events.ExperimentStarted, "S1", "growth", at, `{}`)
	if err := s.Apply(r, p); err == nil || s.Version != 6 {
		t.Errorf("Apply(experiment.started) = %v, version %d; want an error and no change", err, s.Version)
	}
	var bare experiments.Story
	r, p = recorded(t, 1, events.StoryPublished, "S2", "core", at, `{"title": "t", "learned": "l"}`)
	if err := bare.Apply(r, p); err != nil || bare.Team != "core" || bare.Visibility != experiments.VisibilityOrg ||
		bare.ExperimentIDs == nil || bare.HelpedBy == nil {
		t.Errorf("publication without team, visibility or ids = %+v, %v", bare, err)
	}
}
