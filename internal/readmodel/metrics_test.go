package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

const (
	succeeded    = experiments.OutcomeSucceeded
	failed       = experiments.OutcomeFailed
	inconclusive = experiments.OutcomeInconclusive
)

// metricsHistory is a hand-built history whose figures are worked out in
// the comments of TestOutcomeMetrics.
func metricsHistory(t *testing.T) *stream {
	s := &stream{}
	// growth                   registered        started           concluded
	s.run(t, "g1", "growth", "g1", day(2026, 1, 5), day(2026, 1, 6), day(2026, 1, 16), succeeded) // cycle 10
	s.run(t, "g2", "growth", "g2", day(2026, 1, 7), day(2026, 1, 8), day(2026, 1, 28), failed)    // cycle 20
	s.run(t, "g3", "growth", "g3", day(2026, 1, 10), day(2026, 1, 12), day(2026, 2, 3), failed)   // cycle 22
	s.run(t, "g4", "growth", "g4", day(2026, 1, 15), day(2026, 1, 20), day(2026, 2, 10), inconclusive)
	s.register(t, "g5", "growth", "g5", day(2026, 2, 1))
	s.add(t, events.ExperimentAbandoned, "g5", "growth", day(2026, 2, 15), events.ExperimentAbandonedV1{Reason: "no", AbandonedAt: day(2026, 2, 15)})
	s.run(t, "g6", "growth", "g6", day(2026, 2, 2), day(2026, 2, 3), day(2026, 3, 5), failed, buildsOn("g3")) // cycle 30
	s.run(t, "g7", "growth", "g7", day(2026, 2, 20), day(2026, 2, 21), day(2026, 3, 10), inconclusive, buildsOn("g6"))
	s.add(t, events.ExperimentOutcomeRevised, "g7", "growth", day(2026, 3, 11), events.ExperimentOutcomeRevisedV1{
		Outcome: succeeded, PreviousOutcome: inconclusive, Reason: "late data"}) // cycle 17
	s.run(t, "g8", "growth", "g8", day(2026, 2, 25), day(2026, 2, 26), day(2026, 3, 20), failed) // cycle 22, feeds nothing
	s.learn(t, "g1", "growth", "L4", "l4", day(2026, 1, 17))
	s.learn(t, "g2", "growth", "L1", "l1", day(2026, 1, 29), "pricing", "sql")
	s.learn(t, "g3", "growth", "L2", "l2", day(2026, 2, 4), "pricing")
	s.learn(t, "g6", "growth", "L3", "l3", day(2026, 3, 6), "interviewing", "pricing")
	// I1 launches 10 days after g2 concluded. g3 feeds I3 directly (24 days
	// after it concluded) and I2 through g6 and g7 (45 days); the first
	// launch counts. g6 feeds I2 through g7, 15 days after it concluded.
	s.innovate(t, "I1", "growth", "I1", day(2026, 2, 1), day(2026, 2, 7))
	s.link(t, "I1", "g2", "growth", day(2026, 2, 1))
	s.innovate(t, "I2", "growth", "I2", day(2026, 3, 11), day(2026, 3, 20))
	s.link(t, "I2", "g7", "growth", day(2026, 3, 11))
	s.innovate(t, "I3", "growth", "I3", day(2026, 2, 20), day(2026, 2, 27))
	s.link(t, "I3", "g3", "growth", day(2026, 2, 20))

	// core
	s.run(t, "c1", "core", "c1", day(2026, 1, 3), day(2026, 1, 4), day(2026, 1, 31), failed) // cycle 27
	s.learn(t, "c1", "core", "C1", "c1", day(2026, 2, 1), "sql")
	s.run(t, "c2", "core", "c2", day(2026, 3, 1), day(2026, 3, 2), day(2026, 3, 12), succeeded) // cycle 10
	s.register(t, "c3", "core", "c3", day(2026, 5, 4))
	return s
}

func fmtPtr(f *float64) string {
	if f == nil {
		return "null"
	}
	return fmt.Sprintf("%.4f", *f)
}

// render puts every figure of m on one line, rates to four places.
func render(m readmodel.PeriodMetrics) string {
	var skills []string
	for _, s := range m.Skills {
		skills = append(skills, fmt.Sprintf("%s:%d", s.Skill, s.Count))
	}
	return fmt.Sprintf("reg=%d start=%d concl=%d succ=%d fail=%d inc=%d aband=%d rev=%d win=%s fail_rate=%s fed=%d yield=%s latency=%s cycle=%s velocity=%.4f learnings=%d skills=%s",
		m.Registered, m.Started, m.Concluded, m.Succeeded, m.Failed, m.Inconclusive, m.Abandoned, m.OutcomeRevisions,
		fmtPtr(m.WinRate), fmtPtr(m.FailureRate), m.FailuresFed, fmtPtr(m.FailureYield),
		fmtPtr(m.LearningLatencyDaysMedian), fmtPtr(m.CycleTimeDaysMedian), m.VelocityPerWeek, m.LearningsRecorded,
		strings.Join(skills, ","))
}

func checkReport(t *testing.T, rep readmodel.OutcomeReport, want [][3]string) {
	t.Helper()
	if len(rep.Periods) != len(want) {
		var got []string
		for _, m := range rep.Periods {
			got = append(got, m.Period+" "+m.Team)
		}
		t.Fatalf("report has %d rows %v, want %d", len(rep.Periods), got, len(want))
	}
	for i, w := range want {
		m := rep.Periods[i]
		if m.Period != w[0] || m.Team != w[1] {
			t.Errorf("row %d is %s %s, want %s %s", i, m.Period, m.Team, w[0], w[1])
			continue
		}
		if got := render(m); got != w[2] {
			t.Errorf("%s %s:\n got %s\nwant %s", w[0], w[1], got, w[2])
		}
	}
}

func TestOutcomeMetrics(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		q := readmodel.NewQueries(db)
		mustApply(t, db, metricsHistory(t).evs, 7, 3, 11)

		rep, err := q.Outcomes(ctx, admin, readmodel.OutcomeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bucket != "month" {
			t.Errorf("bucket = %q, want month", rep.Bucket)
		}
		// Velocity: concluded / (31/7) in January and March, / (28/7) in
		// February. Latency and cycle medians are in days.
		checkReport(t, rep, [][3]string{
			// Jan: g1 ok (10d), g2 failed (20d, fed I1 after 10d), c1 failed (27d, fed nothing).
			{"2026-01", "*", "reg=5 start=5 concl=3 succ=1 fail=2 inc=0 aband=0 rev=0 win=0.3333 fail_rate=0.6667 fed=1 yield=0.5000 latency=10.0000 cycle=20.0000 velocity=0.6774 learnings=2 skills=pricing:1,sql:1"},
			{"2026-01", "core", "reg=1 start=1 concl=1 succ=0 fail=1 inc=0 aband=0 rev=0 win=0.0000 fail_rate=1.0000 fed=0 yield=0.0000 latency=null cycle=27.0000 velocity=0.2258 learnings=0 skills="},
			{"2026-01", "growth", "reg=4 start=4 concl=2 succ=1 fail=1 inc=0 aband=0 rev=0 win=0.5000 fail_rate=0.5000 fed=1 yield=1.0000 latency=10.0000 cycle=15.0000 velocity=0.4516 learnings=2 skills=pricing:1,sql:1"},
			// Feb: g3 failed (22d, first fed I3 after 24d), g4 inconclusive (21d), g5 abandoned.
			{"2026-02", "*", "reg=4 start=3 concl=2 succ=0 fail=1 inc=1 aband=1 rev=0 win=0.0000 fail_rate=0.5000 fed=1 yield=1.0000 latency=24.0000 cycle=21.5000 velocity=0.5000 learnings=2 skills=pricing:1,sql:1"},
			{"2026-02", "core", "reg=0 start=0 concl=0 succ=0 fail=0 inc=0 aband=0 rev=0 win=null fail_rate=null fed=0 yield=null latency=null cycle=null velocity=0.0000 learnings=1 skills=sql:1"},
			{"2026-02", "growth", "reg=4 start=3 concl=2 succ=0 fail=1 inc=1 aband=1 rev=0 win=0.0000 fail_rate=0.5000 fed=1 yield=1.0000 latency=24.0000 cycle=21.5000 velocity=0.5000 learnings=1 skills=pricing:1"},
			// Mar: g6 failed (30d, fed I2 after 15d), g7 succeeded on revision (17d), g8 failed (22d), c2 ok (10d).
			{"2026-03", "*", "reg=1 start=1 concl=4 succ=2 fail=2 inc=0 aband=0 rev=1 win=0.5000 fail_rate=0.5000 fed=1 yield=0.5000 latency=15.0000 cycle=19.5000 velocity=0.9032 learnings=1 skills=interviewing:1,pricing:1"},
			{"2026-03", "core", "reg=1 start=1 concl=1 succ=1 fail=0 inc=0 aband=0 rev=0 win=1.0000 fail_rate=0.0000 fed=0 yield=null latency=null cycle=10.0000 velocity=0.2258 learnings=0 skills="},
			{"2026-03", "growth", "reg=0 start=0 concl=3 succ=1 fail=2 inc=0 aband=0 rev=1 win=0.3333 fail_rate=0.6667 fed=1 yield=0.5000 latency=15.0000 cycle=22.0000 velocity=0.6774 learnings=1 skills=interviewing:1,pricing:1"},
			// April has no activity: its total row is there, empty.
			{"2026-04", "*", "reg=0 start=0 concl=0 succ=0 fail=0 inc=0 aband=0 rev=0 win=null fail_rate=null fed=0 yield=null latency=null cycle=null velocity=0.0000 learnings=0 skills="},
			{"2026-05", "*", "reg=1 start=0 concl=0 succ=0 fail=0 inc=0 aband=0 rev=0 win=null fail_rate=null fed=0 yield=null latency=null cycle=null velocity=0.0000 learnings=0 skills="},
			{"2026-05", "core", "reg=1 start=0 concl=0 succ=0 fail=0 inc=0 aband=0 rev=0 win=null fail_rate=null fed=0 yield=null latency=null cycle=null velocity=0.0000 learnings=0 skills="},
		})

		rep, err = q.Outcomes(ctx, admin, readmodel.OutcomeFilter{Team: "growth", Bucket: readmodel.BucketQuarter})
		if err != nil {
			t.Fatal(err)
		}
		// Q1 2026 has 90 days. Cycles 10,17,20,21,22,22,30; latencies 10,15,24.
		q1 := "reg=8 start=7 concl=7 succ=2 fail=4 inc=1 aband=1 rev=1 win=0.2857 fail_rate=0.5714 fed=3 yield=0.7500 latency=15.0000 cycle=21.0000 velocity=0.5444 learnings=4 skills=pricing:3,interviewing:1,sql:1"
		checkReport(t, rep, [][3]string{{"2026-Q1", "*", q1}, {"2026-Q1", "growth", q1}})

		// A range counts each figure by its own date.
		rep, err = q.Outcomes(ctx, admin, readmodel.OutcomeFilter{Team: "growth", From: day(2026, 2, 1), To: day(2026, 3, 1)})
		if err != nil {
			t.Fatal(err)
		}
		feb := "reg=4 start=3 concl=2 succ=0 fail=1 inc=1 aband=1 rev=0 win=0.0000 fail_rate=0.5000 fed=1 yield=1.0000 latency=24.0000 cycle=21.5000 velocity=0.5000 learnings=1 skills=pricing:1"
		checkReport(t, rep, [][3]string{{"2026-02", "*", feb}, {"2026-02", "growth", feb}})

		// Empty reports and figures encode as [] and null.
		rep, err = q.Outcomes(ctx, admin, readmodel.OutcomeFilter{Team: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(rep); string(b) != `{"bucket":"month","periods":[]}` {
			t.Errorf("empty report = %s", b)
		}
		rep, _ = q.Outcomes(ctx, admin, readmodel.OutcomeFilter{From: day(2026, 4, 1)})
		b, _ := json.Marshal(rep.Periods[0])
		for _, want := range []string{`"win_rate":null`, `"failure_yield":null`, `"learning_latency_days_median":null`, `"skills":[]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("JSON %s lacks %s", b, want)
			}
		}

		for _, bad := range []readmodel.OutcomeFilter{
			{Bucket: "week"},
			{From: day(2026, 3, 1), To: day(2026, 2, 1)},
		} {
			if _, err := q.Outcomes(ctx, admin, bad); !errors.Is(err, readmodel.ErrBadFilter) {
				t.Errorf("Outcomes(%+v) = %v, want ErrBadFilter", bad, err)
			}
		}
	})
}
