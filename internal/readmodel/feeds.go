package readmodel

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// The relation "this failure fed that innovation" lives in failure_feeds,
// with a summary per failure in failure_figures (see the 0004 migration).
// A batch recomputes it for the failures whose rows it may change: those
// upstream, through builds_on at any depth, of an experiment whose links,
// edges, outcome or visibility it changed. Each is walked downstream in
// memory, over the edges, experiments and links of the part of the graph
// below it, and only the failures whose rows differ are written.

// failureFigure is a row of failure_figures.
type failureFigure struct {
	id, team, month, visibility string
	concludedAt                 time.Time
	// openLaunchedAt is the first launch that every viewer of the failure
	// sees; nil when every path needs a confidential team.
	openLaunchedAt *time.Time
	// depends is set when some viewer sees an earlier launch than
	// openLaunchedAt, or when there is none: the failure's figures then
	// depend on the viewer's teams.
	depends bool
}

func (f *failureFigure) equal(g *failureFigure) bool {
	if f == nil || g == nil {
		return f == g
	}
	return f.id == g.id && f.team == g.team && f.month == g.month && f.visibility == g.visibility &&
		f.concludedAt.Equal(g.concludedAt) && equalTimes(f.openLaunchedAt, g.openLaunchedAt) && f.depends == g.depends
}

func (f *failureFigure) appendValues(args []any) []any {
	return append(args, dbText(f.id), dbText(f.team), f.month, dbText(f.visibility), f.concludedAt,
		timeOrNil(f.openLaunchedAt), f.depends)
}

// feedRow is a row of failure_feeds.
type feedRow struct {
	failure, innovation, requires string
	launchedAt                    time.Time
}

func (r *feedRow) appendValues(args []any) []any {
	return append(args, dbText(r.failure), dbText(r.innovation), dbText(r.requires), r.launchedAt)
}

// feedNode is what the walks need to know of an experiment.
type feedNode struct {
	team, visibility, outcome string
	concludedAt               *time.Time
	concludedMonth            string
}

// failure reports whether the node counts as a failure on the dashboard.
func (n *feedNode) failure() bool {
	return n.outcome == experiments.OutcomeFailed && n.concludedAt != nil
}

// fedLink is an active link of an experiment to an innovation.
type fedLink struct {
	innovation string
	launchedAt time.Time
}

// feedTables are how the projection writes failure_feeds and
// failure_figures: a failure's rows are deleted and inserted whole.
var feedTables = struct{ feeds, figures *tableSpec }{
	feeds: newTableSpec("failure_feeds", []string{"failure_id", "innovation_id", "requires", "launched_at"}, "failure_id"),
	figures: newTableSpec("failure_figures", []string{"failure_id", "team", "month", "visibility", "concluded_at",
		"open_launched_at", "depends"}, "failure_id"),
}

// The walks' queries: each has one %s, for its IN list. The edge queries
// return (from, to) in the direction of the walk.
const (
	upstreamEdges   = "SELECT experiment_id, builds_on_id FROM experiment_edges WHERE experiment_id IN (%s)"
	downstreamEdges = "SELECT builds_on_id, experiment_id FROM experiment_edges WHERE builds_on_id IN (%s)"
	loadFeedNodes   = "SELECT id, team, visibility, outcome, concluded_at, concluded_month FROM experiments WHERE id IN (%s)"
	loadFeedLinks   = "SELECT l.experiment_id, l.innovation_id, i.launched_at FROM innovation_links l" +
		" JOIN innovations i ON i.id = l.innovation_id WHERE l.active AND l.experiment_id IN (%s)"
	failureFigureColumns = "failure_id, team, month, visibility, concluded_at, open_launched_at, depends"
	loadFailureFigures   = "SELECT " + failureFigureColumns + " FROM failure_figures WHERE failure_id IN (%s)"
	loadFailureFeeds     = "SELECT failure_id, innovation_id, requires, launched_at FROM failure_feeds WHERE failure_id IN (%s)"
)

// updateFeeds recomputes the feeds of every failure upstream of touched
// (touched included) and adds the change in fed failures to d.
func (p *Projection) updateFeeds(ctx context.Context, tx *batchTx, touched map[string]bool, d figureDeltas) error {
	if len(touched) == 0 {
		return nil
	}
	upstream, _, err := tx.reach(ctx, upstreamEdges, sortedKeys(touched))
	if err != nil {
		return fmt.Errorf("walk upstream of changed experiments: %w", err)
	}
	nodes := map[string]*feedNode{}
	if err := tx.loadFeedNodes(ctx, sortedKeys(upstream), nodes); err != nil {
		return err
	}
	old, err := tx.loadFailureFigures(ctx, sortedKeys(upstream))
	if err != nil {
		return err
	}
	var roots []string
	for _, id := range sortedKeys(nodes) {
		if nodes[id].failure() {
			roots = append(roots, id)
		}
	}
	below, children, err := tx.reach(ctx, downstreamEdges, roots)
	if err != nil {
		return fmt.Errorf("walk downstream of failures: %w", err)
	}
	var missing []string
	for _, id := range sortedKeys(below) {
		if nodes[id] == nil {
			missing = append(missing, id)
		}
	}
	if err := tx.loadFeedNodes(ctx, missing, nodes); err != nil {
		return err
	}
	links, err := tx.loadFeedLinks(ctx, sortedKeys(below))
	if err != nil {
		return err
	}
	fresh := map[string][]feedRow{}
	figures := map[string]*failureFigure{}
	for _, r := range roots {
		if rows := feedsOf(r, children, nodes, links); len(rows) > 0 {
			fresh[r] = rows
			figures[r] = summarize(r, nodes[r], rows)
		}
	}
	stored, err := p.writeFeeds(ctx, tx, old, fresh)
	if err != nil {
		return err
	}
	return p.writeFailureFigures(ctx, tx, failureChange{old, figures, stored, fresh}, d)
}

// feedsOf walks downstream of root and returns, for every innovation
// linked to root or to an experiment below it, the minimal sets of
// confidential teams that the paths to it pass through (root left out),
// sorted by innovation and set.
func feedsOf(root string, children map[string][]string, nodes map[string]*feedNode,
	links map[string][]fedLink) []feedRow {
	labels := map[string][]string{root: {""}}
	queue, queued := []string{root}, map[string]bool{root: true}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		queued[n] = false
		for _, c := range children[n] {
			node := nodes[c]
			if node == nil {
				continue
			}
			for _, s := range slices.Clone(labels[n]) {
				if node.visibility == experiments.VisibilityTeam {
					s = withTeam(s, node.team)
				}
				var added bool
				if labels[c], added = addMinimal(labels[c], s); added && !queued[c] {
					queue = append(queue, c)
					queued[c] = true
				}
			}
		}
	}
	reached := map[string][]string{}
	launched := map[string]time.Time{}
	for n, sets := range labels {
		for _, l := range links[n] {
			launched[l.innovation] = l.launchedAt
			for _, s := range sets {
				reached[l.innovation], _ = addMinimal(reached[l.innovation], s)
			}
		}
	}
	var out []feedRow
	for _, i := range sortedKeys(reached) {
		for _, s := range slices.Sorted(slices.Values(reached[i])) {
			out = append(out, feedRow{failure: root, innovation: i, requires: s, launchedAt: launched[i]})
		}
	}
	return out
}

// summarize derives a failure's failure_figures row from its feeds.
func summarize(id string, n *feedNode, rows []feedRow) *failureFigure {
	f := &failureFigure{id: id, team: n.team, month: n.concludedMonth, visibility: n.visibility, concludedAt: *n.concludedAt}
	first := rows[0].launchedAt
	for _, r := range rows {
		first = minTime(first, r.launchedAt)
		if r.requires == "" {
			if f.openLaunchedAt == nil || r.launchedAt.Before(*f.openLaunchedAt) {
				t := r.launchedAt
				f.openLaunchedAt = &t
			}
		}
	}
	f.depends = f.openLaunchedAt == nil || first.Before(*f.openLaunchedAt)
	return f
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// writeFeeds replaces the failure_feeds rows of every failure whose rows
// changed, and returns the rows stored before, sorted. Only failures with
// a failure_figures row (old) have rows.
func (p *Projection) writeFeeds(ctx context.Context, tx *batchTx, old map[string]*failureFigure,
	fresh map[string][]feedRow) (map[string][]feedRow, error) {
	stored, err := tx.loadFeeds(ctx, sortedKeys(old))
	if err != nil {
		return nil, err
	}
	var stale []string
	var values []any
	ids := sortedKeys(fresh)
	for id := range old {
		if fresh[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if equalFeeds(stored[id], fresh[id]) {
			continue
		}
		if old[id] != nil {
			stale = append(stale, id)
		}
		for i := range fresh[id] {
			values = fresh[id][i].appendValues(values)
		}
	}
	if err := tx.replace(ctx, feedTables.feeds, stale, values); err != nil {
		return nil, fmt.Errorf("write failure feeds: %w", err)
	}
	return stored, nil
}

// loadFeeds reads the failure_feeds rows of the failures ids, each
// failure's sorted.
func (b *batchTx) loadFeeds(ctx context.Context, ids []string) (map[string][]feedRow, error) {
	stored := map[string][]feedRow{}
	err := b.queryIn(ctx, loadFailureFeeds, ids, func(rows *sql.Rows) error {
		var r feedRow
		if err := rows.Scan(&r.failure, &r.innovation, &r.requires, &r.launchedAt); err != nil {
			return err
		}
		r.launchedAt = r.launchedAt.UTC()
		stored[r.failure] = append(stored[r.failure], r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load failure feeds: %w", err)
	}
	for _, s := range stored {
		slices.SortFunc(s, compareFeedRows)
	}
	return stored, nil
}

// equalFeeds reports whether two failures' sorted rows are the same.
func equalFeeds(a, b []feedRow) bool {
	return slices.EqualFunc(a, b, func(a, b feedRow) bool {
		return compareFeedRows(a, b) == 0 && a.launchedAt.Equal(b.launchedAt)
	})
}

func compareFeedRows(a, b feedRow) int {
	return cmp.Or(cmp.Compare(a.innovation, b.innovation), cmp.Compare(a.requires, b.requires))
}

// failureChange is what a batch changed of the failures it recomputed:
// their failure_figures rows and their failure_feeds rows, as stored
// before and as they are now.
type failureChange struct {
	old, fresh            map[string]*failureFigure
	storedFeeds, newFeeds map[string][]feedRow
}

// writeFailureFigures replaces the failure_figures rows that changed and
// moves the failures that fed an innovation between cells: those whose
// row changed, and those whose figures depend on the viewer and whose
// feeds changed.
func (p *Projection) writeFailureFigures(ctx context.Context, tx *batchTx, c failureChange, d figureDeltas) error {
	ids := sortedKeys(c.fresh)
	for id := range c.old {
		if c.fresh[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var stale []string
	var values []any
	for _, id := range ids {
		o, n := c.old[id], c.fresh[id]
		same := o.equal(n)
		if same && (!n.depends || equalFeeds(c.storedFeeds[id], c.newFeeds[id])) {
			continue
		}
		d.fedFailure(o, c.storedFeeds[id], -1)
		d.fedFailure(n, c.newFeeds[id], 1)
		if same {
			continue
		}
		if o != nil {
			stale = append(stale, id)
		}
		if n != nil {
			values = n.appendValues(values)
		}
	}
	if err := tx.replace(ctx, feedTables.figures, stale, values); err != nil {
		return fmt.Errorf("write failure figures: %w", err)
	}
	return nil
}

// reach returns start and every id reachable from it through the edges
// that query returns, and those edges by where they lead from.
func (b *batchTx) reach(ctx context.Context, query string, start []string) (map[string]bool, map[string][]string, error) {
	seen := make(map[string]bool, len(start))
	for _, id := range start {
		seen[id] = true
	}
	next := map[string][]string{}
	for frontier := start; len(frontier) > 0; {
		var found []string
		err := b.queryIn(ctx, query, frontier, func(rows *sql.Rows) error {
			var from, to string
			if err := rows.Scan(&from, &to); err != nil {
				return err
			}
			next[from] = append(next[from], to)
			if !seen[to] {
				seen[to] = true
				found = append(found, to)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		slices.Sort(found)
		frontier = found
	}
	for _, to := range next {
		slices.Sort(to)
	}
	return seen, next, nil
}

func (b *batchTx) loadFeedNodes(ctx context.Context, ids []string, into map[string]*feedNode) error {
	err := b.queryIn(ctx, loadFeedNodes, ids, func(rows *sql.Rows) error {
		var id string
		var n feedNode
		var concluded sql.NullTime
		if err := rows.Scan(&id, &n.team, &n.visibility, &n.outcome, &concluded, &n.concludedMonth); err != nil {
			return err
		}
		n.concludedAt = nullTimePtr(concluded)
		into[id] = &n
		return nil
	})
	if err != nil {
		return fmt.Errorf("load experiments of failure feeds: %w", err)
	}
	return nil
}

func (b *batchTx) loadFeedLinks(ctx context.Context, ids []string) (map[string][]fedLink, error) {
	out := map[string][]fedLink{}
	err := b.queryIn(ctx, loadFeedLinks, ids, func(rows *sql.Rows) error {
		var exp string
		var l fedLink
		if err := rows.Scan(&exp, &l.innovation, &l.launchedAt); err != nil {
			return err
		}
		l.launchedAt = l.launchedAt.UTC()
		out[exp] = append(out[exp], l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load links of failure feeds: %w", err)
	}
	return out, nil
}

func (b *batchTx) loadFailureFigures(ctx context.Context, ids []string) (map[string]*failureFigure, error) {
	out := map[string]*failureFigure{}
	err := b.queryIn(ctx, loadFailureFigures, ids, func(rows *sql.Rows) error {
		f, err := scanFailureFigure(rows)
		if err != nil {
			return err
		}
		out[f.id] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load failure figures: %w", err)
	}
	return out, nil
}

// scanFailureFigure reads a row of failureFigureColumns.
func scanFailureFigure(rows *sql.Rows) (*failureFigure, error) {
	f := &failureFigure{}
	var open sql.NullTime
	if err := rows.Scan(&f.id, &f.team, &f.month, &f.visibility, &f.concludedAt, &open, &f.depends); err != nil {
		return nil, err
	}
	f.concludedAt = f.concludedAt.UTC()
	f.openLaunchedAt = nullTimePtr(open)
	return f, nil
}

// A set of teams is kept as its sorted names joined by commas, "" for
// none: team names are letters, digits, '.', '_' and '-'.

// withTeam returns the set s with team added.
func withTeam(s, team string) string {
	if s == "" {
		return team
	}
	parts := strings.Split(s, ",")
	i, found := slices.BinarySearch(parts, team)
	if found {
		return s
	}
	return strings.Join(slices.Insert(parts, i, team), ",")
}

// isSubset reports whether every team of a is in b.
func isSubset(a, b string) bool {
	if a == "" {
		return true
	}
	bs := strings.Split(b, ",")
	for t := range strings.SplitSeq(a, ",") {
		if _, ok := slices.BinarySearch(bs, t); !ok {
			return false
		}
	}
	return true
}

// addMinimal adds s to list, a list of sets none of which contains
// another, unless a subset of s is there already, and drops the sets that
// contain s. It reports whether s was added.
func addMinimal(list []string, s string) ([]string, bool) {
	for _, t := range list {
		if isSubset(t, s) {
			return list, false
		}
	}
	list = slices.DeleteFunc(list, func(t string) bool { return isSubset(s, t) })
	return append(list, s), true
}
