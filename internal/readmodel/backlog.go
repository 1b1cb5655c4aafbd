package readmodel

import (
	"context"
	"fmt"
	"strings"
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
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
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

// BacklogPage is one page of the learning backlog, oldest conclusion
// first.
type BacklogPage struct {
	Items      []BacklogItem `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// A backlog page's cursor is backlogCursorPrefix, then the list cursor of
// its last item's (concluded_at, id): neither list takes the other's.
const backlogCursorPrefix = "b."

// FailureBacklog returns a page of the failed experiments v may see that
// recorded at least one learning, oldest conclusion first, paged by
// keyset on (concluded_at, id): the learning backlog. What each fed
// comes from failure_feeds, as v sees it. The rows are read in chunks in
// index order until the page is full, so a page costs about its size
// however long the backlog, unless most failures in its way are linked
// only through experiments v may not see.
func (q *Queries) FailureBacklog(ctx context.Context, v Viewer, f BacklogFilter) (BacklogPage, error) {
	page := BacklogPage{Items: []BacklogItem{}}
	var after *pageKey
	if f.Cursor != "" {
		rest, ok := strings.CutPrefix(f.Cursor, backlogCursorPrefix)
		if !ok {
			return page, fmt.Errorf("failure backlog: %w: not a cursor of the backlog", ErrBadCursor)
		}
		k, err := decodeCursor(rest)
		if err != nil {
			return page, fmt.Errorf("failure backlog: %w", err)
		}
		after = &k
	}
	limit := clampLimit(f.Limit)
	// Read one more than the page, to know whether another follows; each
	// later chunk is larger, since the last one left most rows out.
	for chunk := limit + 1; ; chunk = min(chunk*4, 4*MaxLimit) {
		rows, err := q.backlogRows(ctx, v, f, after, chunk)
		if err != nil {
			return page, fmt.Errorf("failure backlog: %w", err)
		}
		items, err := q.backlogItems(ctx, v, f, rows)
		if err != nil {
			return page, fmt.Errorf("failure backlog: %w", err)
		}
		page.Items = append(page.Items, items...)
		if len(page.Items) > limit || len(rows) < chunk {
			break
		}
		last := rows[len(rows)-1]
		after = &pageKey{RegisteredAt: last.ConcludedAt.UTC(), ID: last.ID}
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = backlogCursorPrefix + encodeCursor(pageKey{RegisteredAt: last.ConcludedAt, ID: last.ID})
	}
	ids := make([]string, len(page.Items))
	for i, it := range page.Items {
		ids[i] = it.ID
	}
	learnings, err := q.learningsOf(ctx, ids)
	if err != nil {
		return page, fmt.Errorf("failure backlog: %w", err)
	}
	for i := range page.Items {
		page.Items[i].Learnings = nonNil(learnings[page.Items[i].ID])
	}
	return page, nil
}

// backlogRows reads up to n of the failures f keeps for v after the key
// after (from the start when nil), in the backlog's order. With
// f.Unlinked, the SQL leaves out what every viewer sees linked;
// backlogItems leaves out the rest that v sees linked.
func (q *Queries) backlogRows(ctx context.Context, v Viewer, f BacklogFilter, after *pageKey, n int) ([]experimentRow, error) {
	vis, args := v.visible("e")
	cond := "e.status = ? AND e.outcome = ? AND e.concluded_at IS NOT NULL AND e.learning_count > 0 AND " + vis
	args = append([]any{experiments.StatusConcluded, experiments.OutcomeFailed}, args...)
	if f.Team != "" {
		cond += " AND e.team = ?"
		args = append(args, f.Team)
	}
	if after != nil {
		at := dbTime(after.RegisteredAt)
		cond += " AND (e.concluded_at > ? OR (e.concluded_at = ? AND e.id > ?))"
		args = append(args, at, at, after.ID)
	}
	if f.Unlinked {
		// A failure with a feed every viewer sees, or any feed for a viewer
		// who sees everything, is linked; the rest are checked in Go.
		open := " AND ff.requires = ''"
		if v.All {
			open = ""
		}
		cond += " AND NOT EXISTS (SELECT 1 FROM failure_feeds ff WHERE ff.failure_id = e.id" + open + ")"
	}
	var rows []experimentRow
	err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+prefixed("e", experimentColumns)+
		" FROM experiments e WHERE "+cond+" ORDER BY e.concluded_at, e.id LIMIT ?"), append(args, n)...)
	return rows, err
}

// backlogItems turns rows into backlog items, with what each fed as v
// sees it, leaving out with f.Unlinked those that fed any.
func (q *Queries) backlogItems(ctx context.Context, v Viewer, f BacklogFilter, rows []experimentRow) ([]BacklogItem, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	fed, err := q.fedCounts(ctx, v, ids)
	if err != nil {
		return nil, err
	}
	var out []BacklogItem
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
