package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// ListInnovations returns the innovations of team, or of every team when
// team is empty, newest launched first. Innovations have no visibility of
// their own; their links to experiments v may not see are left out.
func (q *Queries) ListInnovations(ctx context.Context, v Viewer, team string) ([]experiments.Innovation, error) {
	where, args := "1 = 1", []any{}
	if team != "" {
		where, args = "i.team = ?", []any{team}
	}
	var rows []innovationRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+prefixed("i", innovationColumns)+
		" FROM innovations i WHERE "+where+" ORDER BY i.launched_at DESC, i.id DESC"), args...); err != nil {
		return nil, fmt.Errorf("list innovations: %w", err)
	}
	links, err := q.activeLinks(ctx, v, where, args)
	if err != nil {
		return nil, fmt.Errorf("list innovations: %w", err)
	}
	out := make([]experiments.Innovation, len(rows))
	for i := range rows {
		out[i] = rows[i].innovation()
		out[i].InformedBy = nonNil(links[rows[i].ID])
	}
	return out, nil
}

// GetInnovation returns one innovation with the active links to the
// experiments v may see.
func (q *Queries) GetInnovation(ctx context.Context, v Viewer, id string) (experiments.Innovation, error) {
	r, err := q.innovationRow(ctx, id)
	if err != nil {
		return experiments.Innovation{}, err
	}
	links, err := q.activeLinks(ctx, v, "i.id = ?", []any{id})
	if err != nil {
		return experiments.Innovation{}, fmt.Errorf("get innovation %s: %w", id, err)
	}
	n := r.innovation()
	n.InformedBy = nonNil(links[id])
	return n, nil
}

func (q *Queries) innovationRow(ctx context.Context, id string) (innovationRow, error) {
	var r innovationRow
	err := q.db.GetContext(ctx, &r, q.db.Rebind("SELECT "+innovationColumns+" FROM innovations WHERE id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return innovationRow{}, fmt.Errorf("innovation %s: %w", id, experiments.ErrNotFound)
	}
	if err != nil {
		return innovationRow{}, fmt.Errorf("load innovation %s: %w", id, err)
	}
	return r, nil
}

// activeLinks returns the active links, to experiments v may see, of the
// innovations (aliased i) that match where, by innovation id, in the
// order they were linked.
func (q *Queries) activeLinks(ctx context.Context, v Viewer, where string, args []any) (map[string][]experiments.Link, error) {
	vis, visArgs := v.visible("e")
	var rows []struct {
		InnovationID string    `db:"innovation_id"`
		ExperimentID string    `db:"experiment_id"`
		Note         string    `db:"note"`
		LinkedAt     time.Time `db:"linked_at"`
	}
	query := "SELECT l.innovation_id, l.experiment_id, l.note, l.linked_at FROM innovation_links l" +
		" JOIN innovations i ON i.id = l.innovation_id JOIN experiments e ON e.id = l.experiment_id" +
		" WHERE l.active AND " + where + " AND " + vis + " ORDER BY l.innovation_id, l.linked_at, l.experiment_id"
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), append(append([]any{}, args...), visArgs...)...); err != nil {
		return nil, fmt.Errorf("load innovation links: %w", err)
	}
	out := map[string][]experiments.Link{}
	for _, r := range rows {
		out[r.InnovationID] = append(out[r.InnovationID], experiments.Link{
			ExperimentID: r.ExperimentID, Note: r.Note, LinkedAt: r.LinkedAt.UTC()})
	}
	return out, nil
}
