package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/readmodel"
)

// The exports are CSV for spreadsheets. A cell that a spreadsheet would
// take for a formula (starting with =, +, - or @) is prefixed with a
// quote, so that a title typed by anyone cannot run in a lead's
// spreadsheet.

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvHeaders(w http.ResponseWriter, name string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	return csv.NewWriter(w)
}

func floatCell(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

func timeCell(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// handleExportFigures writes the outcome figures of every period, for the
// overview's team (or every team, with the all-teams total) and bucket.
func (h *Handler) handleExportFigures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket := q.Get("bucket")
	if bucket != readmodel.BucketQuarter {
		bucket = readmodel.BucketMonth
	}
	team := q.Get("team")
	rep, err := h.queries.Outcomes(r.Context(), h.viewer(r), readmodel.OutcomeFilter{Team: team, Bucket: bucket})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cw := csvHeaders(w, "failforward-figures.csv")
	cw.Write([]string{"period", "team", "registered", "started", "concluded", "succeeded", "failed", "inconclusive",
		"abandoned", "outcome_revisions", "win_rate", "failure_rate", "failures_fed", "failure_yield",
		"learning_latency_days_median", "cycle_time_days_median", "velocity_per_week", "learnings_recorded",
		"learned_and_decided", "learning_rate", "failures_with_learnings", "openness_learnings", "failures_with_stories",
		"openness_stories", "stories_by_leads"})
	for _, m := range rep.Periods {
		t := m.Team
		if t == readmodel.AllTeams {
			if team != "" {
				continue // the total of one team is that team's row
			}
			t = "all teams"
		}
		cw.Write([]string{m.Period, safeCell(t), strconv.Itoa(m.Registered), strconv.Itoa(m.Started),
			strconv.Itoa(m.Concluded), strconv.Itoa(m.Succeeded), strconv.Itoa(m.Failed), strconv.Itoa(m.Inconclusive),
			strconv.Itoa(m.Abandoned), strconv.Itoa(m.OutcomeRevisions), floatCell(m.WinRate), floatCell(m.FailureRate),
			strconv.Itoa(m.FailuresFed), floatCell(m.FailureYield), floatCell(m.LearningLatencyDaysMedian),
			floatCell(m.CycleTimeDaysMedian), strconv.FormatFloat(m.VelocityPerWeek, 'f', 4, 64), strconv.Itoa(m.LearningsRecorded),
			strconv.Itoa(m.LearnedAndDecided), floatCell(m.LearningRate), strconv.Itoa(m.FailuresWithLearnings),
			floatCell(m.OpennessLearnings), strconv.Itoa(m.FailuresWithStories), floatCell(m.OpennessStories),
			strconv.Itoa(m.StoriesByLeads)})
	}
	cw.Flush()
}

// handleExportExperiments writes every experiment the list's filters
// match, page after page.
func (h *Handler) handleExportExperiments(w http.ResponseWriter, r *http.Request) {
	f := experimentFilter(r.URL.Query())
	f.Cursor, f.Limit = "", readmodel.MaxLimit
	v := h.viewer(r)
	page, err := h.queries.ListExperiments(r.Context(), v, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cw := csvHeaders(w, "failforward-experiments.csv")
	cw.Write([]string{"id", "team", "title", "kind", "status", "outcome", "decision", "owner", "tags", "builds_on",
		"hypothesis", "success_metric", "success_criteria", "summary", "registered_at", "started_at", "concluded_at",
		"abandoned_at", "outcome_revisions", "visibility"})
	for {
		for _, x := range page.Items {
			reg := x.RegisteredAt
			cw.Write([]string{x.ID, safeCell(x.Team), safeCell(x.Title), x.Kind, x.Status, x.Outcome, x.Decision,
				safeCell(x.Owner), safeCell(strings.Join(x.Tags, ";")), strings.Join(x.BuildsOn, ";"),
				safeCell(x.Hypothesis), safeCell(x.SuccessMetric), safeCell(x.SuccessCriteria), safeCell(x.Summary),
				timeCell(&reg), timeCell(x.StartedAt), timeCell(x.ConcludedAt), timeCell(x.AbandonedAt),
				strconv.Itoa(x.OutcomeRevisions), x.Visibility})
		}
		if page.NextCursor == "" || r.Context().Err() != nil {
			break
		}
		f.Cursor = page.NextCursor
		if page, err = h.queries.ListExperiments(r.Context(), v, f); err != nil {
			// The header is out: the best left is to stop, and log why.
			h.log.Error("export experiments", "err", err)
			break
		}
	}
	cw.Flush()
}
