package events_test

import (
	"context"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
)

// emitStoryEvents writes every story event, for TestEmittedEventsMatchSchemas,
// with every field the commands accept: a story about an experiment the
// whole organisation sees, revised in every field, marked helpful by a
// reader and retracted with a reason.
func emitStoryEvents(ctx context.Context, t *testing.T, svc *experiments.Service, meta experiments.Meta) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	x, err := svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{Team: "growth", Title: "Annual plans", Hypothesis: "h"})
	must(err)
	y, err := svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{Team: "growth", Title: "Monthly plans", Hypothesis: "h"})
	must(err)
	story, err := svc.PublishStory(ctx, meta, experiments.PublishStory{
		Team: "growth", Title: "We priced for ourselves", Tried: "annual plans only", WentWrong: "nobody bought",
		Learned: "ask customers first", Differently: "interview five customers", ExperimentIDs: []string{x.ID},
		Visibility: experiments.VisibilityOrg,
	})
	must(err)
	title, tried, wrong, learned, differently, vis := "We priced for us", "annual plans", "no sales", "ask first", "interview", experiments.VisibilityTeam
	ids := []string{x.ID, y.ID}
	_, err = svc.ReviseStory(ctx, meta, story.ID, experiments.ReviseStory{
		Title: &title, Tried: &tried, WentWrong: &wrong, Learned: &learned, Differently: &differently, ExperimentIDs: &ids, Visibility: &vis,
	})
	must(err)
	reader := meta
	reader.Actor = "bo"
	_, err = svc.MarkStoryHelped(ctx, reader, story.ID)
	must(err)
	_, err = svc.RetractStory(ctx, meta, story.ID, experiments.RetractStory{Reason: "told it better elsewhere"})
	must(err)
}
