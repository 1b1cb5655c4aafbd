package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/failforward/failforward/internal/events"
)

// The search documents of experiments, as the projection writes them:
// experiment_search, on both stores, which each store indexes itself for
// SimilarExperiments (FTS5 through triggers, Postgres through a generated
// tsvector column), so the projection writes plain rows, like every other
// table's. The term index (search_terms.go) is written beside them, and a
// learning has its terms there alone.
var experimentDocs = newTableSpec("experiment_search",
	[]string{"doc_id", "experiment_id", "title", "hypothesis", "summary", "learnings"}, "experiment_id")

// loadSearchDocs has one %s, for its IN list.
const loadSearchDocs = "SELECT experiment_id, doc_id, title, hypothesis, summary, learnings FROM experiment_search WHERE experiment_id IN (%s)"

// writeIndexed writes the batch, then the search documents it changed,
// in the same transaction: a search never sees an experiment's rows
// without its document, or the other way round.
func (p *Projection) writeIndexed(ctx context.Context, tx *batchTx, b *batch) error {
	if err := p.write(ctx, tx, b); err != nil {
		return err
	}
	if err := writeLearningDocs(ctx, tx, b); err != nil {
		return err
	}
	if err := writeExperimentDocs(ctx, tx, b); err != nil {
		return err
	}
	return backfillTerms(ctx, tx, b)
}

// writeLearningDocs indexes the terms of every learning the batch
// recorded. Learnings never change, and their visibility is their
// experiment's, which the queries check.
func writeLearningDocs(ctx context.Context, tx *batchTx, b *batch) error {
	var terms []any
	for _, l := range b.learnings {
		terms = appendLearningTerms(terms, l)
	}
	if err := tx.insert(ctx, termTables.learnings, terms); err != nil {
		return fmt.Errorf("index learnings: %w", err)
	}
	return nil
}

// textEvents are the events that change the text an experiment is found
// by; the others leave its document as it is.
var textEvents = map[string]bool{
	events.ExperimentRegistered: true, events.ExperimentRevised: true,
	events.ExperimentConcluded: true, events.ExperimentLearningRecorded: true,
}

// writeExperimentDocs replaces the document of every experiment whose
// text the batch changed. A document's learnings are the stored
// document's followed by the batch's, in stream order; its doc_id is the
// position of the experiment's registration.
func writeExperimentDocs(ctx context.Context, tx *batchTx, b *batch) error {
	changed := map[string]bool{}
	docIDs := map[string]int64{}
	for _, h := range b.history {
		name, _, err := events.ParseType(h.EventType)
		if err != nil || !textEvents[name] {
			continue
		}
		changed[h.AggregateID] = true
		if name == events.ExperimentRegistered {
			docIDs[h.AggregateID] = int64(h.Position)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	ids := sortedKeys(changed)
	learned := map[string][]string{}
	storedTerms := map[string]map[string]int64{}
	var stored []string
	for _, id := range ids {
		if b.storedExperiments[id] {
			stored = append(stored, id)
		}
	}
	err := tx.queryIn(ctx, loadSearchDocs, stored, func(rows *sql.Rows) error {
		var id, title, hypothesis, summary, text string
		var docID int64
		if err := rows.Scan(&id, &docID, &title, &hypothesis, &summary, &text); err != nil {
			return err
		}
		docIDs[id] = docID
		if text != "" {
			learned[id] = append(learned[id], text)
		}
		storedTerms[id] = termWeights(storedDocFields(title, hypothesis, summary, text))
		return nil
	})
	if err != nil {
		return fmt.Errorf("load search documents: %w", err)
	}
	for _, l := range b.learnings {
		if t := searchText(l.Text, maxFieldRunes); t != "" {
			learned[l.ExperimentID] = append(learned[l.ExperimentID], t)
		}
	}
	rows := make([]any, 0, len(ids)*len(experimentDocs.columns))
	docs := make([]termDoc, len(ids))
	for i, id := range ids {
		x := b.experiments[id]
		title, hypothesis := searchText(x.Title, maxFieldRunes), searchText(x.Hypothesis, maxFieldRunes)
		summary, learnings := searchText(x.Summary, maxFieldRunes), searchText(strings.Join(learned[id], " "), maxLearningsRunes)
		rows = append(rows, docIDs[id], dbText(id), title, hypothesis, summary, learnings)
		docs[i] = termDoc{id: dbText(id), sortKey: experimentSortKey(x.RegisteredAt),
			fields: experimentFields(title, hypothesis, summary, learnings), stored: storedTerms[dbText(id)]}
	}
	if err := tx.replace(ctx, experimentDocs, stored, rows); err != nil {
		return fmt.Errorf("index experiments: %w", err)
	}
	if tx.backfill[backfillSearchTerms] {
		return nil // backfillTerms writes every document's terms
	}
	if err := writeExperimentTerms(ctx, tx, docs); err != nil {
		return fmt.Errorf("index experiments' terms: %w", err)
	}
	return nil
}
