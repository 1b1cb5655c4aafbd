package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/failforward/failforward/internal/events"
)

// maxParams bounds the bind parameters of one statement. SQLite allows
// 32,766 and Postgres 65,535; one limit under both keeps the SQL the same.
const maxParams = 30000

// tableSpec describes how the projection writes one table: one multi-row
// INSERT … ON CONFLICT per chunk of rows. Tables whose rows never change
// once written (history, learnings, link tables) do nothing on conflict;
// the others overwrite every non-key column with the folded row.
type tableSpec struct {
	name    string
	columns []string
	key     []string
	update  bool
}

type projectionTables struct {
	experiments, tags, edges, learnings, skills, innovations, links, history tableSpec
}

func newProjectionTables() projectionTables {
	return projectionTables{
		experiments: tableSpec{"experiments", columnList(experimentColumns), []string{"id"}, true},
		tags:        tableSpec{"experiment_tags", []string{"experiment_id", "tag"}, []string{"tag", "experiment_id"}, false},
		edges:       tableSpec{"experiment_edges", []string{"experiment_id", "builds_on_id"}, []string{"experiment_id", "builds_on_id"}, false},
		learnings:   tableSpec{"learnings", columnList(learningColumns), []string{"id"}, false},
		skills:      tableSpec{"learning_skills", []string{"learning_id", "skill"}, []string{"skill", "learning_id"}, false},
		innovations: tableSpec{"innovations", columnList(innovationColumns), []string{"id"}, true},
		links:       tableSpec{"innovation_links", columnList(linkColumns), []string{"innovation_id", "experiment_id"}, true},
		history:     tableSpec{"history", columnList(historyColumns), []string{"position"}, false},
	}
}

func columnList(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// load reads the current rows of every aggregate the batch touches, with
// one query per table, and returns them as the batch's starting state.
func (p *Projection) load(ctx context.Context, tx *sqlx.Tx, decoded []decodedEvent) (*batch, error) {
	b := newBatch()
	expIDs, innIDs, learningIDs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range decoded {
		if d.skip != "" {
			continue
		}
		switch {
		case strings.HasPrefix(d.name, "experiment."):
			expIDs[d.ev.Subject] = true
		case strings.HasPrefix(d.name, "innovation."):
			innIDs[d.ev.Subject] = true
		}
		// Links must name an experiment the read model knows, and a
		// learning id must not repeat one already stored.
		switch pl := d.payload.(type) {
		case *events.InnovationLinkedV1:
			expIDs[pl.ExperimentID] = true
		case *events.InnovationUnlinkedV1:
			expIDs[pl.ExperimentID] = true
		case *events.ExperimentLearningRecordedV1:
			learningIDs[pl.LearningID] = true
		}
	}

	xs, err := selectIn[experimentRow](ctx, tx, "SELECT "+experimentColumns+" FROM experiments WHERE id IN (%s)", sortedKeys(expIDs))
	if err != nil {
		return nil, fmt.Errorf("load experiments: %w", err)
	}
	for i := range xs {
		xs[i].normalize()
		b.experiments[xs[i].ID] = &xs[i]
	}
	ns, err := selectIn[innovationRow](ctx, tx, "SELECT "+innovationColumns+" FROM innovations WHERE id IN (%s)", sortedKeys(innIDs))
	if err != nil {
		return nil, fmt.Errorf("load innovations: %w", err)
	}
	for i := range ns {
		b.innovations[ns[i].ID] = &ns[i]
	}
	ls, err := selectIn[linkRow](ctx, tx, "SELECT "+linkColumns+" FROM innovation_links WHERE innovation_id IN (%s)", sortedKeys(innIDs))
	if err != nil {
		return nil, fmt.Errorf("load innovation links: %w", err)
	}
	for i := range ls {
		b.links[linkKey{ls[i].InnovationID, ls[i].ExperimentID}] = &ls[i]
	}
	known, err := selectIn[string](ctx, tx, "SELECT id FROM learnings WHERE id IN (%s)", sortedKeys(learningIDs))
	if err != nil {
		return nil, fmt.Errorf("load learning ids: %w", err)
	}
	for _, id := range known {
		b.knownLearnings[id] = true
	}
	return b, nil
}

// write stores what the batch changed, a few statements per table.
func (p *Projection) write(ctx context.Context, tx *sqlx.Tx, b *batch) error {
	t := p.tables
	var rows [][]any
	for _, id := range sortedKeys(b.dirtyExperiments) {
		rows = append(rows, b.experiments[id].values())
	}
	if err := upsert(ctx, tx, t.experiments, rows); err != nil {
		return err
	}

	// Tags are replaced whole when a registration or revision sets them.
	retagged := sortedKeys(b.retagged)
	if err := execIn(ctx, tx, "DELETE FROM experiment_tags WHERE experiment_id IN (%s)", retagged); err != nil {
		return fmt.Errorf("clear experiment tags: %w", err)
	}
	rows = rows[:0]
	for _, id := range retagged {
		for _, tag := range distinct(b.experiments[id].Tags) {
			rows = append(rows, []any{id, tag})
		}
	}
	if err := upsert(ctx, tx, t.tags, rows); err != nil {
		return err
	}

	rows = rows[:0]
	edges := slices.SortedFunc(maps.Keys(b.edges), func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(a.experiment, b.experiment), cmp.Compare(a.buildsOn, b.buildsOn))
	})
	for _, e := range edges {
		rows = append(rows, []any{e.experiment, e.buildsOn})
	}
	if err := upsert(ctx, tx, t.edges, rows); err != nil {
		return err
	}

	rows = rows[:0]
	var skills [][]any
	for _, l := range b.learnings {
		rows = append(rows, l.values())
		for _, s := range distinct(l.Skills) {
			skills = append(skills, []any{l.ID, s})
		}
	}
	if err := upsert(ctx, tx, t.learnings, rows); err != nil {
		return err
	}
	if err := upsert(ctx, tx, t.skills, skills); err != nil {
		return err
	}

	rows = rows[:0]
	for _, id := range sortedKeys(b.dirtyInnovations) {
		rows = append(rows, b.innovations[id].values())
	}
	if err := upsert(ctx, tx, t.innovations, rows); err != nil {
		return err
	}

	rows = rows[:0]
	links := slices.SortedFunc(maps.Keys(b.dirtyLinks), func(a, b linkKey) int {
		return cmp.Or(cmp.Compare(a.innovation, b.innovation), cmp.Compare(a.experiment, b.experiment))
	})
	for _, k := range links {
		rows = append(rows, b.links[k].values())
	}
	if err := upsert(ctx, tx, t.links, rows); err != nil {
		return err
	}

	rows = rows[:0]
	for i := range b.history {
		rows = append(rows, b.history[i].values())
	}
	return upsert(ctx, tx, t.history, rows)
}

// upsert writes rows to t with one multi-row INSERT … ON CONFLICT per
// chunk. Callers never pass the same key twice: Postgres rejects a
// statement that would update one row twice.
func upsert(ctx context.Context, tx *sqlx.Tx, t tableSpec, rows [][]any) error {
	per := maxParams / len(t.columns)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		args := make([]any, 0, len(chunk)*len(t.columns))
		for _, r := range chunk {
			for _, v := range r {
				if s, ok := v.(string); ok {
					v = dbText(s)
				}
				args = append(args, v)
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(upsertSQL(t, len(chunk))), args...); err != nil {
			return fmt.Errorf("write %d rows of %s: %w", len(chunk), t.name, err)
		}
	}
	return nil
}

func upsertSQL(t tableSpec, rows int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(t.name)
	sb.WriteString(" (")
	sb.WriteString(strings.Join(t.columns, ", "))
	sb.WriteString(") VALUES ")
	tuple := "(" + strings.Repeat("?, ", len(t.columns)-1) + "?)"
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
	}
	sb.WriteString(" ON CONFLICT (")
	sb.WriteString(strings.Join(t.key, ", "))
	sb.WriteString(")")
	if !t.update {
		sb.WriteString(" DO NOTHING")
		return sb.String()
	}
	sb.WriteString(" DO UPDATE SET ")
	first := true
	for _, c := range t.columns {
		if slices.Contains(t.key, c) {
			continue
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		sb.WriteString(c + " = excluded." + c)
	}
	return sb.String()
}

// selectIn runs query once per chunk of ids, with the chunk's placeholders
// in place of its one %s, after args. The IN list must be the query's
// last placeholder; results of several chunks are concatenated, so a
// caller that needs an order across chunks sorts them itself.
func selectIn[T any](ctx context.Context, q sqlx.ExtContext, query string, ids []string, args ...any) ([]T, error) {
	var out []T
	per := maxParams - len(args)
	for start := 0; start < len(ids); start += per {
		chunk := ids[start:min(start+per, len(ids))]
		a := append(slices.Clip(args), anys(chunk)...)
		var part []T
		if err := sqlx.SelectContext(ctx, q, &part, q.Rebind(fmt.Sprintf(query, placeholders(len(chunk)))), a...); err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

// execIn is selectIn for statements that return no rows.
func execIn(ctx context.Context, q sqlx.ExtContext, query string, ids []string, args ...any) error {
	per := maxParams - len(args)
	for start := 0; start < len(ids); start += per {
		chunk := ids[start:min(start+per, len(ids))]
		a := append(slices.Clip(args), anys(chunk)...)
		if _, err := q.ExecContext(ctx, q.Rebind(fmt.Sprintf(query, placeholders(len(chunk)))), a...); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// distinct returns the non-empty values of s once each, in first-seen
// order: a list may name a tag or skill twice, its table cannot.
func distinct(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
