package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// versionTitles returns "version:title" of each earlier version.
func versionTitles(vs []readmodel.StoryVersion) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%d:%s", v.Version, v.Title))
	}
	return out
}

// TestStoryVersions revises stories and reads their earlier versions: who
// wrote each and when, what it said, oldest first, in any batches; a
// reader sees an earlier version only when they may see what it was
// then, and a retracted story is gone with its versions.
func TestStoryVersions(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		at := day(2026, 5, 1)
		s := &stream{}
		s.run(t, "x1", "growth", "Open failure", at, at, at, experiments.OutcomeFailed) // 1-3
		s.register(t, "x3", "core", "Later secret", at)                                 // 4
		s.publish(t, "s1", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 5, 2), "x1")
		title, tried := "Told again", "we tried twice"
		s.storyEvent(t, events.StoryRevised, "s1", "growth", "lee", day(2026, 5, 3), events.StoryRevisedV1{Title: &title})
		s.storyEvent(t, events.StoryHelped, "s1", "growth", "mia", day(2026, 5, 3), events.StoryHelpedV1{})
		s.storyEvent(t, events.StoryRevised, "s1", "growth", "ada", day(2026, 5, 4, 9), events.StoryRevisedV1{Tried: &tried})
		// s2 was told to its team, then widened to everyone with its
		// secret taken out: its first version stays the team's.
		s.publish(t, "s2", "growth", "mia", "member", experiments.VisibilityTeam, day(2026, 5, 5), "x1")
		open, clean := experiments.VisibilityOrg, "Nothing secret"
		s.storyEvent(t, events.StoryRevised, "s2", "growth", "mia", day(2026, 5, 6), events.StoryRevisedV1{Title: &clean, Visibility: &open})
		// s3 was about x3 too, which became team-only; the revision that
		// dropped x3 leaves the first version to those who see x3.
		s.publish(t, "s3", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 5, 7), "x1", "x3")
		only := []string{"x1"}
		s.storyEvent(t, events.StoryRevised, "s3", "growth", "lee", day(2026, 5, 8), events.StoryRevisedV1{Title: &clean, ExperimentIDs: &only})
		team := experiments.VisibilityTeam
		s.add(t, events.ExperimentRevised, "x3", "core", at, events.ExperimentRevisedV1{Visibility: &team})
		s.publish(t, "s4", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 5, 9), "x1")
		s.storyEvent(t, events.StoryRevised, "s4", "growth", "lee", day(2026, 5, 9), events.StoryRevisedV1{Title: &title})
		s.storyEvent(t, events.StoryRetracted, "s4", "growth", "lee", day(2026, 5, 10), events.StoryRetractedV1{})
		for name, sizes := range map[string][]int{"one batch": nil, "one by one": slices.Repeat([]int{1}, len(s.evs))} {
			t.Run(name, func(t *testing.T) {
				db := readstoretest.Open(t, d)
				if skipped := mustApply(t, db, s.evs, sizes...); len(skipped) != 0 {
					t.Fatalf("skipped = %+v", skipped)
				}
				assertRows(t, db, "SELECT position || '/' || written_by || '/' || title || '/' || tried FROM story_versions WHERE story_id = 's1' ORDER BY position",
					"5/lee/story s1/we tried", "6/lee/Told again/we tried", "8/ada/Told again/we tried twice")
				checkStoryVersions(t, readmodel.NewQueries(db))
			})
		}
	})
}

func checkStoryVersions(t *testing.T, q *readmodel.Queries) {
	t.Helper()
	ctx := context.Background()
	got, err := q.StoryWithRevisions(ctx, admin, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Told again" || got.Tried != "we tried twice" || len(got.Revisions) != 2 {
		t.Fatalf("s1 = %q, %q with %d earlier versions; want the third version and two earlier", got.Title, got.Tried, len(got.Revisions))
	}
	first, second := got.Revisions[0], got.Revisions[1]
	if first.Version != 1 || first.WrittenBy != "lee" || !first.WrittenAt.Equal(day(2026, 5, 2)) || first.Title != "story s1" ||
		first.Tried != "we tried" || first.WentWrong != "it broke" || first.Learned != "learned s1" || first.Differently != "smaller steps" {
		t.Errorf("first version = %+v", first)
	}
	if second.Version != 2 || second.WrittenBy != "lee" || !second.WrittenAt.Equal(day(2026, 5, 3)) || second.Title != "Told again" || second.Tried != "we tried" {
		t.Errorf("second version = %+v", second)
	}
	growth, core, outsider := readmodel.Viewer{Teams: []string{"growth"}}, readmodel.Viewer{Teams: []string{"core"}}, readmodel.Viewer{}
	for _, c := range []struct {
		v     readmodel.Viewer
		story string
		want  []string
	}{
		{outsider, "s1", []string{"1:story s1", "2:Told again"}},
		{admin, "s2", []string{"1:story s2"}},
		{growth, "s2", []string{"1:story s2"}},
		{outsider, "s2", []string{}},
		{admin, "s3", []string{"1:story s3"}},
		{core, "s3", []string{"1:story s3"}},
		{growth, "s3", []string{}},
	} {
		got, err := q.StoryWithRevisions(ctx, c.v, c.story)
		if err != nil {
			t.Errorf("%s as %+v: %v", c.story, c.v, err)
			continue
		}
		if titles := versionTitles(got.Revisions); !slices.Equal(titles, c.want) {
			t.Errorf("%s as %+v: earlier versions %v, want %v", c.story, c.v, titles, c.want)
		}
	}
	if _, err := q.StoryWithRevisions(ctx, admin, "s4"); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("a retracted story with versions = %v, want not found", err)
	}
	never, err := q.StoryWithRevisions(ctx, admin, "s9")
	if !errors.Is(err, experiments.ErrNotFound) || never.Revisions != nil {
		t.Errorf("an unknown story = %+v, %v; want not found", never, err)
	}
}

// TestBackfillFromHistory stands for a read store migrated to 0010 with
// data in it: halfway through a stream the story versions are emptied,
// the skill keys blanked and both marked for backfill, and the next batch
// must fill them, so that the store ends as one that had them all along.
func TestBackfillFromHistory(t *testing.T) {
	evs := withStories(t, generate(t, 1500, 9, true), 9)
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs, 500)
		db := readstoretest.Open(t, d)
		mustApply(t, db, evs[:900], 300)
		for _, stmt := range []string{
			"DELETE FROM story_versions", "UPDATE learning_skills SET skill_key = ''",
			"INSERT INTO read_model_backfill (item) VALUES ('story_versions')", "INSERT INTO read_model_backfill (item) VALUES ('skill_keys')",
		} {
			if _, err := db.ExecContext(context.Background(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		mustApply(t, db, evs[900:], 300)
		got, want := dump(t, db), dump(t, whole)
		if len(want["story_versions"]) == 0 || len(want["learning_skills"]) == 0 {
			t.Fatalf("stream too thin: %d versions, %d skills", len(want["story_versions"]), len(want["learning_skills"]))
		}
		sameTables(t, got, want, "a store that kept them all along")
	})
}

// TestSkillFiltersUseTheSkillKey filters the learnings library and the
// stories feed by a skill written in another case and spacing: every
// spelling with the same experiments.SkillKey matches, an unknown skill
// matches nothing, and a blank one does not filter.
func TestSkillFiltersUseTheSkillKey(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		at := day(2026, 4, 1)
		s := &stream{}
		s.run(t, "x1", "growth", "Onboarding", at, at, at, experiments.OutcomeFailed)
		s.learn(t, "x1", "growth", "l1", "people skip the tour", day(2026, 4, 2), "UX")
		s.learn(t, "x1", "growth", "l2", "ask before you build", day(2026, 4, 3), " ux", "User  Research")
		s.learn(t, "x1", "growth", "l3", "prices anchor", day(2026, 4, 4), "pricing")
		s.learn(t, "x1", "growth", "l4", "the Kelvin sign folds", day(2026, 4, 5), "\u212Aanban")
		s.publish(t, "s1", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 4, 6), "x1")
		if skipped := mustApply(t, db, s.evs); len(skipped) != 0 {
			t.Fatalf("skipped = %+v", skipped)
		}
		for _, c := range []struct {
			skill string
			want  []string
		}{
			{"Ux ", []string{"l2", "l1"}},
			{"ux", []string{"l2", "l1"}},
			{"user research", []string{"l2"}},
			{"kanban", []string{"l4"}},
			{"juggling", []string{}},
			{"u x", []string{}},
			{"  ", []string{"l4", "l3", "l2", "l1"}},
		} {
			got, err := q.Learnings(ctx, admin, readmodel.LearningFilter{Skill: c.skill})
			if err != nil {
				t.Errorf("Learnings(skill %q): %v", c.skill, err)
				continue
			}
			ids := []string{}
			for _, l := range got {
				ids = append(ids, l.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("Learnings(skill %q) = %v, want %v", c.skill, ids, c.want)
			}
			page, err := q.Stories(ctx, admin, readmodel.StoryFilter{Skill: c.skill})
			if wantStory := len(c.want) > 0; err != nil || (len(page.Items) == 1) != wantStory {
				t.Errorf("Stories(skill %q) = %v, %v; want the story: %v", c.skill, storyIDs(page), err, wantStory)
			}
		}
	})
}
