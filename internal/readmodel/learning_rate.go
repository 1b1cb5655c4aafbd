package readmodel

import (
	"context"
	"fmt"

	"github.com/failforward/failforward/internal/experiments"
)

// tallyLearnedEnds counts, for the part of a month in f's range, the
// experiments that ended with at least one learning: those concluded
// with a decision or abandoned (the learning rate's numerator), and the
// failures among them (openness). The cells count the same for whole
// months (figureDeltas.experiment).
func (q *Queries) tallyLearnedEnds(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	for _, end := range []string{"concluded", "abandoned"} {
		cond, args := where(v, f, "e", end+"_at")
		var rows []struct {
			countRow
			Failures int `db:"failures"`
		}
		query := "SELECT e.team, e." + end + "_month AS month," +
			" SUM(CASE WHEN e.decision <> '' OR e.status = ? THEN 1 ELSE 0 END) AS n," +
			" SUM(CASE WHEN e.outcome = ? THEN 1 ELSE 0 END) AS failures" +
			" FROM experiments e WHERE e.learning_count > 0 AND " + cond + " GROUP BY e.team, e." + end + "_month"
		args = append([]any{experiments.StatusAbandoned, experiments.OutcomeFailed}, args...)
		if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
			return fmt.Errorf("count experiments %s with learnings: %w", end, err)
		}
		for _, r := range rows {
			for _, cl := range t.at(r.Month, r.Team) {
				cl.m.LearnedAndDecided += r.N
				cl.m.FailuresWithLearnings += r.Failures
			}
		}
	}
	return nil
}
