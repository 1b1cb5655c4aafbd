package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// feedsSQL finds, for every root experiment that matches %[1]s, the
// innovations it fed: those actively linked to the root or to any
// experiment built on it, transitively, passing only through experiments
// the viewer may see (%[2]s). It walks (root, id) pairs with UNION; there
// are finitely many, so the walk ends even on a corrupt, cyclic graph.
const feedsSQL = `WITH RECURSIVE walk (root, id) AS (
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

// fed is an innovation a root experiment fed.
type fed struct {
	Root       string    `db:"root"`
	ID         string    `db:"id"`
	LaunchedAt time.Time `db:"launched_at"`
}

// feeds returns, by root experiment, the distinct innovations each
// experiment matching rootCond (over e) fed.
func (q *Queries) feeds(ctx context.Context, v Viewer, rootCond string, rootArgs []any) (map[string][]fed, error) {
	vis, visArgs := v.visible("e")
	var rows []fed
	args := append(append([]any{}, rootArgs...), visArgs...)
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(fmt.Sprintf(feedsSQL, rootCond, vis)), args...); err != nil {
		return nil, fmt.Errorf("walk to fed innovations: %w", err)
	}
	out := map[string][]fed{}
	seen := map[[2]string]bool{}
	for _, r := range rows {
		if k := [2]string{r.Root, r.ID}; !seen[k] {
			seen[k] = true
			r.LaunchedAt = r.LaunchedAt.UTC()
			out[r.Root] = append(out[r.Root], r)
		}
	}
	return out, nil
}

// BacklogFilter narrows FailureBacklog.
type BacklogFilter struct {
	// Unlinked keeps only failures that no innovation uses yet: linked to
	// none, and not built on by any experiment that an innovation uses.
	Unlinked bool
	// Team keeps one team's failures; empty keeps every team's.
	Team string
}

// BacklogItem is a failed experiment with what it taught.
type BacklogItem struct {
	ID             string                 `json:"id"`
	Team           string                 `json:"team"`
	Title          string                 `json:"title"`
	Outcome        string                 `json:"outcome"`
	Summary        string                 `json:"summary"`
	FailureReasons []string               `json:"failure_reasons"`
	ConcludedAt    time.Time              `json:"concluded_at"`
	Learnings      []experiments.Learning `json:"learnings"`
	// FedInnovations counts the innovations it fed, directly or through
	// experiments built on it.
	FedInnovations int `json:"fed_innovations"`
}

// FailureBacklog returns the failed experiments v may see that recorded
// at least one learning, oldest conclusion first: the learning backlog.
func (q *Queries) FailureBacklog(ctx context.Context, v Viewer, f BacklogFilter) ([]BacklogItem, error) {
	vis, args := v.visible("e")
	cond := "e.status = ? AND e.outcome = ? AND e.learning_count > 0 AND " + vis
	args = append([]any{experiments.StatusConcluded, experiments.OutcomeFailed}, args...)
	if f.Team != "" {
		cond += " AND e.team = ?"
		args = append(args, f.Team)
	}
	var rows []experimentRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+prefixed("e", experimentColumns)+
		" FROM experiments e WHERE "+cond+" ORDER BY e.concluded_at, e.id"), args...); err != nil {
		return nil, fmt.Errorf("failure backlog: %w", err)
	}
	fedBy, err := q.feeds(ctx, v, cond, args)
	if err != nil {
		return nil, fmt.Errorf("failure backlog: %w", err)
	}
	out := []BacklogItem{}
	var ids []string
	for _, r := range rows {
		n := len(fedBy[r.ID])
		if f.Unlinked && n > 0 {
			continue
		}
		item := BacklogItem{ID: r.ID, Team: r.Team, Title: r.Title, Outcome: r.Outcome, Summary: r.Summary,
			FailureReasons: nonNil(r.FailureReasons), FedInnovations: n}
		if r.ConcludedAt != nil {
			item.ConcludedAt = r.ConcludedAt.UTC()
		}
		out = append(out, item)
		ids = append(ids, r.ID)
	}
	learnings, err := q.learningsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("failure backlog: %w", err)
	}
	for i := range out {
		out[i].Learnings = nonNil(learnings[out[i].ID])
	}
	return out, nil
}
