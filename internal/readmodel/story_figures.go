package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// The openness figures of failure stories. A viewer sees a story when it
// sees the story's own team and visibility and every experiment the story
// is about (Viewer.storyVisible): what a story asks of a viewer is the set
// of teams of the team-only among them. A failure counts for a viewer who
// sees it and one of its stories; a lead's story, for one who sees it.
// What asks no more than the cell it counts in is added to the cell; the
// rest is kept in story_figures with what it asks, and resolved per
// viewer when read, as failure_feeds is.

var storyFigureTable = newTableSpec("story_figures", []string{"item", "requires", "month", "team", "visibility"}, "item")

// Item prefixes of story_figures.
const (
	itemFailure = "failure:"
	itemLead    = "lead:"
)

// storyFigure is a row of story_figures.
type storyFigure struct{ item, requires, month, team, visibility string }

// asks returns the teams (sorted, comma separated) that seeing team's
// and visibility's rows takes, and those besides of extra.
func asks(team, visibility string, extra []string) string {
	set := slices.Clone(extra)
	if visibility == experiments.VisibilityTeam {
		set = append(set, team)
	}
	slices.Sort(set)
	return strings.Join(slices.Compact(set), ",")
}

// teamOnly returns team when visibility keeps its rows to it.
func teamOnly(team, visibility string) []string {
	if visibility == experiments.VisibilityTeam {
		return []string{team}
	}
	return nil
}

// loadStoryAsks reads, per failure of the IN list and story about it,
// the stories' and their experiments' teams and visibilities.
const loadStoryAsks = "SELECT se.experiment_id, s.id, s.team, s.visibility, x.team, x.visibility" +
	" FROM story_experiments se JOIN stories s ON s.id = se.story_id" +
	" JOIN story_experiments sx ON sx.story_id = s.id JOIN experiments x ON x.id = sx.experiment_id" +
	" WHERE NOT s.retracted AND se.experiment_id IN (%s)"

// loadFailureCells reads the cells of those of the IN list that failed.
const loadFailureCells = "SELECT id, team, visibility, concluded_month FROM experiments" +
	" WHERE outcome = '" + experiments.OutcomeFailed + "' AND concluded_at IS NOT NULL AND id IN (%s)"

// loadLeadStories reads the leads' stories of the IN list, a row per
// experiment each is about (or one without any).
const loadLeadStories = "SELECT s.id, s.team, s.visibility, s.published_at, x.team, x.visibility" +
	" FROM stories s LEFT JOIN story_experiments sx ON sx.story_id = s.id LEFT JOIN experiments x ON x.id = sx.experiment_id" +
	" WHERE NOT s.retracted AND s.author_role = '" + string(experiments.RoleLead) + "' AND s.id IN (%s)"

// failureStoryFigures returns the story_figures rows of the failures ids
// as the rows now stand.
func failureStoryFigures(ctx context.Context, tx *batchTx, ids []string) ([]storyFigure, error) {
	type failure struct{ team, visibility, month string }
	failures := map[string]failure{}
	err := tx.queryIn(ctx, loadFailureCells, ids, func(rows *sql.Rows) error {
		var id string
		var f failure
		if err := rows.Scan(&id, &f.team, &f.visibility, &f.month); err != nil {
			return err
		}
		failures[id] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load failures: %w", err)
	}
	type story struct{ failure, id string }
	teams := map[story][]string{}
	err = tx.queryIn(ctx, loadStoryAsks, sortedKeys(failures), func(rows *sql.Rows) error {
		var k story
		var team, visibility, xTeam, xVisibility string
		if err := rows.Scan(&k.failure, &k.id, &team, &visibility, &xTeam, &xVisibility); err != nil {
			return err
		}
		teams[k] = append(teams[k], teamOnly(team, visibility)...)
		teams[k] = append(teams[k], teamOnly(xTeam, xVisibility)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load stories about failures: %w", err)
	}
	sets := map[string]map[string]bool{}
	for k, ts := range teams {
		f := failures[k.failure]
		// The failure is among the story's experiments: what the story
		// asks holds what the failure does, and asks no more when equal.
		need := asks("", "", ts)
		if need == asks(f.team, f.visibility, nil) {
			need = ""
		}
		if sets[k.failure] == nil {
			sets[k.failure] = map[string]bool{}
		}
		sets[k.failure][need] = true
	}
	var out []storyFigure
	for _, id := range sortedKeys(sets) {
		f := failures[id]
		if sets[id][""] {
			out = append(out, storyFigure{itemFailure + id, "", f.month, f.team, f.visibility})
			continue
		}
		for _, need := range sortedKeys(sets[id]) {
			out = append(out, storyFigure{itemFailure + id, need, f.month, f.team, f.visibility})
		}
	}
	return out, nil
}

// leadStoryFigures returns the story_figures rows of the stories ids that
// leads told, as the rows now stand.
func leadStoryFigures(ctx context.Context, tx *batchTx, ids []string) ([]storyFigure, error) {
	stories := map[string]*storyFigure{}
	extra := map[string][]string{}
	err := tx.queryIn(ctx, loadLeadStories, ids, func(rows *sql.Rows) error {
		var id string
		var f storyFigure
		var published sql.NullTime
		var xTeam, xVisibility sql.NullString
		if err := rows.Scan(&id, &f.team, &f.visibility, &published, &xTeam, &xVisibility); err != nil {
			return err
		}
		f.item, f.month = itemLead+id, monthOf(published.Time)
		stories[id] = &f
		extra[id] = append(extra[id], teamOnly(xTeam.String, xVisibility.String)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load leads' stories: %w", err)
	}
	out := make([]storyFigure, 0, len(stories))
	for _, id := range sortedKeys(stories) {
		f := stories[id]
		if need := asks(f.team, f.visibility, extra[id]); need != asks(f.team, f.visibility, nil) {
			f.requires = need
		}
		out = append(out, *f)
	}
	return out, nil
}

// writeStoryFigures brings the story figures of what the batch changed up
// to date, adding to d what moves in the cells: those of the failures it
// changed or whose stories it changed, and of the stories it changed,
// and of both around an experiment whose team or visibility it changed,
// which changes what the stories about it ask.
func (p *Projection) writeStoryFigures(ctx context.Context, tx *batchTx, before figuresBefore, b *batch, d figureDeltas) error {
	failures, stories := map[string]bool{}, map[string]bool{}
	var moved []string
	for id := range b.dirtyExperiments {
		failures[id] = true
		old, stored := before[id]
		if x := b.experiments[id]; stored && (old.Team != x.Team || old.Visibility != x.Visibility) {
			moved = append(moved, id)
		}
	}
	sb := b.stories
	for id := range sb.dirty {
		stories[id] = true
		for _, x := range sb.linkedBefore[id] {
			failures[x] = true
		}
		for _, x := range sb.rows[id].ExperimentIDs {
			failures[x] = true
		}
	}
	slices.Sort(moved)
	err := tx.queryIn(ctx, loadCoLinked, moved, func(rows *sql.Rows) error {
		var story, experiment string
		if err := rows.Scan(&story, &experiment); err != nil {
			return err
		}
		stories[story], failures[experiment] = true, true
		return nil
	})
	if err != nil {
		return fmt.Errorf("load stories about experiments moved: %w", err)
	}
	return p.updateStoryFigures(ctx, tx, sortedKeys(failures), sortedKeys(stories), d)
}

// loadCoLinked reads the stories about the experiments of the IN list,
// with every experiment each is about.
const loadCoLinked = "SELECT DISTINCT b.story_id, b.experiment_id FROM story_experiments a" +
	" JOIN story_experiments b ON b.story_id = a.story_id WHERE a.experiment_id IN (%s)"

const loadStoryFigures = "SELECT item, requires, month, team, visibility FROM story_figures WHERE item IN (%s)"

// updateStoryFigures recomputes the story_figures rows of the failures
// and stories named, and adds to d the change in the cells.
func (p *Projection) updateStoryFigures(ctx context.Context, tx *batchTx, failures, stories []string, d figureDeltas) error {
	fresh, err := failureStoryFigures(ctx, tx, failures)
	if err != nil {
		return err
	}
	leads, err := leadStoryFigures(ctx, tx, stories)
	if err != nil {
		return err
	}
	items := make([]string, 0, len(failures)+len(stories))
	for _, id := range failures {
		items = append(items, itemFailure+id)
	}
	for _, id := range stories {
		items = append(items, itemLead+id)
	}
	stored := map[string][]storyFigure{}
	err = tx.queryIn(ctx, loadStoryFigures, items, func(rows *sql.Rows) error {
		var f storyFigure
		if err := rows.Scan(&f.item, &f.requires, &f.month, &f.team, &f.visibility); err != nil {
			return err
		}
		stored[f.item] = append(stored[f.item], f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load story figures: %w", err)
	}
	now := map[string][]storyFigure{}
	var values []any
	for _, f := range append(fresh, leads...) {
		now[f.item] = append(now[f.item], f)
		values = append(values, dbText(f.item), dbText(f.requires), f.month, dbText(f.team), dbText(f.visibility))
	}
	for _, item := range items {
		if !slices.Equal(stored[item], now[item]) {
			d.storyItem(stored[item], -1)
			d.storyItem(now[item], 1)
		}
	}
	if err := tx.replace(ctx, storyFigureTable, items, values); err != nil {
		return fmt.Errorf("write story figures: %w", err)
	}
	return nil
}

// buildStoryFigures computes the story figures of every failure and
// story, into a store whose figures are built anew.
func (p *Projection) buildStoryFigures(ctx context.Context, tx *batchTx, experimentIDs []string, d figureDeltas) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM story_figures"); err != nil {
		return fmt.Errorf("build story figures: %w", err)
	}
	rows, err := tx.tx.QueryContext(ctx, "SELECT id FROM stories ORDER BY id")
	if err != nil {
		return fmt.Errorf("build story figures: %w", err)
	}
	defer rows.Close()
	var stories []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("build story figures: %w", err)
		}
		stories = append(stories, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("build story figures: %w", err)
	}
	rows.Close()
	return p.updateStoryFigures(ctx, tx, experimentIDs, stories, d)
}

// tallyStoryEdges counts, for the part of a month in f's range, the
// failures concluded in it with a story v sees, and the leads' stories
// published in it that v sees, from their rows. The cells and
// story_figures count the same for whole months.
func (q *Queries) tallyStoryEdges(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	cond, args := where(v, f, "e", "concluded_at")
	vis, more := v.storyVisible()
	var failures []countRow
	query := "SELECT e.team, e.concluded_month AS month, COUNT(*) AS n FROM experiments e WHERE e.outcome = ? AND " + cond +
		" AND EXISTS (SELECT 1 FROM story_experiments se0 JOIN stories s ON s.id = se0.story_id" +
		" WHERE se0.experiment_id = e.id AND s.retracted = ? AND " + vis + ") GROUP BY e.team, e.concluded_month"
	args = append(append([]any{experiments.OutcomeFailed}, args...), append([]any{false}, more...)...)
	if err := q.db.SelectContext(ctx, &failures, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("count failures with stories: %w", err)
	}
	for _, r := range failures {
		for _, cl := range t.at(r.Month, r.Team) {
			cl.m.FailuresWithStories += r.N
		}
	}
	conds := []string{vis, "s.retracted = ?", "s.author_role = ?", "s.published_at >= ?", "s.published_at < ?"}
	args = append(more[:len(more):len(more)], false, string(experiments.RoleLead), dbTime(f.From), dbTime(f.To))
	if f.Team != "" {
		conds, args = append(conds, "s.team = ?"), append(args, f.Team)
	}
	var stories []struct {
		Team        string    `db:"team"`
		PublishedAt time.Time `db:"published_at"`
	}
	query = "SELECT s.team, s.published_at FROM stories s WHERE " + strings.Join(conds, " AND ")
	if err := q.db.SelectContext(ctx, &stories, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("count leads' stories: %w", err)
	}
	for _, s := range stories {
		for _, cl := range t.at(monthOf(s.PublishedAt), s.Team) {
			cl.m.StoriesByLeads++
		}
	}
	return nil
}
