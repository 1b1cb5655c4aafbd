package readmodel

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Activity is what a viewer's dashboard filters offer: the teams with
// activity the viewer sees, and the first month of any.
type Activity struct {
	// Teams are the teams with a row in some period of the month report
	// over all of history, sorted.
	Teams []string
	// First is the start of the first month with activity, zero when
	// there is none.
	First time.Time
}

// Activity returns the teams and the first month of the month report over
// all of history, as Outcomes would give them to v, from the cells' keys
// alone: a row per team and kind of cell, whatever the months.
func (q *Queries) Activity(ctx context.Context, v Viewer) (Activity, error) {
	var out Activity
	first := ""
	for _, table := range []string{"figure_cells", "requires_cells"} {
		vis, args := v.visible("c")
		query := "SELECT c.team, '' AS requires, MIN(c.month) AS month FROM figure_cells c WHERE " + vis + " GROUP BY c.team"
		if table == "requires_cells" {
			query = "SELECT c.team, c.requires, MIN(c.month) AS month FROM requires_cells c WHERE " + vis +
				" GROUP BY c.team, c.requires"
		}
		var rows []struct {
			Team     string `db:"team"`
			Requires string `db:"requires"`
			Month    string `db:"month"`
		}
		if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
			return Activity{}, fmt.Errorf("activity: %w", err)
		}
		for _, r := range rows {
			if _, err := time.Parse("2006-01", r.Month); err != nil || !v.seesAll(r.Requires) {
				continue
			}
			if !slices.Contains(out.Teams, r.Team) {
				out.Teams = append(out.Teams, r.Team)
			}
			if first == "" || r.Month < first {
				first = r.Month
			}
		}
	}
	slices.Sort(out.Teams)
	if first != "" {
		out.First, _ = time.Parse("2006-01", first)
	}
	return out, nil
}
