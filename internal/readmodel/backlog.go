package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

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
// What each fed comes from failure_feeds, as v sees it.
func (q *Queries) FailureBacklog(ctx context.Context, v Viewer, f BacklogFilter) ([]BacklogItem, error) {
	vis, args := v.visible("e")
	cond := "e.status = ? AND e.outcome = ? AND e.learning_count > 0 AND " + vis
	args = append([]any{experiments.StatusConcluded, experiments.OutcomeFailed}, args...)
	if f.Team != "" {
		cond += " AND e.team = ?"
		args = append(args, f.Team)
	}
	if f.Unlinked {
		// A failure with a feed every viewer sees, or any feed for a viewer
		// who sees everything, is linked; the rest are checked below.
		open := " AND ff.requires = ''"
		if v.All {
			open = ""
		}
		cond += " AND NOT EXISTS (SELECT 1 FROM failure_feeds ff WHERE ff.failure_id = e.id" + open + ")"
	}
	var rows []experimentRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+prefixed("e", experimentColumns)+
		" FROM experiments e WHERE "+cond+" ORDER BY e.concluded_at, e.id"), args...); err != nil {
		return nil, fmt.Errorf("failure backlog: %w", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	fed, err := q.fedCounts(ctx, v, ids)
	if err != nil {
		return nil, fmt.Errorf("failure backlog: %w", err)
	}
	out := []BacklogItem{}
	ids = ids[:0]
	for _, r := range rows {
		n := fed[r.ID]
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

// fedCounts returns how many distinct innovations each of the failures
// ids fed, as v sees them.
func (q *Queries) fedCounts(ctx context.Context, v Viewer, ids []string) (map[string]int, error) {
	rows, err := selectIn[struct {
		ID         string `db:"failure_id"`
		Innovation string `db:"innovation_id"`
		Requires   string `db:"requires"`
	}](ctx, q.db, "SELECT failure_id, innovation_id, requires FROM failure_feeds WHERE failure_id IN (%s)", ids)
	if err != nil {
		return nil, fmt.Errorf("load failure feeds: %w", err)
	}
	seen := map[[2]string]bool{}
	out := map[string]int{}
	for _, r := range rows {
		if k := [2]string{r.ID, r.Innovation}; !seen[k] && v.seesAll(r.Requires) {
			seen[k] = true
			out[r.ID]++
		}
	}
	return out, nil
}
