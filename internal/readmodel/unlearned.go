package readmodel

import (
	"context"
	"fmt"

	"github.com/failforward/failforward/internal/experiments"
)

// UnlearnedFailures returns up to limit failed experiments v may see that
// recorded no learning at all, newest conclusion first: the failures
// whose lesson nobody has written down yet, which the learning backlog
// cannot list because it lists what failures taught. team keeps one
// team's; empty keeps every team's. limit is DefaultLimit when 0, at most
// MaxLimit. Items carry no learnings (they have none).
func (q *Queries) UnlearnedFailures(ctx context.Context, v Viewer, team string, limit int) ([]experiments.Experiment, error) {
	vis, args := v.visible("e")
	cond := "e.status = ? AND e.outcome = ? AND e.learning_count = 0 AND " + vis
	args = append([]any{experiments.StatusConcluded, experiments.OutcomeFailed}, args...)
	if team != "" {
		cond += " AND e.team = ?"
		args = append(args, team)
	}
	var rows []experimentRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+prefixed("e", experimentColumns)+
		" FROM experiments e WHERE "+cond+" ORDER BY e.concluded_at DESC, e.id DESC LIMIT ?"), append(args, clampLimit(limit))...); err != nil {
		return nil, fmt.Errorf("unlearned failures: %w", err)
	}
	out, err := q.renderExperiments(ctx, v, rows)
	if err != nil {
		return nil, fmt.Errorf("unlearned failures: %w", err)
	}
	return out, nil
}

// UnlearnedFailures is Queries.UnlearnedFailures, retried.
func (r *Retrying) UnlearnedFailures(ctx context.Context, v Viewer, team string, limit int) ([]experiments.Experiment, error) {
	return retry(ctx, func() ([]experiments.Experiment, error) { return r.q.UnlearnedFailures(ctx, v, team, limit) })
}
