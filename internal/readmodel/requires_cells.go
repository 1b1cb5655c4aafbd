package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The figures that depend on the viewer's teams live in requires_cells
// (migration 0011): a row per cell of figure_cells and set of teams
// (requires), which a viewer adds to the cell when it sees the
// confidential experiments of every team in the set. A failure or a
// story whose figures depend on the viewer's teams is written there as
// a signed sum over sets, by inclusion and exclusion: the indicator "v
// sees one of the sets R1…Rk" is the sum, over the non-empty choices T of
// them, of (-1)^(|T|+1) times "v sees every team of their union", and the
// first launch a viewer sees is the first Rj it sees, "v sees Rj and none
// of R1…Rj-1". Summed over the rows a viewer's teams hold, every failure
// and story counts exactly as that viewer sees it, so a dashboard read
// costs the cells it shows, not the failures in them. The part of the
// empty set is in figure_cells.

// requiresColumns lists requires_cells in the order of
// appendRequiresValues.
const requiresColumns = `month, team, visibility, requires, failures_fed, failures_with_stories, stories_by_leads,
	latency_days`

// requiresTable writes requires_cells a month at a time.
var requiresTable = newTableSpec("requires_cells", columnList(requiresColumns), "month")

const loadRequiresCells = "SELECT " + requiresColumns + " FROM requires_cells WHERE month IN (%s)"

// requiresCells is how writeCellDeltas reads and writes requires_cells.
var requiresCells = cellStore{
	table: requiresTable, load: loadRequiresCells, scan: scanRequiresCell, values: appendRequiresValues,
}

// backfillRequiresCells is what read_model_backfill names while a read
// store migrated with figures in it has yet to fill requires_cells.
const backfillRequiresCells = "requires_cells"

func appendRequiresValues(args []any, k cellKey, c *cellFigures) []any {
	return append(args, k.month, dbText(k.team), dbText(k.visibility), dbText(k.requires), c.counts[cFailuresFed],
		c.counts[cFailuresWithStories], c.counts[cStoriesByLeads], encodeDays(c.latencyDays))
}

func scanRequiresCell(rows interface{ Scan(...any) error }) (cellKey, *cellFigures, error) {
	var k cellKey
	c := newCellFigures()
	var latency string
	if err := rows.Scan(&k.month, &k.team, &k.visibility, &k.requires, &c.counts[cFailuresFed],
		&c.counts[cFailuresWithStories], &c.counts[cStoriesByLeads], &latency); err != nil {
		return k, nil, err
	}
	if err := decodeDays(latency, c.latencyDays); err != nil {
		return k, nil, fmt.Errorf("requires cell %s %s %s %s: %w", k.month, k.team, k.visibility, k.requires, err)
	}
	return k, c, nil
}

// requiring returns what a batch adds to the cell of month, team and
// visibility for the viewers who see the teams in requires; the cell of
// figure_cells itself when requires is "".
func (d figureDeltas) requiring(month, team, visibility, requires string) *cellFigures {
	k := cellKey{month: month, team: team, visibility: visibility, requires: requires}
	c, ok := d[k]
	if !ok {
		c = newCellFigures()
		d[k] = c
	}
	return c
}

// launchTerm is one term of a failure's first launch: n times, for the
// viewers who see the teams of requires, a first launch days after the
// failure concluded.
type launchTerm struct {
	requires string
	days     int
}

// launchTerms writes the fed failure f, whose feeds are rows, as terms
// over sets of teams: their sum over the sets a viewer sees is 1 at the
// latency of the first launch it sees, or nothing when it sees none.
func launchTerms(f *failureFigure, rows []feedRow) map[launchTerm]int64 {
	first := map[string]time.Time{}
	for _, r := range rows {
		if t, ok := first[r.requires]; !ok || r.launchedAt.Before(t) {
			first[r.requires] = r.launchedAt
		}
	}
	sets := sortedKeys(first)
	slices.SortStableFunc(sets, func(a, b string) int { return first[a].Compare(first[b]) })
	out := map[launchTerm]int64{}
	// seen is "v sees one of the sets before s", as terms.
	seen := map[string]int64{}
	for _, s := range sets {
		// The first seen is s when v sees s, less when it saw one before.
		term := map[string]int64{s: 1}
		for u, n := range seen {
			term[unionTeams(u, s)] -= n
		}
		days := wholeDays(f.concludedAt, first[s])
		for u, n := range term {
			if n != 0 {
				out[launchTerm{u, days}] += n
				addTerm(seen, u, n)
			}
		}
	}
	for k, n := range out {
		if n == 0 {
			delete(out, k)
		}
	}
	return out
}

// anyOf writes "v sees one of sets" as terms over sets of teams.
func anyOf(sets []string) map[string]int64 {
	out := map[string]int64{}
	for _, s := range sets {
		term := map[string]int64{s: 1}
		for u, n := range out {
			term[unionTeams(u, s)] -= n
		}
		for u, n := range term {
			addTerm(out, u, n)
		}
	}
	return out
}

func addTerm(m map[string]int64, k string, n int64) {
	if m[k] += n; m[k] == 0 {
		delete(m, k)
	}
}

// unionTeams returns the union of two sets of teams.
func unionTeams(a, b string) string {
	if a == "" || a == b {
		return b
	}
	if b == "" {
		return a
	}
	set := append(strings.Split(a, ","), strings.Split(b, ",")...)
	slices.Sort(set)
	return strings.Join(slices.Compact(set), ",")
}

// storyItem adds sign times a story_figures item, given its rows (which
// share a cell): in the cell when it asks no more than the cell, or as
// terms over the sets its rows ask for.
func (d figureDeltas) storyItem(rows []storyFigure, sign int64) {
	if len(rows) == 0 {
		return
	}
	f := rows[0]
	count := cStoriesByLeads
	if strings.HasPrefix(f.item, itemFailure) {
		count = cFailuresWithStories
	}
	sets := make([]string, 0, len(rows))
	for _, r := range rows {
		sets = append(sets, r.requires)
	}
	for u, n := range anyOf(sets) {
		d.requiring(f.month, f.team, f.visibility, u).counts[count] += sign * n
	}
}

// fillRequiresCells adds sign times the terms of every stored failure
// and story whose figures depend on the viewer's teams to the cells: in
// a read store migrated with figures per failure only, the next batch
// fills requires_cells with it, before it adds its own changes.
func (p *Projection) fillRequiresCells(ctx context.Context, tx *batchTx, sign int64) error {
	d := figureDeltas{}
	figures := map[string]*failureFigure{}
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+failureFigureColumns+" FROM failure_figures WHERE depends ORDER BY failure_id")
	if err != nil {
		return fmt.Errorf("fill requires cells: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFailureFigure(rows)
		if err != nil {
			return fmt.Errorf("fill requires cells: %w", err)
		}
		figures[f.id] = f
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fill requires cells: %w", err)
	}
	rows.Close()
	feeds, err := tx.loadFeeds(ctx, sortedKeys(figures))
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(figures) {
		d.fedFailure(figures[id], feeds[id], sign)
	}
	if err := fillStoryTerms(ctx, tx, sign, d); err != nil {
		return err
	}
	return p.writeDeltas(ctx, tx, d)
}

// fillStoryTerms adds sign times the terms of the story_figures items
// that ask more than their cell.
func fillStoryTerms(ctx context.Context, tx *batchTx, sign int64, d figureDeltas) error {
	rows, err := tx.tx.QueryContext(ctx, "SELECT item, requires, month, team, visibility FROM story_figures"+
		" WHERE requires <> '' ORDER BY item, requires")
	if err != nil {
		return fmt.Errorf("fill requires cells: %w", err)
	}
	defer rows.Close()
	items := map[string][]storyFigure{}
	for rows.Next() {
		var f storyFigure
		if err := rows.Scan(&f.item, &f.requires, &f.month, &f.team, &f.visibility); err != nil {
			return fmt.Errorf("fill requires cells: %w", err)
		}
		items[f.item] = append(items[f.item], f)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fill requires cells: %w", err)
	}
	for _, item := range sortedKeys(items) {
		d.storyItem(items[item], sign)
	}
	return nil
}
