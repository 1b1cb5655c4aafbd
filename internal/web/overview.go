package web

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/failforward/failforward/internal/readmodel"
)

// overviewFilter is the overview's team and period, from the query.
type overviewFilter struct {
	Team   string
	Bucket string
	Period string
}

// query returns the filter as a query string for links and exports.
func (f overviewFilter) query() string {
	v := url.Values{}
	if f.Team != "" {
		v.Set("team", f.Team)
	}
	v.Set("bucket", f.Bucket)
	if f.Period != "" {
		v.Set("period", f.Period)
	}
	return v.Encode()
}

// figure is one headline number with its trend against the previous
// period, in words as well as in an arrow, so that colour is never the
// only carrier of meaning.
type figure struct {
	ID, Name, Value, Help string
	// Direction is "up", "down", "same" or "" when there is nothing to
	// compare with.
	Direction string
	// Mood is "good", "bad" or "" for how the change reads.
	Mood  string
	Trend string
}

// count is one plain count of the period.
type count struct {
	ID, Name string
	N        int
}

type overviewData struct {
	Filter       overviewFilter
	PeriodName   string
	PreviousName string
	Teams        []string
	Periods      []option
	Buckets      []option
	Figures      []figure
	Counts       []count
	Skills       []readmodel.SkillCount
	Chart        chart
	// Months are the chart's rows, for the table beside it.
	Months      []readmodel.PeriodMetrics
	FiguresCSV  string
	ExportQuery string
	Empty       bool
}

// chartMonths is how many months the outcomes chart shows, ending with
// the selected period.
const chartMonths = 12

func (h *Handler) handleOverview(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	data, err := h.overview(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Live: true, Position: pos, Data: data})
}

// overview reads the teams and the first month with activity, which the
// filter offers, and the month report of the chart's months, which draws
// the chart and, for a month, gives the figures: what the page shows,
// whatever the length of history. A quarter's medians cannot be put
// together from its months, so a quarter asks once more, for two
// quarters only.
func (h *Handler) overview(r *http.Request) (overviewData, error) {
	now := h.now().UTC()
	f, start := overviewFilterOf(r.URL.Query(), now)
	v := h.viewer(r)
	activity, err := h.queries.Activity(r.Context(), v)
	if err != nil {
		return overviewData{}, err
	}
	end := periodEnd(start, f.Bucket).AddDate(0, -1, 0) // the last month of the period
	months, err := h.queries.Outcomes(r.Context(), v, readmodel.OutcomeFilter{
		Bucket: readmodel.BucketMonth, From: end.AddDate(0, -(chartMonths - 1), 0), To: periodEnd(start, f.Bucket),
	})
	if err != nil {
		return overviewData{}, err
	}
	d := overviewData{
		Filter: f, PeriodName: periodName(f.Period, f.Bucket),
		Buckets: []option{{readmodel.BucketMonth, "Month"}, {readmodel.BucketQuarter, "Quarter"}},
		Empty:   activity.First.IsZero(),
	}
	byMonth := indexPeriods(months.Periods, cmp.Or(f.Team, readmodel.AllTeams))
	var first time.Time
	d.Teams, first = teamsAndFirst(activity, f.Team, start)
	d.Periods = periodOptions(first, start, now, f.Bucket)

	prev := prevPeriod(start, f.Bucket)
	d.PreviousName = periodName(periodOf(prev, f.Bucket), f.Bucket)
	byPeriod := byMonth
	if f.Bucket == readmodel.BucketQuarter {
		quarters, err := h.queries.Outcomes(r.Context(), v, readmodel.OutcomeFilter{
			Bucket: readmodel.BucketQuarter, From: prev, To: periodEnd(start, f.Bucket),
		})
		if err != nil {
			return overviewData{}, err
		}
		byPeriod = indexPeriods(quarters.Periods, byMonth.team)
	}
	cur, before := byPeriod.pick(f.Period), byPeriod.pick(periodOf(prev, f.Bucket))
	d.Figures = figures(cur, before, d.PreviousName)
	d.Counts = counts(cur)
	d.Skills = cur.Skills[:min(len(cur.Skills), 10)]

	for i := chartMonths - 1; i >= 0; i-- {
		d.Months = append(d.Months, byMonth.pick(periodOf(end.AddDate(0, -i, 0), readmodel.BucketMonth)))
	}
	team := "all teams"
	if f.Team != "" {
		team = "team " + f.Team
	}
	d.Chart = outcomeChart(d.Months, fmt.Sprintf("Outcomes per month, %s", team))
	d.ExportQuery = f.query()
	return d, nil
}

// overviewFilterOf reads the overview's filter from the query, with the
// start of its period: the current one when none or no valid one is
// named.
func overviewFilterOf(q url.Values, now time.Time) (overviewFilter, time.Time) {
	f := overviewFilter{Team: q.Get("team"), Bucket: q.Get("bucket"), Period: q.Get("period")}
	if f.Bucket != readmodel.BucketQuarter {
		f.Bucket = readmodel.BucketMonth
	}
	start, ok := periodStart(f.Period, f.Bucket)
	if !ok {
		start, _ = periodStart(periodOf(now, f.Bucket), f.Bucket)
		f.Period = periodOf(start, f.Bucket)
	}
	return f, start
}

// periodIndex finds the row of one team in a report by period.
type periodIndex struct {
	team string
	rows map[[2]string]readmodel.PeriodMetrics
}

func indexPeriods(periods []readmodel.PeriodMetrics, team string) periodIndex {
	ix := periodIndex{team: team, rows: map[[2]string]readmodel.PeriodMetrics{}}
	for _, m := range periods {
		ix.rows[[2]string{m.Period, m.Team}] = m
	}
	return ix
}

// pick returns the team's row of period, or an empty one: a period
// without activity has no row.
func (ix periodIndex) pick(period string) readmodel.PeriodMetrics {
	if m, ok := ix.rows[[2]string{period, ix.team}]; ok {
		return m
	}
	return readmodel.PeriodMetrics{Period: period, Team: ix.team}
}

// teamsAndFirst returns the teams with activity, and the selected one,
// sorted; and the first month with activity, or start if that is
// earlier.
func teamsAndFirst(a readmodel.Activity, selected string, start time.Time) ([]string, time.Time) {
	teams := slices.Clone(a.Teams)
	if selected != "" && !slices.Contains(teams, selected) {
		teams = append(teams, selected)
		slices.Sort(teams)
	}
	first := start
	if !a.First.IsZero() && a.First.Before(first) {
		first = a.First
	}
	return teams, first
}

// periodOptions are the periods the filter offers: from the one holding
// first to the current one, or to start when it is later.
func periodOptions(first, start, now time.Time, bucket string) []option {
	last, _ := periodStart(periodOf(now, bucket), bucket)
	if start.After(last) {
		last = start
	}
	firstPeriod, _ := periodStart(periodOf(first, bucket), bucket)
	var out []option
	for _, p := range periodRange(firstPeriod, last, bucket, 120) {
		out = append(out, option{Value: p, Label: periodName(p, bucket)})
	}
	return out
}

// counts are the plain counts of a period.
func counts(cur readmodel.PeriodMetrics) []count {
	return []count{
		{"registered", "Registered", cur.Registered}, {"started", "Started", cur.Started},
		{"concluded", "Concluded", cur.Concluded}, {"succeeded", "Succeeded", cur.Succeeded},
		{"failed", "Failed", cur.Failed}, {"inconclusive", "Inconclusive", cur.Inconclusive},
		{"abandoned", "Abandoned", cur.Abandoned}, {"learnings", "Learnings recorded", cur.LearningsRecorded},
	}
}

// figures are the headline numbers of cur, each compared with before.
func figures(cur, before readmodel.PeriodMetrics, prevName string) []figure {
	rate := func(id, name, help string, c, b *float64, higherIsBetter bool) figure {
		f := figure{ID: id, Name: name, Value: percent(c), Help: help}
		compare(&f, c, b, 100, "points", prevName, higherIsBetter)
		return f
	}
	day := func(id, name, help string, c, b *float64) figure {
		f := figure{ID: id, Name: name, Value: daysText(c), Help: help}
		compare(&f, c, b, 1, "days", prevName, false)
		return f
	}
	vc, vb := cur.VelocityPerWeek, before.VelocityPerWeek
	velocity := figure{ID: "velocity", Name: "Velocity", Value: trimFloat(vc, 1) + " / week",
		Help: "Experiments concluded per week."}
	compare(&velocity, &vc, &vb, 1, "per week", prevName, true)
	return []figure{
		rate("win-rate", "Win rate", "Succeeded out of concluded.", cur.WinRate, before.WinRate, true),
		rate("learning-rate", "Learning rate", "Ended experiments (concluded or abandoned) with a learning and a decision.",
			cur.LearningRate, before.LearningRate, true),
		rate("openness", "Openness", "Failures with at least one learning recorded.",
			cur.OpennessLearnings, before.OpennessLearnings, true),
		rate("openness-stories", "Openness in stories", "Failures with at least one story told about them.",
			cur.OpennessStories, before.OpennessStories, true),
		leadStories(cur, before, prevName),
		rate("failure-yield", "Failure yield", "Failures that fed an innovation, directly or through later experiments.",
			cur.FailureYield, before.FailureYield, true),
		day("learning-latency", "Learning latency", "Median days from a failure to the launch of the first innovation it fed.",
			cur.LearningLatencyDaysMedian, before.LearningLatencyDaysMedian),
		day("cycle-time", "Cycle time", "Median days from start to conclusion.", cur.CycleTimeDaysMedian, before.CycleTimeDaysMedian),
		velocity,
	}
}

// leadStories is the figure of the stories leads told in the period.
func leadStories(cur, before readmodel.PeriodMetrics, prevName string) figure {
	f := figure{ID: "stories-by-leads", Name: "Stories by leads", Value: strconv.Itoa(cur.StoriesByLeads),
		Help: "Failure stories published by leads: leaders telling their own failures."}
	c, b := float64(cur.StoriesByLeads), float64(before.StoriesByLeads)
	compare(&f, &c, &b, 1, "stories", prevName, true)
	return f
}

// compare fills f's trend: the change from b to c, scaled (100 turns a
// rate into points), in words.
func compare(f *figure, c, b *float64, scale float64, unit, prevName string, higherIsBetter bool) {
	if c == nil || b == nil {
		if b == nil {
			f.Trend = "No figure for " + prevName + " to compare with."
		} else {
			f.Trend = "No figure yet; " + prevName + " had one."
		}
		return
	}
	delta := (*c - *b) * scale
	switch {
	case math.Abs(delta) < 0.05:
		f.Direction, f.Trend = "same", "Same as "+prevName+"."
		return
	case delta > 0:
		f.Direction = "up"
	default:
		f.Direction = "down"
	}
	if (delta > 0) == higherIsBetter {
		f.Mood = "good"
	} else {
		f.Mood = "bad"
	}
	n := trimFloat(math.Abs(delta), 1)
	if n == "1" && unit == "stories" {
		unit = "story"
	}
	f.Trend = fmt.Sprintf("%s %s %s from %s.", map[string]string{"up": "Up", "down": "Down"}[f.Direction], n, unit, prevName)
}

// monthName is a month period as "Mar 2026".
func monthName(p string) string {
	t, ok := periodStart(p, readmodel.BucketMonth)
	if !ok {
		return p
	}
	return t.Format("Jan 2006")
}
