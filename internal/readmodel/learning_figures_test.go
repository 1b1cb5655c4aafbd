package readmodel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// learningHistory is a hand-built April of team growth whose learning
// figures TestLearningFigures works out. Its last event, the late
// learning L2 of f2, is kept apart, so the test can apply it on its own.
func learningHistory(t *testing.T) (*stream, []events.Recorded) {
	s := &stream{}
	at := func(d int) time.Time { return day(2026, 4, d) }
	// c1 is growth's own: a failure whose learning first names Research.
	s.run(t, "c1", "growth", "c1", at(1), at(1), at(3), failed, teamOnly)
	s.learn(t, "c1", "growth", "L0", "l0", at(4), "Research")
	// r1 runs still; its learning first names sql.
	s.register(t, "r1", "growth", "r1", at(1))
	s.start(t, "r1", "growth", at(2))
	s.learn(t, "r1", "growth", "L5", "l5", at(5), "sql")
	// Three failures: f1 learned at once, f2 learns in May, f3 never.
	s.run(t, "f1", "growth", "f1", at(1), at(2), at(10), failed)
	s.learn(t, "f1", "growth", "L1", "l1", at(11), "UX")
	s.run(t, "f2", "growth", "f2", at(1), at(2), at(12), failed)
	s.run(t, "f3", "growth", "f3", at(1), at(2), at(14), failed)
	// A success names ux again, written otherwise, and Research.
	s.run(t, "s1", "growth", "s1", at(1), at(2), at(15), succeeded)
	s.learn(t, "s1", "growth", "L3", "l3", at(16), " ux", "Research", "UX")
	// Two abandoned, one with a learning: abandoning is deciding to stop.
	s.register(t, "a1", "growth", "a1", at(3))
	s.add(t, events.ExperimentAbandoned, "a1", "growth", at(20), events.ExperimentAbandonedV1{Reason: "no", AbandonedAt: at(20)})
	s.learn(t, "a1", "growth", "L4", "l4", at(21), "research")
	s.register(t, "a2", "growth", "a2", at(3))
	s.add(t, events.ExperimentAbandoned, "a2", "growth", at(22), events.ExperimentAbandonedV1{Reason: "no", AbandonedAt: at(22)})
	late := &stream{evs: s.evs}
	late.learn(t, "f2", "growth", "L2", "l2", day(2026, 5, 2), "sql")
	return s, late.evs[len(s.evs):]
}

// learningFigures renders the learning figures of growth's April.
func learningFigures(t *testing.T, q *readmodel.Queries, v readmodel.Viewer) string {
	t.Helper()
	rep, err := q.Outcomes(context.Background(), v, readmodel.OutcomeFilter{Team: "growth"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Periods {
		if m.Period == "2026-04" && m.Team == "growth" {
			return fmt.Sprintf("ended=%d learned=%d rate=%s failed=%d open=%d openness=%s",
				m.Concluded+m.Abandoned, m.LearnedAndDecided, fmtPtr(m.LearningRate),
				m.Failed, m.FailuresWithLearnings, fmtPtr(m.OpennessLearnings))
		}
	}
	return "no April row"
}

// skillLines renders growth's skills per month: skill as shown, key,
// learnings from failures, successes and others, and a * when the
// skill first appeared after a failure.
func skillLines(t *testing.T, q *readmodel.Queries, v readmodel.Viewer, f readmodel.OutcomeFilter) []string {
	t.Helper()
	rep, err := q.Skills(context.Background(), v, f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range rep.Periods {
		if p.Team != "growth" {
			continue
		}
		var skills []string
		for _, s := range p.Skills {
			mark := ""
			if s.FirstAfterFailure {
				mark = "*"
			}
			skills = append(skills, fmt.Sprintf("%s(%s) %d/%d/%d%s", s.Skill, s.Key, s.FromFailures, s.FromSuccesses, s.FromOthers, mark))
		}
		out = append(out, p.Period+": "+strings.Join(skills, ", "))
	}
	return out
}

func TestLearningFigures(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		s, late := learningHistory(t)
		mustApply(t, db, s.evs, 4, 1, 9)
		outsider := readmodel.Viewer{Teams: []string{"core"}}
		check := func(what string, v readmodel.Viewer, want string) {
			t.Helper()
			if got := learningFigures(t, q, v); got != want {
				t.Errorf("%s:\n got %s\nwant %s", what, got, want)
			}
		}
		checkSkills := func(what string, v readmodel.Viewer, f readmodel.OutcomeFilter, want ...string) {
			t.Helper()
			if got := skillLines(t, q, v, f); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s:\n got %q\nwant %q", what, got, want)
			}
		}
		// Ended: c1 f1 f2 f3 s1 concluded, a1 a2 abandoned; with a
		// learning and a decision: c1 f1 s1 a1. Failures c1 f1 f2 f3, with
		// a learning c1 f1. The outsider does not see c1.
		check("admin before f2 learns", admin, "ended=7 learned=4 rate=0.5714 failed=4 open=2 openness=0.5000")
		check("outsider before f2 learns", outsider, "ended=6 learned=3 rate=0.5000 failed=3 open=1 openness=0.3333")

		// f2's first learning, a month after it concluded, moves it.
		mustApply(t, db, late)
		check("admin", admin, "ended=7 learned=5 rate=0.7143 failed=4 open=3 openness=0.7500")
		check("outsider", outsider, "ended=6 learned=4 rate=0.6667 failed=3 open=2 openness=0.6667")

		// UX and " ux" are one skill, first named after f1 failed; the
		// admin's Research first came from c1, a failure, the outsider's
		// from s1, a success; sql first came from r1, still running.
		checkSkills("admin's skills", admin, readmodel.OutcomeFilter{},
			"2026-04: Research(research) 1/1/1*, UX(ux) 1/1/0*, sql(sql) 0/0/1",
			"2026-05: sql(sql) 1/0/0")
		checkSkills("outsider's skills", outsider, readmodel.OutcomeFilter{},
			"2026-04: Research(research) 0/1/1, UX(ux) 1/1/0*, sql(sql) 0/0/1",
			"2026-05: sql(sql) 1/0/0")
		// A range inside April counts its own learnings; the firsts stay.
		checkSkills("admin's skills from 12 April", admin, readmodel.OutcomeFilter{From: day(2026, 4, 12), To: day(2026, 5, 1)},
			"2026-04: Research(research) 0/1/1*, UX(ux) 0/1/0*")

		// f1 turns out a success: ux now comes from successes only, and
		// first appeared after one; openness loses f1.
		s.evs = append(s.evs, late...)
		s.add(t, events.ExperimentOutcomeRevised, "f1", "growth", day(2026, 5, 3), events.ExperimentOutcomeRevisedV1{
			Outcome: succeeded, PreviousOutcome: failed, Reason: "late data"})
		mustApply(t, db, s.evs[len(s.evs)-1:])
		check("admin after f1's revision", admin, "ended=7 learned=5 rate=0.7143 failed=3 open=2 openness=0.6667")
		checkSkills("admin's skills after f1's revision", admin, readmodel.OutcomeFilter{},
			"2026-04: Research(research) 1/1/1*, UX(ux) 0/2/0, sql(sql) 0/0/1",
			"2026-05: sql(sql) 1/0/0")
	})
}
