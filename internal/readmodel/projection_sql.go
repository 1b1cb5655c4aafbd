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
		skills:      newTableSpec("learning_skills", []string{"learning_id", "skill"}, ""),
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
	return b, nil
}

// write stores what the batch changed, a few statements per table: the
// stored version of every changed row is deleted, and every changed or
// new row inserted. No row is written twice in one batch.
func (p *Projection) write(ctx context.Context, tx *batchTx, b *batch) error {
	t := p.tables
	// The experiments and history rows are the most values; one buffer of
	// that size serves every table.
	rows := make([]any, 0, max(len(b.dirtyExperiments)*len(t.experiments.columns), len(b.history)*len(t.history.columns)))
	var stale []string
	for _, id := range sortedKeys(b.dirtyExperiments) {
		rows = b.experiments[id].appendValues(rows)
		if b.storedExperiments[id] {
			stale = append(stale, id)
		}
	}
	if err := tx.replace(ctx, t.experiments, stale, rows); err != nil {
		return err
	}

	// Tags are replaced whole when a registration or revision sets them;
	// an experiment registered in this batch has none to clear.
	rows, stale = rows[:0], stale[:0]
	for _, id := range sortedKeys(b.retagged) {
		for _, tag := range distinct(b.experiments[id].Tags) {
			rows = append(rows, dbText(id), dbText(tag))
		}
		if b.storedExperiments[id] {
			stale = append(stale, id)
		}
	}
	if err := tx.replace(ctx, t.tags, stale, rows); err != nil {
		return err
	}

	rows = rows[:0]
	edges := slices.SortedFunc(maps.Keys(b.edges), func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(a.experiment, b.experiment), cmp.Compare(a.buildsOn, b.buildsOn))
	})
	for _, e := range edges {
		rows = append(rows, dbText(e.experiment), dbText(e.buildsOn))
	}
	if err := tx.insert(ctx, t.edges, rows); err != nil {
		return err
	}

	rows = rows[:0]
	var skills []any
	for _, l := range b.learnings {
		rows = l.appendValues(rows)
		for _, s := range distinct(l.Skills) {
			skills = append(skills, dbText(l.ID), dbText(s))
		}
	}
	if err := tx.insert(ctx, t.learnings, rows); err != nil {
		return err
	}
	if err := tx.insert(ctx, t.skills, skills); err != nil {
		return err
	}

	rows, stale = rows[:0], stale[:0]
	for _, id := range sortedKeys(b.dirtyInnovations) {
		rows = b.innovations[id].appendValues(rows)
		if b.storedInnovations[id] {
			stale = append(stale, id)
		}
	}
	if err := tx.replace(ctx, t.innovations, stale, rows); err != nil {
		return err
	}

	// Links are deleted and inserted per innovation: every link of an
	// innovation that had a stored link changed, since the batch holds
	// them all (it loaded every link of the innovations it touches), and
	// the new links of the others.
	relinked := map[string]bool{}
	for k := range b.dirtyLinks {
		if b.storedLinks[k] {
			relinked[k.innovation] = true
		}
	}
	rows = rows[:0]
	links := slices.SortedFunc(maps.Keys(b.links), func(a, b linkKey) int {
		return cmp.Or(cmp.Compare(a.innovation, b.innovation), cmp.Compare(a.experiment, b.experiment))
	})
	for _, k := range links {
		if relinked[k.innovation] || b.dirtyLinks[k] {
			rows = b.links[k].appendValues(rows)
		}
	}
	if err := tx.replace(ctx, t.links, sortedKeys(relinked), rows); err != nil {
		return err
	}

	rows = rows[:0]
	for i := range b.history {
		rows = b.history[i].appendValues(rows)
	}
	return tx.insert(ctx, t.history, rows)
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
