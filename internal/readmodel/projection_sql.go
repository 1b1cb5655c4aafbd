package readmodel

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

type projectionTables struct {
	experiments, tags, edges, learnings, skills, innovations, links, history *tableSpec
}

func newProjectionTables() projectionTables {
	return projectionTables{
		experiments: newTableSpec("experiments", columnList(experimentColumns), "id"),
		tags:        newTableSpec("experiment_tags", []string{"experiment_id", "tag"}, "experiment_id"),
		edges:       newTableSpec("experiment_edges", []string{"experiment_id", "builds_on_id"}, ""),
		learnings:   newTableSpec("learnings", columnList(learningColumns), ""),
		skills:      newTableSpec("learning_skills", []string{"learning_id", "skill", "skill_key"}, ""),
		innovations: newTableSpec("innovations", columnList(innovationColumns), "id"),
		links:       newTableSpec("innovation_links", columnList(linkColumns), "innovation_id"),
		history:     newTableSpec("history", columnList(historyColumns), ""),
	}
}

func columnList(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// The load queries: each has one %s, for its IN list.
const (
	loadExperiments = "SELECT " + experimentColumns + " FROM experiments WHERE id IN (%s)"
	loadInnovations = "SELECT " + innovationColumns + " FROM innovations WHERE id IN (%s)"
	loadLinks       = "SELECT " + linkColumns + " FROM innovation_links WHERE innovation_id IN (%s)"
	loadLearningIDs = "SELECT id FROM learnings WHERE id IN (%s)"
)

// load reads the current rows of every aggregate the batch touches, with
// one query per table, and returns them as the batch's starting state.
func (p *Projection) load(ctx context.Context, tx *batchTx, decoded []decodedEvent) (*batch, error) {
	b := newBatch()
	expIDs, innIDs, learningIDs := touchedIDs(decoded)
	xs := newExperimentScan()
	err := tx.queryIn(ctx, loadExperiments, sortedKeys(expIDs), func(rows *sql.Rows) error {
		x, err := xs.scan(rows)
		if err != nil {
			return err
		}
		b.experiments[x.ID] = &x
		b.storedExperiments[x.ID] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load experiments: %w", err)
	}
	innovations := sortedKeys(innIDs)
	err = tx.queryIn(ctx, loadInnovations, innovations, func(rows *sql.Rows) error {
		n, err := scanInnovation(rows)
		if err != nil {
			return err
		}
		b.innovations[n.ID] = &n
		b.storedInnovations[n.ID] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load innovations: %w", err)
	}
	err = tx.queryIn(ctx, loadLinks, innovations, func(rows *sql.Rows) error {
		l, err := scanLink(rows)
		if err != nil {
			return err
		}
		k := linkKey{l.InnovationID, l.ExperimentID}
		b.links[k] = &l
		b.linksOf[k.innovation] = append(b.linksOf[k.innovation], k)
		b.storedLinks[k] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load innovation links: %w", err)
	}
	err = tx.queryIn(ctx, loadLearningIDs, sortedKeys(learningIDs), func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		b.knownLearnings[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load learning ids: %w", err)
	}
	if err := loadStories(ctx, tx, decoded, b.stories); err != nil {
		return nil, err
	}
	return b, nil
}

// touchedIDs returns the ids of the experiments, innovations and
// learnings the batch's events name: their own aggregates, the
// experiments links name (which the read model must know) and the new
// learnings' ids (which must not repeat one already stored).
func touchedIDs(decoded []decodedEvent) (expIDs, innIDs, learningIDs map[string]bool) {
	expIDs, innIDs, learningIDs = map[string]bool{}, map[string]bool{}, map[string]bool{}
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
		switch pl := d.payload.(type) {
		case *events.InnovationLinkedV1:
			expIDs[pl.ExperimentID] = true
		case *events.InnovationUnlinkedV1:
			expIDs[pl.ExperimentID] = true
		case *events.ExperimentLearningRecordedV1:
			learningIDs[pl.LearningID] = true
		}
	}
	return expIDs, innIDs, learningIDs
}

// write stores what the batch changed, a few statements per table: the
// stored version of every changed row is deleted, and every changed or
// new row inserted. No row is written twice in one batch.
func (p *Projection) write(ctx context.Context, tx *batchTx, b *batch) error {
	t := &p.tables
	// The experiments and history rows are the most values; one buffer of
	// that size serves every table.
	w := &batchWriter{tx: tx, t: t, b: b,
		rows: make([]any, 0, max(len(b.dirtyExperiments)*len(t.experiments.columns), len(b.history)*len(t.history.columns)))}
	var err error
	if w.backfill, err = readBackfill(ctx, tx); err != nil {
		return err
	}
	tx.backfill = w.backfill
	// The story versions follow the history, from which a backfill reads
	// them.
	for _, step := range []func(context.Context) error{
		w.experiments, w.tags, w.edges, w.learnings, w.innovations, w.links, w.stories, w.history,
		w.storyVersions, w.skillKeys,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// batchWriter writes one batch's rows, table by table, reusing one buffer
// of values.
type batchWriter struct {
	tx   *batchTx
	t    *projectionTables
	b    *batch
	rows []any
	// backfill names what read_model_backfill says is left to fill.
	backfill map[string]bool
}

func (w *batchWriter) experiments(ctx context.Context) error {
	return replaceChanged(ctx, w, w.t.experiments, w.b.dirtyExperiments, w.b.experiments, w.b.storedExperiments)
}

// replaceChanged writes the rows of an aggregate's table that the batch
// changed (dirty), deleting first those that were stored before.
func replaceChanged[R interface{ appendValues([]any) []any }](ctx context.Context, w *batchWriter, t *tableSpec,
	dirty map[string]bool, rows map[string]R, stored map[string]bool) error {
	w.rows = w.rows[:0]
	var stale []string
	for _, id := range sortedKeys(dirty) {
		w.rows = rows[id].appendValues(w.rows)
		if stored[id] {
			stale = append(stale, id)
		}
	}
	return w.tx.replace(ctx, t, stale, w.rows)
}

// tags replaces an experiment's tags whole when a registration or
// revision sets them; an experiment registered in this batch has none to
// clear.
func (w *batchWriter) tags(ctx context.Context) error {
	w.rows = w.rows[:0]
	var stale []string
	for _, id := range sortedKeys(w.b.retagged) {
		for _, tag := range distinct(w.b.experiments[id].Tags) {
			w.rows = append(w.rows, dbText(id), dbText(tag))
		}
		if w.b.storedExperiments[id] {
			stale = append(stale, id)
		}
	}
	return w.tx.replace(ctx, w.t.tags, stale, w.rows)
}

func (w *batchWriter) edges(ctx context.Context) error {
	w.rows = w.rows[:0]
	edges := slices.SortedFunc(maps.Keys(w.b.edges), func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(a.experiment, b.experiment), cmp.Compare(a.buildsOn, b.buildsOn))
	})
	for _, e := range edges {
		w.rows = append(w.rows, dbText(e.experiment), dbText(e.buildsOn))
	}
	return w.tx.insert(ctx, w.t.edges, w.rows)
}

func (w *batchWriter) learnings(ctx context.Context) error {
	w.rows = w.rows[:0]
	var skills []any
	for _, l := range w.b.learnings {
		w.rows = l.appendValues(w.rows)
		for _, s := range distinct(l.Skills) {
			skills = append(skills, dbText(l.ID), dbText(s), dbText(experiments.SkillKey(s)))
		}
	}
	if err := w.tx.insert(ctx, w.t.learnings, w.rows); err != nil {
		return err
	}
	return w.tx.insert(ctx, w.t.skills, skills)
}

func (w *batchWriter) innovations(ctx context.Context) error {
	return replaceChanged(ctx, w, w.t.innovations, w.b.dirtyInnovations, w.b.innovations, w.b.storedInnovations)
}

// links deletes and inserts links per innovation: every link of an
// innovation that had a stored link changed, since the batch holds them
// all (it loaded every link of the innovations it touches), and the new
// links of the others.
func (w *batchWriter) links(ctx context.Context) error {
	relinked := map[string]bool{}
	for k := range w.b.dirtyLinks {
		if w.b.storedLinks[k] {
			relinked[k.innovation] = true
		}
	}
	w.rows = w.rows[:0]
	links := slices.SortedFunc(maps.Keys(w.b.links), func(a, b linkKey) int {
		return cmp.Or(cmp.Compare(a.innovation, b.innovation), cmp.Compare(a.experiment, b.experiment))
	})
	for _, k := range links {
		if relinked[k.innovation] || w.b.dirtyLinks[k] {
			w.rows = w.b.links[k].appendValues(w.rows)
		}
	}
	return w.tx.replace(ctx, w.t.links, sortedKeys(relinked), w.rows)
}

func (w *batchWriter) history(ctx context.Context) error {
	w.rows = w.rows[:0]
	for i := range w.b.history {
		w.rows = w.b.history[i].appendValues(w.rows)
	}
	return w.tx.insert(ctx, w.t.history, w.rows)
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
