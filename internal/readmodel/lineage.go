package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// maxLineageDepth bounds the builds_on walks. builds_on can only name
// experiments that existed before, so the graph has no cycles and no walk
// reaches this; the cap keeps a corrupt graph from looping forever.
const maxLineageDepth = 1000

// The walks visit (id, depth) pairs with UNION, so each pair is kept once,
// and the outer query keeps each experiment at its smallest depth. They
// only pass through experiments the viewer may see (%[1]s is the viewer's
// condition on e): to a viewer, a hidden experiment is not there, and
// neither is the path through it.
const (
	upstreamWalkSQL = `WITH RECURSIVE walk (id, depth) AS (
	SELECT l.experiment_id, 1 FROM innovation_links l JOIN experiments e ON e.id = l.experiment_id
	WHERE l.innovation_id = ? AND l.active AND %[1]s
	UNION
	SELECT x.builds_on_id, w.depth + 1 FROM walk w
	JOIN experiment_edges x ON x.experiment_id = w.id
	JOIN experiments e ON e.id = x.builds_on_id
	WHERE w.depth < ? AND %[1]s
)
SELECT id, MIN(depth) AS depth FROM walk GROUP BY id`

	downstreamWalkSQL = `WITH RECURSIVE walk (id, depth) AS (
	SELECT e.id, 0 FROM experiments e WHERE e.id = ?
	UNION
	SELECT x.experiment_id, w.depth + 1 FROM walk w
	JOIN experiment_edges x ON x.builds_on_id = w.id
	JOIN experiments e ON e.id = x.experiment_id
	WHERE w.depth < ? AND %[1]s
)
SELECT id, MIN(depth) AS depth FROM walk WHERE id <> ? GROUP BY id`
)

// LineageNode is an experiment in a lineage: how far it is from where the
// walk started, and whether it failed.
type LineageNode struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Team    string `json:"team"`
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Failed  bool   `json:"failed"`
	// Depth is 0 for the experiment a lineage is about, 1 for an
	// experiment an innovation links directly or one that builds directly
	// on the start, and one more for every builds_on step after that.
	Depth int `json:"depth"`
	// BuildsOn are the experiments this one iterates on, among those the
	// viewer may see.
	BuildsOn []string `json:"builds_on"`
}

// InnovationLineage is an innovation with every experiment upstream of it.
type InnovationLineage struct {
	Innovation experiments.Innovation `json:"innovation"`
	// Upstream lists each experiment once, at its smallest depth, sorted
	// by depth, then registration.
	Upstream []LineageNode `json:"upstream"`
}

// ExperimentLineage is an experiment with what came after it.
type ExperimentLineage struct {
	Experiment LineageNode `json:"experiment"`
	// Downstream lists the experiments that build on it, transitively,
	// each once at its smallest depth.
	Downstream []LineageNode `json:"downstream"`
	// Innovations lists the innovations it fed, directly or through a
	// downstream experiment, oldest launch first.
	Innovations []InnovationRef `json:"innovations"`
}

// InnovationRef is an innovation an experiment fed, and the experiment of
// that lineage the innovation links to (the nearest one, when several do).
type InnovationRef struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Team       string    `json:"team"`
	LaunchedAt time.Time `json:"launched_at"`
	Via        string    `json:"via"`
}

type walkRow struct {
	ID    string `db:"id"`
	Depth int    `db:"depth"`
}

// InnovationLineage returns the innovation id and every experiment
// upstream of it that v may see: those it links, and transitively those
// they build on.
func (q *Queries) InnovationLineage(ctx context.Context, v Viewer, id string) (InnovationLineage, error) {
	n, err := q.GetInnovation(ctx, v, id)
	if err != nil {
		return InnovationLineage{}, err
	}
	vis, visArgs := v.visible("e")
	args := append(append(append([]any{id}, visArgs...), maxLineageDepth), visArgs...)
	var walk []walkRow
	if err := q.db.SelectContext(ctx, &walk, q.db.Rebind(fmt.Sprintf(upstreamWalkSQL, vis)), args...); err != nil {
		return InnovationLineage{}, fmt.Errorf("lineage of innovation %s: %w", id, err)
	}
	nodes, err := q.lineageNodes(ctx, v, walk)
	if err != nil {
		return InnovationLineage{}, fmt.Errorf("lineage of innovation %s: %w", id, err)
	}
	return InnovationLineage{Innovation: n, Upstream: nodes}, nil
}

// ExperimentLineage returns the experiment id, the experiments v may see
// that build on it transitively, and the innovations any of them fed.
func (q *Queries) ExperimentLineage(ctx context.Context, v Viewer, id string) (ExperimentLineage, error) {
	root, err := q.experimentRow(ctx, v, id)
	if err != nil {
		return ExperimentLineage{}, err
	}
	vis, visArgs := v.visible("e")
	args := append(append([]any{id, maxLineageDepth}, visArgs...), id)
	var walk []walkRow
	if err := q.db.SelectContext(ctx, &walk, q.db.Rebind(fmt.Sprintf(downstreamWalkSQL, vis)), args...); err != nil {
		return ExperimentLineage{}, fmt.Errorf("lineage of experiment %s: %w", id, err)
	}
	nodes, err := q.lineageNodes(ctx, v, append([]walkRow{{ID: root.ID}}, walk...))
	if err != nil {
		return ExperimentLineage{}, fmt.Errorf("lineage of experiment %s: %w", id, err)
	}
	out := ExperimentLineage{Experiment: nodes[0], Downstream: nodes[1:], Innovations: []InnovationRef{}}

	depth := map[string]int{}
	var ids []string
	for _, n := range nodes {
		depth[n.ID] = n.Depth
		ids = append(ids, n.ID)
	}
	type fedRow struct {
		Via        string    `db:"via"`
		ID         string    `db:"id"`
		Title      string    `db:"title"`
		Team       string    `db:"team"`
		LaunchedAt time.Time `db:"launched_at"`
	}
	fed, err := selectIn[fedRow](ctx, q.db, "SELECT l.experiment_id AS via, i.id, i.title, i.team, i.launched_at"+
		" FROM innovation_links l JOIN innovations i ON i.id = l.innovation_id WHERE l.active AND l.experiment_id IN (%s)", ids)
	if err != nil {
		return ExperimentLineage{}, fmt.Errorf("innovations fed by experiment %s: %w", id, err)
	}
	nearest := map[string]fedRow{}
	for _, f := range fed {
		best, ok := nearest[f.ID]
		if !ok || depth[f.Via] < depth[best.Via] || (depth[f.Via] == depth[best.Via] && f.Via < best.Via) {
			nearest[f.ID] = f
		}
	}
	for _, f := range nearest {
		out.Innovations = append(out.Innovations, InnovationRef{ID: f.ID, Title: f.Title, Team: f.Team,
			LaunchedAt: f.LaunchedAt.UTC(), Via: f.Via})
	}
	slices.SortFunc(out.Innovations, func(a, b InnovationRef) int {
		return cmp.Or(a.LaunchedAt.Compare(b.LaunchedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// lineageNodes loads the experiments of a walk, in the walk's order for
// its first entry and by depth, then registration, for the rest.
func (q *Queries) lineageNodes(ctx context.Context, v Viewer, walk []walkRow) ([]LineageNode, error) {
	depth := map[string]int{}
	var ids []string
	for _, w := range walk {
		depth[w.ID] = w.Depth
		ids = append(ids, w.ID)
	}
	rows, err := selectIn[experimentRow](ctx, q.db, "SELECT "+experimentColumns+" FROM experiments WHERE id IN (%s)", ids)
	if err != nil {
		return nil, fmt.Errorf("load lineage experiments: %w", err)
	}
	var upstream []string
	for _, r := range rows {
		upstream = append(upstream, r.BuildsOn...)
	}
	seen, err := q.visibleIDs(ctx, v, upstream)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b experimentRow) int {
		return cmp.Or(cmp.Compare(depth[a.ID], depth[b.ID]), a.RegisteredAt.Compare(b.RegisteredAt), cmp.Compare(a.ID, b.ID))
	})
	nodes := make([]LineageNode, 0, len(rows))
	for _, r := range rows {
		nodes = append(nodes, LineageNode{
			ID: r.ID, Title: r.Title, Team: r.Team, Status: r.Status, Outcome: r.Outcome,
			Failed: r.Outcome == experiments.OutcomeFailed, Depth: depth[r.ID],
			BuildsOn: slices.DeleteFunc(nonNil(slices.Clone(r.BuildsOn)), func(id string) bool { return !seen[id] }),
		})
	}
	return nodes, nil
}
