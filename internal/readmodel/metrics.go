package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// BucketMonth and BucketQuarter are the periods the outcome dashboard can
// bucket by, in UTC.
const (
	BucketMonth   = "month"
	BucketQuarter = "quarter"
)

// AllTeams is the Team of the row that totals a period over every team
// the viewer may see (or over the one team a filter names). It is not a
// valid team name, so it cannot be mistaken for one.
const AllTeams = "*"

// OutcomeFilter narrows Outcomes.
type OutcomeFilter struct {
	// Team keeps one team; empty keeps every team the viewer may see.
	Team string
	// From and To bound each count by its own date (registered_at for
	// registrations, concluded_at for conclusions, and so on); To is
	// exclusive, and a zero bound is open. A bound inside a period
	// narrows the counts, not the period's length in velocity.
	From, To time.Time
	// Bucket is BucketMonth (the default) or BucketQuarter.
	Bucket string
}

// OutcomeReport is the outcome dashboard: one row per team and period
// with activity, and one AllTeams row for every period from the first
// with activity to the last, so that a chart of the totals has no gaps.
type OutcomeReport struct {
	Bucket string `json:"bucket"`
	// Periods are sorted by period, then team; AllTeams sorts first.
	Periods []PeriodMetrics `json:"periods"`
}

// PeriodMetrics are the figures of one team, or AllTeams, in one period.
// Each count falls in the period of its own date. Rates and medians are
// null when there is nothing to divide by or take the median of.
type PeriodMetrics struct {
	// Period is "2026-03" for a month, "2026-Q1" for a quarter (UTC).
	Period       string `json:"period"`
	Team         string `json:"team"`
	Registered   int    `json:"registered"`
	Started      int    `json:"started"`
	Concluded    int    `json:"concluded"`
	Succeeded    int    `json:"succeeded"`
	Failed       int    `json:"failed"`
	Inconclusive int    `json:"inconclusive"`
	Abandoned    int    `json:"abandoned"`
	// OutcomeRevisions counts the revisions of the outcomes of the
	// experiments concluded in the period; the outcomes counted above are
	// the revised ones.
	OutcomeRevisions int `json:"outcome_revisions"`
	// WinRate is Succeeded / Concluded; FailureRate is Failed / Concluded.
	WinRate     *float64 `json:"win_rate"`
	FailureRate *float64 `json:"failure_rate"`
	// FailuresFed counts the failures concluded in the period that fed at
	// least one innovation, directly or through experiments built on
	// them; FailureYield is FailuresFed / Failed.
	FailuresFed  int      `json:"failures_fed"`
	FailureYield *float64 `json:"failure_yield"`
	// LearningLatencyDaysMedian is the median, over the failures
	// concluded in the period that fed an innovation, of the days from
	// conclusion to the launch of the first innovation each fed. It is
	// negative when an innovation launched before the failure concluded.
	LearningLatencyDaysMedian *float64 `json:"learning_latency_days_median"`
	// CycleTimeDaysMedian is the median days from start to conclusion of
	// the experiments concluded in the period.
	CycleTimeDaysMedian *float64 `json:"cycle_time_days_median"`
	// VelocityPerWeek is Concluded per week of the period's calendar
	// length (a 31-day month is 31/7 weeks).
	VelocityPerWeek float64 `json:"velocity_per_week"`
	// LearnedAndDecided counts the experiments that ended in the period,
	// concluded (in the period of concluded_at) or abandoned (of
	// abandoned_at), with at least one learning, recorded before or after
	// the end, and a decision. An abandoned experiment has no decision
	// field: its abandonment counts as its decision, to stop.
	// LearningRate is LearnedAndDecided / (Concluded + Abandoned).
	LearnedAndDecided int      `json:"learned_and_decided"`
	LearningRate      *float64 `json:"learning_rate"`
	// FailuresWithLearnings counts the failures concluded in the period
	// with at least one learning, whenever recorded; OpennessLearnings,
	// the share of failures that were learned from, is
	// FailuresWithLearnings / Failed.
	FailuresWithLearnings int      `json:"failures_with_learnings"`
	OpennessLearnings     *float64 `json:"openness_learnings"`
	// FailuresWithStories counts the failures concluded in the period
	// that at least one story the viewer may see (not retracted) is
	// about, whenever told; OpennessStories is FailuresWithStories /
	// Failed.
	FailuresWithStories int      `json:"failures_with_stories"`
	OpennessStories     *float64 `json:"openness_stories"`
	// StoriesByLeads counts the stories, not retracted, published in the
	// period by authors who were leads when they told them.
	StoriesByLeads    int `json:"stories_by_leads"`
	LearningsRecorded int `json:"learnings_recorded"`
	// Skills are the skills named in the learnings recorded in the period,
	// with how many learnings named each, most named first.
	Skills []SkillCount `json:"skills"`
}

// SkillCount is a skill and how many learnings named it.
type SkillCount struct {
	Skill string `json:"skill"`
	Count int    `json:"count"`
}

// cell accumulates one (period, team) row before rates are derived. The
// medians' values are whole days, kept as histograms (days → count).
type cell struct {
	m         PeriodMetrics
	cycleDays dayHist
	latency   dayHist
	skills    periodSkills
}

// periodSkills counts learnings per skill: a list, which a period's few
// skills are quickest to find in, indexed once it grows long.
type periodSkills struct {
	list  []SkillCount
	index map[string]int
}

func (s *periodSkills) add(skill string, n int) {
	if s.index == nil {
		for i := range s.list {
			if s.list[i].Skill == skill {
				s.list[i].Count += n
				return
			}
		}
		if len(s.list) >= 16 {
			s.index = make(map[string]int, 2*len(s.list))
			for i, c := range s.list {
				s.index[c.Skill] = i
			}
		}
	}
	if i, ok := s.index[skill]; ok {
		s.list[i].Count += n
		return
	}
	if s.index != nil {
		s.index[skill] = len(s.list)
	}
	if s.list == nil {
		s.list = make([]SkillCount, 0, 8)
	}
	s.list = append(s.list, SkillCount{Skill: skill, Count: n})
}

func newCell(period, team string) *cell {
	return &cell{m: PeriodMetrics{Period: period, Team: team}}
}

// tally adds every figure to its team's row, bucketing months into the
// report's periods; report adds the teams' rows of each period up into
// its AllTeams row.
type tally struct {
	bucket string
	cells  map[[2]string]*cell
	// periods caches the period of each month seen, "" for one that
	// does not parse.
	periods map[string]string
	// last is the cell at returned last, which the next row is most
	// often of: cells are read in order of month and team.
	last struct {
		period, team string
		cells        [1]*cell
	}
}

// at returns the cells a figure of team in month counts in: its team's
// row of the month's period, or none for a month that does not parse.
func (t *tally) at(month, team string) []*cell {
	period, ok := t.periods[month]
	if !ok {
		// Months come from the projection and always parse; a row that
		// does not is left out rather than let it stretch the report's
		// span.
		if _, err := time.Parse("2006-01", month); err == nil {
			period = month
			if t.bucket == BucketQuarter {
				period = quarterOf(month)
			}
		}
		if t.periods == nil {
			t.periods = map[string]string{}
		}
		t.periods[month] = period
	}
	if period == "" {
		return nil
	}
	if t.last.cells[0] == nil || t.last.period != period || t.last.team != team {
		k := [2]string{period, team}
		c, ok := t.cells[k]
		if !ok {
			c = newCell(period, team)
			t.cells[k] = c
		}
		t.last.period, t.last.team, t.last.cells[0] = period, team, c
	}
	return t.last.cells[:]
}

// addTeams adds every team's row up into its period's AllTeams row.
func (t *tally) addTeams() {
	for k, c := range t.cells {
		if k[1] == AllTeams {
			continue
		}
		all, ok := t.cells[[2]string{k[0], AllTeams}]
		if !ok {
			all = newCell(k[0], AllTeams)
			t.cells[[2]string{k[0], AllTeams}] = all
		}
		all.addCell(c)
	}
}

// addCell adds the counts, histograms and skills of o to c.
func (c *cell) addCell(o *cell) {
	m, n := &c.m, &o.m
	for _, f := range [...][2]*int{
		{&m.Registered, &n.Registered}, {&m.Started, &n.Started}, {&m.Concluded, &n.Concluded},
		{&m.Succeeded, &n.Succeeded}, {&m.Failed, &n.Failed}, {&m.Inconclusive, &n.Inconclusive},
		{&m.Abandoned, &n.Abandoned}, {&m.OutcomeRevisions, &n.OutcomeRevisions}, {&m.FailuresFed, &n.FailuresFed},
		{&m.LearnedAndDecided, &n.LearnedAndDecided}, {&m.FailuresWithLearnings, &n.FailuresWithLearnings},
		{&m.FailuresWithStories, &n.FailuresWithStories}, {&m.StoriesByLeads, &n.StoriesByLeads},
		{&m.LearningsRecorded, &n.LearningsRecorded},
	} {
		*f[0] += *f[1]
	}
	c.cycleDays.addRun(o.cycleDays.pairs)
	c.latency.addRun(o.latency.pairs)
	for _, s := range o.skills.list {
		c.skills.add(s.Skill, s.Count)
	}
}

// Outcomes computes the outcome dashboard over the experiments v may see.
// Whole months come from the cells the projection maintains
// (figure_cells), with the parts of them for the viewer's teams
// (requires_cells); the part of a month that a range's bound cuts is
// counted from that part's rows.
func (q *Queries) Outcomes(ctx context.Context, v Viewer, f OutcomeFilter) (OutcomeReport, error) {
	bucket, err := checkOutcomeFilter(f)
	if err != nil {
		return OutcomeReport{}, err
	}
	t := &tally{bucket: bucket, cells: map[[2]string]*cell{}}
	months, edges := splitRange(f)
	if !months.empty() {
		if err := q.tallyCells(ctx, v, f.Team, months, t); err != nil {
			return OutcomeReport{}, fmt.Errorf("outcome metrics: %w", err)
		}
	}
	steps := []func(context.Context, Viewer, OutcomeFilter, *tally) error{
		q.tallyCounts, q.tallyConcluded, q.tallyCycleTimes, q.tallyEdgeFailures, q.tallyLearnings, q.tallyLearnedEnds,
		q.tallyStoryEdges,
	}
	for _, edge := range edges {
		for _, step := range steps {
			if err := step(ctx, v, edge, t); err != nil {
				return OutcomeReport{}, fmt.Errorf("outcome metrics: %w", err)
			}
		}
	}
	return OutcomeReport{Bucket: bucket, Periods: t.report()}, nil
}

// checkOutcomeFilter returns f's bucket, BucketMonth by default, or an
// ErrBadFilter error that says what is wrong with f.
func checkOutcomeFilter(f OutcomeFilter) (string, error) {
	bucket := cmp.Or(f.Bucket, BucketMonth)
	if bucket != BucketMonth && bucket != BucketQuarter {
		return "", fmt.Errorf("%w: bucket %q is not month or quarter", ErrBadFilter, f.Bucket)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return "", fmt.Errorf("%w: from %s is not before to %s", ErrBadFilter,
			f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	return bucket, nil
}

// where returns the conditions that keep the rows of table alias whose
// date column falls in f's range, of the experiments (e) v may see.
func where(v Viewer, f OutcomeFilter, alias, dateCol string) (string, []any) {
	vis, args := v.visible("e")
	conds := []string{vis, alias + "." + dateCol + " IS NOT NULL"}
	if f.Team != "" {
		conds = append(conds, alias+".team = ?")
		args = append(args, f.Team)
	}
	if !f.From.IsZero() {
		conds = append(conds, alias+"."+dateCol+" >= ?")
		args = append(args, dbTime(f.From))
	}
	if !f.To.IsZero() {
		conds = append(conds, alias+"."+dateCol+" < ?")
		args = append(args, dbTime(f.To))
	}
	return strings.Join(conds, " AND "), args
}

type countRow struct {
	Team  string `db:"team"`
	Month string `db:"month"`
	N     int    `db:"n"`
}

func (q *Queries) tallyCounts(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	for _, c := range []struct {
		date  string
		count func(*PeriodMetrics) *int
	}{
		{"registered", func(m *PeriodMetrics) *int { return &m.Registered }},
		{"started", func(m *PeriodMetrics) *int { return &m.Started }},
		{"abandoned", func(m *PeriodMetrics) *int { return &m.Abandoned }},
	} {
		cond, args := where(v, f, "e", c.date+"_at")
		var rows []countRow
		query := "SELECT e.team, e." + c.date + "_month AS month, COUNT(*) AS n FROM experiments e WHERE " + cond +
			" GROUP BY e.team, e." + c.date + "_month"
		if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
			return fmt.Errorf("count %s: %w", c.date, err)
		}
		for _, r := range rows {
			for _, cl := range t.at(r.Month, r.Team) {
				*c.count(&cl.m) += r.N
			}
		}
	}
	return nil
}

func (q *Queries) tallyConcluded(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	cond, args := where(v, f, "e", "concluded_at")
	var rows []struct {
		countRow
		Outcome   string `db:"outcome"`
		Revisions int    `db:"revisions"`
	}
	query := "SELECT e.team, e.concluded_month AS month, e.outcome, COUNT(*) AS n, SUM(e.outcome_revisions) AS revisions" +
		" FROM experiments e WHERE " + cond + " GROUP BY e.team, e.concluded_month, e.outcome"
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("count conclusions: %w", err)
	}
	for _, r := range rows {
		for _, cl := range t.at(r.Month, r.Team) {
			cl.m.Concluded += r.N
			cl.m.OutcomeRevisions += r.Revisions
			switch r.Outcome {
			case experiments.OutcomeSucceeded:
				cl.m.Succeeded += r.N
			case experiments.OutcomeFailed:
				cl.m.Failed += r.N
			case experiments.OutcomeInconclusive:
				cl.m.Inconclusive += r.N
			}
		}
	}
	return nil
}

func (q *Queries) tallyCycleTimes(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	cond, args := where(v, f, "e", "concluded_at")
	var rows []struct {
		Team        string    `db:"team"`
		Month       string    `db:"month"`
		StartedAt   time.Time `db:"started_at"`
		ConcludedAt time.Time `db:"concluded_at"`
	}
	query := "SELECT e.team, e.concluded_month AS month, e.started_at, e.concluded_at FROM experiments e WHERE " + cond +
		" AND e.started_at IS NOT NULL"
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("load cycle times: %w", err)
	}
	for _, r := range rows {
		d := wholeDays(r.StartedAt, r.ConcludedAt)
		for _, cl := range t.at(r.Month, r.Team) {
			cl.cycleDays.add(d, 1)
		}
	}
	return nil
}

func (q *Queries) tallyLearnings(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	cond, args := where(v, f, "l", "recorded_at")
	var rows []countRow
	query := "SELECT l.team, l.recorded_month AS month, COUNT(*) AS n FROM learnings l" +
		" JOIN experiments e ON e.id = l.experiment_id WHERE " + cond + " GROUP BY l.team, l.recorded_month"
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("count learnings: %w", err)
	}
	for _, r := range rows {
		for _, cl := range t.at(r.Month, r.Team) {
			cl.m.LearningsRecorded += r.N
		}
	}
	var skills []struct {
		countRow
		Skill string `db:"skill"`
	}
	query = "SELECT l.team, l.recorded_month AS month, s.skill, COUNT(*) AS n FROM learnings l" +
		" JOIN learning_skills s ON s.learning_id = l.id JOIN experiments e ON e.id = l.experiment_id WHERE " + cond +
		" GROUP BY l.team, l.recorded_month, s.skill"
	if err := q.db.SelectContext(ctx, &skills, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("count skills: %w", err)
	}
	for _, r := range skills {
		for _, cl := range t.at(r.Month, r.Team) {
			cl.skills.add(r.Skill, r.N)
		}
	}
	return nil
}

// report derives the rates and medians of every cell and fills the
// AllTeams row of every period between the first and the last.
func (t *tally) report() []PeriodMetrics {
	t.addTeams()
	var periods []string
	for k := range t.cells {
		if k[1] == AllTeams {
			periods = append(periods, k[0])
		}
	}
	if len(periods) > 0 {
		slices.Sort(periods)
		for _, p := range t.span(periods[0], periods[len(periods)-1]) {
			if _, ok := t.cells[[2]string{p, AllTeams}]; !ok {
				t.cells[[2]string{p, AllTeams}] = newCell(p, AllTeams)
			}
		}
	}
	out := make([]PeriodMetrics, 0, len(t.cells))
	for _, k := range slices.SortedFunc(maps.Keys(t.cells), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		c := t.cells[k]
		m := c.m
		m.WinRate = ratio(m.Succeeded, m.Concluded)
		m.FailureRate = ratio(m.Failed, m.Concluded)
		m.FailureYield = ratio(m.FailuresFed, m.Failed)
		m.LearningRate = ratio(m.LearnedAndDecided, m.Concluded+m.Abandoned)
		m.OpennessLearnings = ratio(m.FailuresWithLearnings, m.Failed)
		m.OpennessStories = ratio(m.FailuresWithStories, m.Failed)
		m.LearningLatencyDaysMedian = c.latency.median()
		m.CycleTimeDaysMedian = c.cycleDays.median()
		m.VelocityPerWeek = float64(m.Concluded) / (float64(t.daysIn(m.Period)) / 7)
		m.Skills = append(make([]SkillCount, 0, len(c.skills.list)), c.skills.list...)
		slices.SortFunc(m.Skills, func(a, b SkillCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Skill, b.Skill))
		})
		out = append(out, m)
	}
	return out
}

// span lists every period from first to last, inclusive.
func (t *tally) span(first, last string) []string {
	var out []string
	for p := first; p <= last; p = t.next(p) {
		out = append(out, p)
	}
	return out
}

func (t *tally) next(period string) string {
	start := periodStart(period)
	if t.bucket == BucketQuarter {
		return quarterOf(monthOf(start.AddDate(0, 3, 0)))
	}
	return monthOf(start.AddDate(0, 1, 0))
}

// daysIn is the calendar length of period.
func (t *tally) daysIn(period string) int {
	start := periodStart(period)
	months := 1
	if t.bucket == BucketQuarter {
		months = 3
	}
	return int(start.AddDate(0, months, 0).Sub(start).Hours() / 24)
}

// periodStart parses "2026-03" or "2026-Q1" into the first day of the
// period. Periods come from months the projection wrote, so a label that
// does not parse is a bug in this file; it yields the zero time.
func periodStart(period string) time.Time {
	if y, qs, ok := strings.Cut(period, "-Q"); ok {
		year, _ := strconv.Atoi(y)
		quarter, _ := strconv.Atoi(qs)
		return time.Date(year, time.Month(3*(quarter-1)+1), 1, 0, 0, 0, 0, time.UTC)
	}
	t, _ := time.Parse("2006-01", period)
	return t
}

// quarterOf turns "2026-05" into "2026-Q2".
func quarterOf(month string) string {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return month
	}
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}
