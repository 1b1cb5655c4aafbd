package readmodel_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

var admin = readmodel.Viewer{All: true}

func TestNewProjectionRejectsUnknownDialect(t *testing.T) {
	if _, err := readmodel.NewProjection("oracle"); err == nil {
		t.Fatal("NewProjection(oracle) succeeded")
	}
}

func TestApplyEveryEventType(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s := &stream{}
		s.register(t, "x1", "growth", "Pricing page", day(2026, 1, 5, 10), tags("pricing", "ux", "pricing"),
			func(p *events.ExperimentRegisteredV1) { p.Cost = &events.Cost{PersonDays: 2, Spend: 100} })
		s.register(t, "x2", "growth", "Pricing email", day(2026, 1, 6), buildsOn("x1"))
		title, ts := "Pricing page v2", []string{"ux", "onboarding"}
		s.add(t, events.ExperimentRevised, "x1", "growth", day(2026, 1, 7), events.ExperimentRevisedV1{Title: &title, Tags: &ts})
		// started_at comes from the payload, not from the envelope's time.
		s.add(t, events.ExperimentStarted, "x1", "growth", day(2026, 1, 10, 9), events.ExperimentStartedV1{StartedAt: day(2026, 1, 10, 8)})
		s.learn(t, "x1", "growth", "l1", "Anchoring works", day(2026, 1, 20), "pricing", "statistics", "pricing")
		s.add(t, events.ExperimentConcluded, "x1", "growth", day(2026, 2, 1, 12), events.ExperimentConcludedV1{
			Outcome: experiments.OutcomeFailed, Decision: "pivot", Summary: "no lift", Observed: "-0.3%",
			FailureReasons: []string{"too small"}, ConcludedAt: day(2026, 2, 1, 11)})
		s.add(t, events.ExperimentOutcomeRevised, "x1", "growth", day(2026, 2, 2), events.ExperimentOutcomeRevisedV1{
			Outcome: experiments.OutcomeInconclusive, PreviousOutcome: experiments.OutcomeFailed, Reason: "sample ratio mismatch"})
		s.add(t, events.ExperimentAbandoned, "x2", "growth", day(2026, 2, 3), events.ExperimentAbandonedV1{
			Reason: "superseded", AbandonedAt: day(2026, 2, 3, 1)})
		s.innovate(t, "i1", "core", "Smart pricing", day(2026, 2, 20), day(2026, 3, 1))
		s.link(t, "i1", "x1", "core", day(2026, 2, 21)) // 10
		s.add(t, events.InnovationLinked, "i1", "core", day(2026, 2, 22), events.InnovationLinkedV1{ExperimentID: "x1", Note: "again"})
		s.unlink(t, "i1", "x1", "core", day(2026, 2, 23)) // 12
		s.link(t, "i1", "x2", "core", day(2026, 2, 24))
		s.add(t, events.InnovationLinked, "i1", "core", day(2026, 2, 25), events.InnovationLinkedV1{ExperimentID: "x1", Note: "back"})

		if skipped := mustApply(t, db, s.evs[:12]); len(skipped) != 0 {
			t.Fatalf("skipped = %+v, want none", skipped)
		}
		n, err := q.GetInnovation(ctx, admin, "i1")
		if err != nil {
			t.Fatal(err)
		}
		if len(n.InformedBy) != 0 {
			t.Errorf("after unlink, InformedBy = %+v, want none", n.InformedBy)
		}
		var active []bool
		if err := db.SelectContext(context.Background(), &active, "SELECT active FROM innovation_links"); err != nil || !reflect.DeepEqual(active, []bool{false}) {
			t.Errorf("link rows after unlink: active = %v, %v; want [false]", active, err)
		}
		if skipped := mustApply(t, db, s.evs[12:]); len(skipped) != 0 {
			t.Fatalf("skipped = %+v, want none", skipped)
		}

		x1, err := q.GetExperiment(ctx, admin, "x1")
		if err != nil {
			t.Fatal(err)
		}
		started, concluded := day(2026, 1, 10, 8), day(2026, 2, 1, 11)
		want := experiments.Experiment{
			ID: "x1", Team: "growth", Title: "Pricing page v2", Kind: "ab_test", Hypothesis: "if we Pricing page then more",
			SuccessMetric: "conversion", SuccessCriteria: "+2%", Owner: "owner@growth", Tags: []string{"ux", "onboarding"},
			BuildsOn: []string{}, Visibility: "org", Status: "concluded", Outcome: "inconclusive", Decision: "pivot",
			Summary: "no lift", Observed: "-0.3%", FailureReasons: []string{"too small"},
			Cost: &events.Cost{PersonDays: 2, Spend: 100}, OutcomeRevisions: 1,
			Learnings: []experiments.Learning{{ID: "l1", ExperimentID: "x1", Text: "Anchoring works",
				Skills: []string{"pricing", "statistics", "pricing"}, RecordedAt: day(2026, 1, 20)}},
			RegisteredAt: day(2026, 1, 5, 10), StartedAt: &started, ConcludedAt: &concluded,
			Version: 6, Position: 7,
		}
		if !reflect.DeepEqual(x1, want) {
			t.Errorf("GetExperiment(x1) =\n%+v\nwant\n%+v", x1, want)
		}

		x2, err := q.GetExperiment(ctx, admin, "x2")
		if err != nil {
			t.Fatal(err)
		}
		if x2.Status != "abandoned" || x2.AbandonReason != "superseded" || x2.AbandonedAt == nil ||
			!x2.AbandonedAt.Equal(day(2026, 2, 3, 1)) || x2.Version != 2 || x2.Position != 8 ||
			!slices.Equal(x2.BuildsOn, []string{"x1"}) {
			t.Errorf("GetExperiment(x2) = %+v", x2)
		}

		var months []string
		if err := db.SelectContext(context.Background(), &months, `SELECT registered_month || '/' || started_month || '/' || concluded_month || '/' ||
			abandoned_month || '/' || learning_count FROM experiments ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if want := []string{"2026-01/2026-01/2026-02//1", "2026-01///2026-02/0"}; !slices.Equal(months, want) {
			t.Errorf("months = %q, want %q", months, want)
		}
		assertRows(t, db, "SELECT tag || ':' || experiment_id FROM experiment_tags ORDER BY tag", "onboarding:x1", "ux:x1")
		assertRows(t, db, "SELECT experiment_id || '>' || builds_on_id FROM experiment_edges", "x2>x1")
		assertRows(t, db, "SELECT skill FROM learning_skills WHERE learning_id = 'l1' ORDER BY skill", "pricing", "statistics")
		assertRows(t, db, "SELECT recorded_month FROM learnings", "2026-01")

		n, err = q.GetInnovation(ctx, admin, "i1")
		if err != nil {
			t.Fatal(err)
		}
		wantN := experiments.Innovation{ID: "i1", Team: "core", Title: "Smart pricing", Description: "about Smart pricing",
			LaunchedAt: day(2026, 3, 1), RecordedAt: day(2026, 2, 20),
			InformedBy: []experiments.Link{
				{ExperimentID: "x2", Note: "informed by x2", LinkedAt: day(2026, 2, 24)},
				{ExperimentID: "x1", Note: "back", LinkedAt: day(2026, 2, 25)},
			},
			Version: 6, Position: 14}
		if !reflect.DeepEqual(n, wantN) {
			t.Errorf("GetInnovation(i1) =\n%+v\nwant\n%+v", n, wantN)
		}

		h, err := q.History(ctx, admin, "x1")
		if err != nil {
			t.Fatal(err)
		}
		var positions []uint64
		for _, e := range h {
			positions = append(positions, e.Position)
		}
		if !slices.Equal(positions, []uint64{1, 3, 4, 5, 6, 7}) {
			t.Errorf("History(x1) positions = %v", positions)
		}
		if e := h[4]; e.Type != events.TypeOf(events.ExperimentConcluded) || e.EventID != "ev-000006" ||
			e.Actor != "actor@growth" || !e.Time.Equal(day(2026, 2, 1, 12)) || string(e.Data) != string(s.evs[5].Data) {
			t.Errorf("History(x1)[4] = %+v", e)
		}
		if h, err := q.History(ctx, admin, "i1"); err != nil || len(h) != 6 || h[0].Type != events.TypeOf(events.InnovationRecorded) {
			t.Errorf("History(i1) = %+v, %v; want 6 entries from innovation.recorded", h, err)
		}
		var hist []string
		if err := db.SelectContext(context.Background(), &hist, "SELECT aggregate || ' ' || aggregate_id || ' ' || team FROM history WHERE position IN (1, 9)"); err != nil {
			t.Fatal(err)
		}
		if want := []string{"experiment x1 growth", "innovation i1 core"}; !slices.Equal(hist, want) {
			t.Errorf("history rows = %q, want %q", hist, want)
		}
	})
}

func assertRows(t *testing.T, db *readstore.DB, query string, want ...string) {
	t.Helper()
	var got []string
	if err := db.SelectContext(context.Background(), &got, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", query, got, want)
	}
}

func TestSkips(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		at := day(2026, 4, 1)
		s := &stream{}
		s.register(t, "x1", "growth", "Valid", at) // 1
		s.addRaw(events.TypeOf(events.ExperimentStarted), "tracker.experiment.x1.started", "x1", "growth", at,
			json.RawMessage(`{"started_at": 42}`)) // 2: undecodable payload
		s.addRaw("failforward.experiment.exploded.v1", "tracker.experiment.x1.exploded", "x1", "growth", at,
			json.RawMessage(`{}`)) // 3: unknown type
		s.addRaw("failforward.experiment.started.v7", "tracker.experiment.x1.started", "x1", "growth", at,
			json.RawMessage(`{}`)) // 4: unknown version
		s.conclude(t, "x9", "growth", at, experiments.OutcomeFailed) // 5: unknown experiment
		s.register(t, "x1", "growth", "Duplicate", at)               // 6: duplicate
		s.learn(t, "x9", "growth", "l9", "lost", at)                 // 7: unknown experiment
		s.learn(t, "x1", "growth", "l1", "first", at)                // 8
		s.learn(t, "x1", "growth", "l1", "same id", at)              // 9: duplicate learning
		s.link(t, "i9", "x1", "core", at)                            // 10: unknown innovation
		s.innovate(t, "i1", "core", "Valid", at, at)                 // 11
		s.innovate(t, "i1", "core", "Duplicate", at, at)             // 12: duplicate
		s.link(t, "i1", "x9", "core", at)                            // 13: unknown experiment
		s.start(t, "x1", "growth", at)                               // 14
		s.learn(t, "x1", "growth", "", "no id", at)                  // 15: no learning id
		s.addRaw(events.TypeOf(events.ExperimentStarted), "tracker.experiment..started", "", "growth", at,
			json.RawMessage(`{}`)) // 16: no subject
		s.unlink(t, "i1", "x9", "core", at) // 17: unknown experiment

		wantReasons := map[uint64]string{
			2: "undecodable payload", 3: "unknown event type", 4: "undecodable payload", 5: "unknown experiment x9",
			6: "duplicate registration", 7: "unknown experiment x9", 9: "duplicate learning l1",
			10: "unknown innovation i9", 12: "duplicate recording", 13: "link to unknown experiment",
			15: "no learning_id", 16: "no subject", 17: "unlink from unknown experiment",
		}
		for name, sizes := range map[string][]int{"one batch": nil, "one by one": slices.Repeat([]int{1}, len(s.evs))} {
			t.Run(name, func(t *testing.T) {
				db := readstoretest.Open(t, d)
				skipped := mustApply(t, db, s.evs, sizes...)
				got := map[uint64]string{}
				for _, sk := range skipped {
					got[sk.Position] = sk.Reason
					if sk.EventID != s.evs[sk.Position-1].ID || sk.EventType != s.evs[sk.Position-1].Type {
						t.Errorf("skip %d names %s %s", sk.Position, sk.EventID, sk.EventType)
					}
				}
				if len(got) != len(wantReasons) {
					t.Errorf("skipped positions = %v, want %v", got, wantReasons)
				}
				for pos, want := range wantReasons {
					if !strings.Contains(got[pos], want) {
						t.Errorf("skip reason at %d = %q, want it to contain %q", pos, got[pos], want)
					}
				}
				listed, err := db.ListSkipped(ctx)
				if err != nil || len(listed) != len(wantReasons) {
					t.Errorf("ListSkipped = %d, %v; want %d", len(listed), err, len(wantReasons))
				}
			})
		}

		mustApply(t, db, s.evs)
		x1, err := q.GetExperiment(ctx, admin, "x1")
		if err != nil {
			t.Fatal(err)
		}
		if x1.Title != "Valid" || x1.Status != "running" || x1.Version != 3 || x1.Position != 14 || len(x1.Learnings) != 1 ||
			x1.Learnings[0].Text != "first" {
			t.Errorf("x1 after skips = %+v", x1)
		}
		n, err := q.GetInnovation(ctx, admin, "i1")
		if err != nil || n.Title != "Valid" || n.Version != 1 || len(n.InformedBy) != 0 {
			t.Errorf("i1 after skips = %+v, %v", n, err)
		}
		var historyRows int
		if err := db.GetContext(context.Background(), &historyRows, "SELECT count(*) FROM history"); err != nil || historyRows != 4 {
			t.Errorf("history rows = %d, %v; want 4 (skips leave no history)", historyRows, err)
		}
	})
}

func TestApplyBatchRejectsOutOfOrder(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		s := &stream{}
		s.register(t, "x1", "growth", "a", day(2026, 1, 1))
		s.register(t, "x2", "growth", "b", day(2026, 1, 1))
		evs := []events.Recorded{s.evs[1], s.evs[0]}
		p, err := readmodel.NewProjection(d)
		if err != nil {
			t.Fatal(err)
		}
		tx := readstoretest.Begin(t, db)
		defer tx.Rollback()
		if _, err := p.ApplyBatch(context.Background(), tx, evs); err == nil {
			t.Fatal("ApplyBatch of an out-of-order batch succeeded")
		}
	})
}

// TestApplyingEventsTwiceFails checks that events applied again, past
// the checkpoint that should have kept them out, fail the batch instead
// of changing the read model a second time.
func TestApplyingEventsTwiceFails(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		s := &stream{}
		s.register(t, "x1", "growth", "a", day(2026, 1, 1))
		s.start(t, "x1", "growth", day(2026, 1, 2))
		mustApply(t, db, s.evs)
		p, err := readmodel.NewProjection(d)
		if err != nil {
			t.Fatal(err)
		}
		tx := readstoretest.Begin(t, db)
		defer tx.Rollback()
		if _, err := p.ApplyBatch(ctx, tx, s.evs[1:]); err == nil {
			t.Fatal("ApplyBatch of events already applied succeeded")
		}
	})
}

// TestBatchBoundariesAreDeterministic replays one stream into fresh read
// stores with different batch boundaries and expects the same rows.
func TestBatchBoundariesAreDeterministic(t *testing.T) {
	const n = 4000 // enough for the history table to need two statements
	evs := generate(t, n, 1, true)
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs)
		want := dump(t, whole)
		if len(want["experiments"]) < 500 || len(want["projector_skipped"]) == 0 || len(want["innovation_links"]) == 0 {
			t.Fatalf("generated stream is too thin: %d experiments, %d skips, %d links",
				len(want["experiments"]), len(want["projector_skipped"]), len(want["innovation_links"]))
		}
		if len(want["figure_cells"]) == 0 || len(want["failure_feeds"]) == 0 || len(want["failure_figures"]) == 0 {
			t.Fatalf("generated stream fills too few figures: %d cells, %d feeds, %d fed failures",
				len(want["figure_cells"]), len(want["failure_feeds"]), len(want["failure_figures"]))
		}
		r := rand.New(rand.NewPCG(2, 3))
		random := make([]int, 0, n)
		for range n {
			random = append(random, r.IntN(300)+1)
		}
		// One by one through the first thousand events (every kind of
		// event, each in a batch of its own), then in random sizes: a
		// whole stream one by one costs minutes under -race and finds
		// nothing the two together do not.
		for name, sizes := range map[string][]int{
			"one by one": append(slices.Repeat([]int{1}, 1000), random...),
			"random":     random,
		} {
			t.Run(name, func(t *testing.T) {
				db := readstoretest.Open(t, d)
				mustApply(t, db, evs, sizes...)
				got := dump(t, db)
				for _, tb := range readModelTables {
					g, w := got[tb.name], want[tb.name]
					if len(g) != len(w) {
						t.Errorf("%s: %d rows, want %d", tb.name, len(g), len(w))
						continue
					}
					for i := range g {
						if g[i] != w[i] {
							t.Errorf("%s row %d:\n got %s\nwant %s", tb.name, i, g[i], w[i])
							break
						}
					}
				}
			})
		}
	})
}

// TestFiguresBuildFromRows stands for a read store migrated to the figure
// tables with data in it: halfway through a stream the figures are
// emptied and marked for backfill, and the next batch must build them
// from the rows, so that the store ends as one that had them all along.
func TestFiguresBuildFromRows(t *testing.T) {
	evs := generate(t, 3000, 4, true)
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs, 500)
		db := readstoretest.Open(t, d)
		mustApply(t, db, evs[:1700], 500)
		for _, stmt := range []string{
			"DELETE FROM figure_cells", "DELETE FROM failure_feeds", "DELETE FROM failure_figures",
			"DELETE FROM skill_cells", "DELETE FROM team_skill_first", "DELETE FROM story_figures",
			"DELETE FROM requires_cells",
			"INSERT INTO figure_backfill (id) VALUES (1)",
		} {
			if _, err := db.ExecContext(context.Background(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		mustApply(t, db, evs[1700:], 500)
		got, want := dump(t, db), dump(t, whole)
		sameTables(t, got, want, "a store that kept its figures all along")
	})
}

// TestRequiresCellsFillFromFigures stands for a read store migrated to
// requires_cells (0011) with figures in it: halfway through a stream the
// terms of the failures and stories that depend on the viewer's teams
// are taken out and marked for backfill, and the next batch must fill
// them from failure_figures, failure_feeds and story_figures, so that
// the store ends as one that had them all along.
func TestRequiresCellsFillFromFigures(t *testing.T) {
	evs := withStories(t, randomHistory(t, 3, 600), 3)
	half := len(evs) / 2
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		whole := readstoretest.Open(t, d)
		mustApply(t, whole, evs, 100)
		db := readstoretest.Open(t, d)
		mustApply(t, db, evs[:half], 100)
		var n int
		if err := db.GetContext(context.Background(), &n, "SELECT count(*) FROM requires_cells"); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("stream too thin: no figure depends on the viewer's teams halfway")
		}
		readmodel.UnfillRequiresCells(t, db)
		mustApply(t, db, evs[half:], 100)
		got, want := dump(t, db), dump(t, whole)
		sameTables(t, got, want, "a store that kept its figures all along")
	})
}

func TestTextThatPostgresRejectsIsStored(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		s := &stream{}
		s.register(t, "x1", "growth", "nul\x00byte", time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC))
		if skipped := mustApply(t, db, s.evs); len(skipped) != 0 {
			t.Fatalf("skipped = %+v", skipped)
		}
		x, err := readmodel.NewQueries(db).GetExperiment(context.Background(), admin, "x1")
		if err != nil {
			t.Fatal(err)
		}
		if x.Title != "nul\uFFFDbyte" {
			t.Errorf("title = %q", x.Title)
		}
		// Both stores keep whole microseconds.
		if want := time.Date(2026, 1, 1, 0, 0, 0, 123456000, time.UTC); !x.RegisteredAt.Equal(want) {
			t.Errorf("registered_at = %v, want %v", x.RegisteredAt, want)
		}
	})
}
