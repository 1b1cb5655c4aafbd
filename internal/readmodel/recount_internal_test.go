package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// RecountOutcomes is the outcome dashboard as it was computed before the
// projection maintained its figures: GROUP BY over every experiment and
// learning, and a recursive walk from every failure to what it fed. The
// benchmarks time it beside Outcomes as the baseline.
var RecountOutcomes = (*Queries).recountOutcomes

func (q *Queries) recountOutcomes(ctx context.Context, v Viewer, f OutcomeFilter) (OutcomeReport, error) {
	t := &tally{bucket: BucketMonth, cells: map[[2]string]*cell{}}
	steps := []func(context.Context, Viewer, OutcomeFilter, *tally) error{
		q.tallyCounts, q.tallyConcluded, q.tallyCycleTimes, q.walkFailures, q.tallyLearnings,
	}
	for _, step := range steps {
		if err := step(ctx, v, f, t); err != nil {
			return OutcomeReport{}, fmt.Errorf("recount outcome metrics: %w", err)
		}
	}
	return OutcomeReport{Bucket: BucketMonth, Periods: t.report()}, nil
}

// recountFeedsSQL finds, for every root experiment that matches %[1]s,
// the innovations it fed, walking through the experiments the viewer may
// see (%[2]s).
const recountFeedsSQL = `WITH RECURSIVE walk (root, id) AS (
	SELECT e.id, e.id FROM experiments e WHERE %[1]s
	UNION
	SELECT w.root, x.experiment_id FROM walk w
	JOIN experiment_edges x ON x.builds_on_id = w.id
	JOIN experiments e ON e.id = x.experiment_id
	WHERE %[2]s
)
SELECT w.root, i.id, i.launched_at FROM walk w
JOIN innovation_links l ON l.experiment_id = w.id AND l.active
JOIN innovations i ON i.id = l.innovation_id`

// walkFailures walks from each failure concluded in range to the
// innovations it fed, for failure yield and learning latency.
func (q *Queries) walkFailures(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	cond, args := where(v, f, "e", "concluded_at")
	cond = "e.outcome = ? AND " + cond
	args = append([]any{experiments.OutcomeFailed}, args...)
	var failures []struct {
		ID          string    `db:"id"`
		Team        string    `db:"team"`
		Month       string    `db:"month"`
		ConcludedAt time.Time `db:"concluded_at"`
	}
	if err := q.db.SelectContext(ctx, &failures, q.db.Rebind(
		"SELECT e.id, e.team, e.concluded_month AS month, e.concluded_at FROM experiments e WHERE "+cond), args...); err != nil {
		return fmt.Errorf("load failures: %w", err)
	}
	vis, visArgs := v.visible("e")
	var rows []struct {
		Root       string    `db:"root"`
		ID         string    `db:"id"`
		LaunchedAt time.Time `db:"launched_at"`
	}
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(fmt.Sprintf(recountFeedsSQL, cond, vis)),
		append(append([]any{}, args...), visArgs...)...); err != nil {
		return fmt.Errorf("walk to fed innovations: %w", err)
	}
	first := map[string]time.Time{}
	for _, r := range rows {
		if l, ok := first[r.Root]; !ok || r.LaunchedAt.Before(l) {
			first[r.Root] = r.LaunchedAt
		}
	}
	for _, x := range failures {
		l, ok := first[x.ID]
		if !ok {
			continue
		}
		for _, cl := range t.at(x.Month, x.Team) {
			cl.m.FailuresFed++
			cl.latency.add(wholeDays(x.ConcludedAt, l), 1)
		}
	}
	return nil
}
