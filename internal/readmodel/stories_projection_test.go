package readmodel_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

func TestStoryEventsFoldIntoRows(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		at := day(2026, 5, 1)
		s := &stream{}
		s.run(t, "x1", "growth", "Pricing page", at, at, at, experiments.OutcomeFailed)  // 1-3
		s.register(t, "x2", "growth", "Checkout", at)                                    // 4
		s.publish(t, "s1", "growth", "lee", "lead", experiments.VisibilityOrg, at, "x1") // 5
		title, xs := "Pricing, told again", []string{"x2", "x1"}
		s.storyEvent(t, events.StoryRevised, "s1", "growth", "lee", at, events.StoryRevisedV1{Title: &title, ExperimentIDs: &xs}) // 6
		s.storyEvent(t, events.StoryHelped, "s1", "growth", "mia", at, events.StoryHelpedV1{})                                    // 7
		s.storyEvent(t, events.StoryHelped, "s1", "growth", "mia", at, events.StoryHelpedV1{})                                    // 8: counted once
		s.storyEvent(t, events.StoryHelped, "s1", "growth", "noa", at, events.StoryHelpedV1{})                                    // 9
		s.storyEvent(t, events.StoryHelped, "s9", "growth", "noa", at, events.StoryHelpedV1{})                                    // 10: unknown story
		s.publish(t, "s1", "growth", "lee", "lead", experiments.VisibilityOrg, at, "x1")                                          // 11: duplicate
		s.storyEvent(t, events.StoryRetracted, "s1", "growth", "lee", at, events.StoryRetractedV1{Reason: "told twice"})          // 12
		for name, sizes := range map[string][]int{"one batch": nil, "one by one": slices.Repeat([]int{1}, len(s.evs)), "split marks": {7, 1, 4}} {
			t.Run(name, func(t *testing.T) {
				db := readstoretest.Open(t, d)
				skipped := mustApply(t, db, s.evs, sizes...)
				var reasons []string
				for _, sk := range skipped {
					reasons = append(reasons, sk.Reason)
				}
				if len(skipped) != 2 || skipped[0].Position != 10 || skipped[1].Position != 11 {
					t.Errorf("skipped = %v, want positions 10 (unknown story) and 11 (duplicate)", reasons)
				}
				assertRows(t, db, "SELECT title || '/' || author || '/' || author_role || '/' || helped || '/' || version || '/' || position || '/' || retract_reason FROM stories",
					"Pricing, told again/lee/lead/2/6/12/told twice")
				assertRows(t, db, "SELECT experiment_id FROM story_experiments WHERE story_id = 's1' ORDER BY experiment_id", "x1", "x2")
				assertRows(t, db, "SELECT actor || '@' || position FROM story_helped ORDER BY actor", "mia@7", "noa@9")
				assertRows(t, db, "SELECT experiment_ids FROM stories", `["x2","x1"]`)
				var retracted bool
				if err := db.GetContext(t.Context(), &retracted, "SELECT retracted FROM stories"); err != nil || !retracted {
					t.Errorf("retracted = %v, %v; want true", retracted, err)
				}
			})
		}
	})
}

func TestWebhookEventsAreIgnoredNotSkipped(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		at := day(2026, 5, 1)
		s := &stream{}
		s.register(t, "x1", "growth", "Valid", at)
		for _, name := range []string{events.WebhookCreated, events.WebhookPaused, events.WebhookDeleted} {
			// Not even a payload the webhook schemas take: it is not the read
			// model's to decode.
			s.addRaw(events.TypeOf(name), events.Subject(name, "w1"), "w1", "growth", at, json.RawMessage(`{"odd": true}`))
		}
		s.start(t, "x1", "growth", at)
		if skipped := mustApply(t, db, s.evs); len(skipped) != 0 {
			t.Errorf("skipped = %+v, want none", skipped)
		}
		assertRows(t, db, "SELECT aggregate || ':' || position FROM history ORDER BY position", "experiment:1", "experiment:5")
		var pos uint64
		if err := db.GetContext(t.Context(), &pos, "SELECT position FROM projector_checkpoint"); err != nil || pos != 5 {
			t.Errorf("checkpoint = %d, %v; want 5", pos, err)
		}
	})
}

// TestStoryReplayIsDeterministic replays a stream with stories mixed in
// into fresh databases, in different batches: every table, the story
// tables included, must come out the same. The stream without its story
// events projects to empty story tables.
func TestStoryReplayIsDeterministic(t *testing.T) {
	const n = 1500
	old := generate(t, n, 7, true)
	evs := withStories(t, old, 7)
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		plain := readstoretest.Open(t, d)
		mustApply(t, plain, old)
		for _, tb := range []string{"stories", "story_experiments", "story_helped", "story_versions"} {
			if rows := dump(t, plain)[tb]; len(rows) != 0 {
				t.Errorf("%s after a stream without stories: %d rows, want none", tb, len(rows))
			}
		}
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs)
		want := dump(t, whole)
		if len(want["stories"]) < 20 || len(want["story_helped"]) == 0 || len(want["story_experiments"]) < len(want["stories"]) ||
			len(want["story_versions"]) <= len(want["stories"]) {
			t.Fatalf("stream is too thin: %d stories, %d marks, %d links, %d versions",
				len(want["stories"]), len(want["story_helped"]), len(want["story_experiments"]), len(want["story_versions"]))
		}
		r := rand.New(rand.NewPCG(4, 5))
		var random []int
		for range len(evs) {
			random = append(random, r.IntN(100)+1)
		}
		db := readstoretest.Open(t, d)
		mustApply(t, db, evs, random...)
		got := dump(t, db)
		sameTables(t, got, want, "one batch's")
	})
}
