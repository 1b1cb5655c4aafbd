package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
)

// StoryFilter narrows Stories. Empty fields do not filter.
type StoryFilter struct {
	// Team is the story's team.
	Team string
	// ByLeads keeps the stories whose author was a lead when they told it.
	ByLeads bool
	// Skill keeps the stories about an experiment with a learning that
	// names the skill, compared by experiments.SkillKey. An unknown skill
	// matches nothing, and a blank one does not filter.
	Skill string
	// ExperimentID keeps the stories about that experiment.
	ExperimentID string
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
}

// StoryPage is one page of the stories feed, newest published first.
type StoryPage struct {
	Items      []experiments.Story `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

// storyVisible returns the SQL condition, on the stories table aliased
// s, that holds for the stories v may see: the story's own team and
// visibility, as for experiments, and every experiment it is about
// visible to v too. The domain caps a story's visibility at its
// experiments', but an experiment may have become team-only after the
// story was told; a story must not tell a reader of an experiment they
// may not see. A reader who sees everything sees every story.
func (v Viewer) storyVisible() (string, []any) {
	own, args := v.visible("s")
	if v.All {
		return own, args
	}
	vis, more := v.visible("e")
	return own + " AND NOT EXISTS (SELECT 1 FROM story_experiments se WHERE se.story_id = s.id AND NOT EXISTS (" +
		"SELECT 1 FROM experiments e WHERE e.id = se.experiment_id AND " + vis + "))", append(args, more...)
}

// Stories returns a page of the stories v may see that match f, newest
// published first, paged by keyset on (published_at, id). Retracted
// stories are never in it.
func (q *Queries) Stories(ctx context.Context, v Viewer, f StoryFilter) (StoryPage, error) {
	vis, args := v.storyVisible()
	where := []string{"s.retracted = ?", vis}
	args = append([]any{false}, args...)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Team != "" {
		add("s.team = ?", f.Team)
	}
	if f.ByLeads {
		add("s.author_role = ?", string(experiments.RoleLead))
	}
	if f.ExperimentID != "" {
		add("EXISTS (SELECT 1 FROM story_experiments sx WHERE sx.story_id = s.id AND sx.experiment_id = ?)", f.ExperimentID)
	}
	if key := experiments.SkillKey(f.Skill); key != "" {
		add("EXISTS (SELECT 1 FROM story_experiments sk JOIN learnings l ON l.experiment_id = sk.experiment_id"+
			" JOIN learning_skills ls ON ls.learning_id = l.id WHERE sk.story_id = s.id AND ls.skill_key = ?)", key)
	}
	if f.Cursor != "" {
		k, err := decodeCursor(f.Cursor)
		if err != nil {
			return StoryPage{}, fmt.Errorf("list stories: %w", err)
		}
		at := dbTime(k.RegisteredAt)
		add("(s.published_at < ? OR (s.published_at = ? AND s.id < ?))", at, at, k.ID)
	}
	limit := clampLimit(f.Limit)
	query := "SELECT " + prefixed("s", storyColumns) + " FROM stories s WHERE " + strings.Join(where, " AND ") +
		" ORDER BY s.published_at DESC, s.id DESC LIMIT ?"
	var rows []storyRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), append(args, limit+1)...); err != nil {
		return StoryPage{}, fmt.Errorf("list stories: %w", err)
	}
	page := StoryPage{Items: make([]experiments.Story, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.NextCursor = encodeCursor(pageKey{RegisteredAt: last.PublishedAt.UTC(), ID: last.ID})
	}
	for i := range rows {
		page.Items = append(page.Items, rows[i].story(nil))
	}
	return page, nil
}

// Story returns one story that v may see. A retracted story is not
// found, for everyone, its author and admins included: it has left every
// page, and only the event stream still holds it.
func (q *Queries) Story(ctx context.Context, v Viewer, id string) (experiments.Story, error) {
	vis, args := v.storyVisible()
	var r storyRow
	err := q.db.GetContext(ctx, &r, q.db.Rebind("SELECT "+prefixed("s", storyColumns)+
		" FROM stories s WHERE s.id = ? AND s.retracted = ? AND "+vis), append([]any{id, false}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return experiments.Story{}, fmt.Errorf("story %s: %w", id, experiments.ErrNotFound)
	}
	if err != nil {
		return experiments.Story{}, fmt.Errorf("load story %s: %w", id, err)
	}
	r.PublishedAt = r.PublishedAt.UTC()
	return r.story(nil), nil
}

// StoryHelped reports whether actor has marked story id helpful, for a
// page to show it (and not offer the mark again). It does not check
// visibility: callers ask about a story they have read.
func (q *Queries) StoryHelped(ctx context.Context, id, actor string) (bool, error) {
	var n int
	err := q.db.GetContext(ctx, &n, q.db.Rebind("SELECT count(*) FROM story_helped WHERE story_id = ? AND actor = ?"), id, actor)
	if err != nil {
		return false, fmt.Errorf("read marks of story %s: %w", id, err)
	}
	return n > 0, nil
}

// StoryAccess returns, for those of ids that are stories in the read
// models, whether v may see each (as Story decides, retracted or not); an
// id it does not know is not in the map. It is for deciding, outside a
// query, who may see a story's events on the event stream.
func (q *Queries) StoryAccess(ctx context.Context, v Viewer, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	vis, args := v.storyVisible()
	type row struct {
		ID      string `db:"id"`
		Visible bool   `db:"visible"`
	}
	rows, err := selectIn[row](ctx, q.db, "SELECT s.id, CASE WHEN "+vis+" THEN 1 ELSE 0 END AS visible"+
		" FROM stories s WHERE s.id IN (%s)", slices.Compact(slices.Sorted(slices.Values(ids))), args...)
	if err != nil {
		return nil, fmt.Errorf("read visibility of stories: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Visible
	}
	return out, nil
}

// Stories is Queries.Stories, retried.
func (r *Retrying) Stories(ctx context.Context, v Viewer, f StoryFilter) (StoryPage, error) {
	return retry(ctx, func() (StoryPage, error) { return r.q.Stories(ctx, v, f) })
}

// Story is Queries.Story, retried.
func (r *Retrying) Story(ctx context.Context, v Viewer, id string) (experiments.Story, error) {
	return retry(ctx, func() (experiments.Story, error) { return r.q.Story(ctx, v, id) })
}

// StoryHelped is Queries.StoryHelped, retried.
func (r *Retrying) StoryHelped(ctx context.Context, id, actor string) (bool, error) {
	return retry(ctx, func() (bool, error) { return r.q.StoryHelped(ctx, id, actor) })
}

// StoryAccess is Queries.StoryAccess, retried.
func (r *Retrying) StoryAccess(ctx context.Context, v Viewer, ids []string) (map[string]bool, error) {
	return retry(ctx, func() (map[string]bool, error) { return r.q.StoryAccess(ctx, v, ids) })
}
