package readmodel_test

import (
	"errors"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

func storyIDs(p readmodel.StoryPage) []string {
	var out []string
	for _, s := range p.Items {
		out = append(out, s.ID)
	}
	return out
}

func TestStoriesFeedAndVisibility(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := t.Context()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		at := day(2026, 5, 1)
		s := &stream{}
		s.run(t, "x1", "growth", "Open failure", at, at, at, experiments.OutcomeFailed)
		s.learn(t, "x1", "growth", "l1", "ask first", at, "Customer  Interviews")
		s.run(t, "x2", "core", "Secret failure", at, at, at, experiments.OutcomeFailed, teamOnly)
		s.register(t, "x3", "core", "Later secret", at)
		s.publish(t, "s1", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 5, 2), "x1")
		s.publish(t, "s2", "core", "max", "member", experiments.VisibilityTeam, day(2026, 5, 3), "x2")
		s.publish(t, "s3", "growth", "mia", "member", experiments.VisibilityTeam, day(2026, 5, 4), "x1")
		s.publish(t, "s4", "core", "max", "member", experiments.VisibilityOrg, day(2026, 5, 5), "x3", "x1")
		s.publish(t, "s5", "growth", "lee", "lead", experiments.VisibilityOrg, day(2026, 5, 6), "x1")
		s.storyEvent(t, events.StoryRetracted, "s5", "growth", "lee", at, events.StoryRetractedV1{})
		// x3 became team-only after s4 was told about it: s4 now hides from
		// those who may not see x3.
		vis := experiments.VisibilityTeam
		s.add(t, events.ExperimentRevised, "x3", "core", at, events.ExperimentRevisedV1{Visibility: &vis})
		if skipped := mustApply(t, db, s.evs); len(skipped) != 0 {
			t.Fatalf("skipped = %+v", skipped)
		}
		growth := readmodel.Viewer{Teams: []string{"growth"}}
		core := readmodel.Viewer{Teams: []string{"core"}}
		outsider := readmodel.Viewer{}
		for _, c := range []struct {
			name string
			v    readmodel.Viewer
			f    readmodel.StoryFilter
			want []string
		}{
			{"admin", admin, readmodel.StoryFilter{}, []string{"s4", "s3", "s2", "s1"}},
			{"growth", growth, readmodel.StoryFilter{}, []string{"s3", "s1"}},
			{"core", core, readmodel.StoryFilter{}, []string{"s4", "s2", "s1"}},
			{"outsider", outsider, readmodel.StoryFilter{}, []string{"s1"}},
			{"by leads", admin, readmodel.StoryFilter{ByLeads: true}, []string{"s1"}},
			{"team", admin, readmodel.StoryFilter{Team: "core"}, []string{"s4", "s2"}},
			{"skill, spelled otherwise", admin, readmodel.StoryFilter{Skill: "customer interviews"}, []string{"s4", "s3", "s1"}},
			{"unknown skill", admin, readmodel.StoryFilter{Skill: "juggling"}, nil},
			{"experiment", growth, readmodel.StoryFilter{ExperimentID: "x1"}, []string{"s3", "s1"}},
			{"hidden experiment", outsider, readmodel.StoryFilter{ExperimentID: "x2"}, nil},
		} {
			got, err := q.Stories(ctx, c.v, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if ids := storyIDs(got); !equalStrings(ids, c.want) {
				t.Errorf("%s: stories = %v, want %v", c.name, ids, c.want)
			}
		}
		page, err := q.Stories(ctx, admin, readmodel.StoryFilter{Limit: 3})
		if err != nil || len(page.Items) != 3 || page.NextCursor == "" {
			t.Fatalf("first page = %v, %v", storyIDs(page), err)
		}
		rest, err := q.Stories(ctx, admin, readmodel.StoryFilter{Limit: 3, Cursor: page.NextCursor})
		if err != nil || !equalStrings(storyIDs(rest), []string{"s1"}) || rest.NextCursor != "" {
			t.Errorf("second page = %v, %q, %v", storyIDs(rest), rest.NextCursor, err)
		}
		if _, err := q.Stories(ctx, admin, readmodel.StoryFilter{Cursor: "nope"}); !errors.Is(err, readmodel.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}

		s1, err := q.Story(ctx, outsider, "s1")
		if err != nil || s1.Author != "lee" || s1.AuthorRole != experiments.RoleLead || s1.Learned != "learned s1" {
			t.Errorf("s1 = %+v, %v", s1, err)
		}
		for _, c := range []struct {
			v  readmodel.Viewer
			id string
		}{{growth, "s2"}, {outsider, "s3"}, {growth, "s4"}, {admin, "s5"}, {admin, "nope"}} {
			if _, err := q.Story(ctx, c.v, c.id); !errors.Is(err, experiments.ErrNotFound) {
				t.Errorf("Story(%v, %s) = %v, want not found", c.v, c.id, err)
			}
		}
		access, err := q.StoryAccess(ctx, growth, []string{"s1", "s2", "s4", "s1", "nope"})
		if err != nil || len(access) != 3 || !access["s1"] || access["s2"] || access["s4"] {
			t.Errorf("StoryAccess = %v, %v", access, err)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
