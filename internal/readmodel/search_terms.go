package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// The search index the queries rank by (migration 0012): a row per
// distinct term of each search document, with the term's weight in the
// document and the document's sort key. The projection writes a
// document's rows with the document, in the same batch, and replaces them
// whole when the document changes.
var termTables = struct{ experiments, learnings *tableSpec }{
	experiments: newTableSpec("experiment_terms", []string{"experiment_id", "term", "weight", "sort_key"}, "experiment_id"),
	learnings:   newTableSpec("learning_terms", []string{"learning_id", "term", "weight", "sort_key"}, ""),
}

// The weight of one occurrence of a term in each field of a document.
const (
	titleWeight      = 10
	hypothesisWeight = 4
	summaryWeight    = 2
	learningsWeight  = 1
	textWeight       = 10
	skillsWeight     = 4
)

// backfillSearchTerms is what read_model_backfill names for a read store
// migrated to migration 0012 with search documents in it.
const backfillSearchTerms = "search_terms"

// weightedField is a field of a search document, as the projection
// writes it (tokens joined by spaces), and the weight of its terms.
type weightedField struct {
	text   string
	weight int64
}

// termWeights returns each distinct term of fields with the sum of its
// occurrences' weights.
func termWeights(fields []weightedField) map[string]int64 {
	weights := map[string]int64{}
	for _, f := range fields {
		for t := range strings.FieldsSeq(f.text) {
			weights[t] += f.weight
		}
	}
	return weights
}

// appendTerms appends the index rows of one document, in term order.
func appendTerms(rows []any, id string, sortKey int64, fields ...weightedField) []any {
	weights := termWeights(fields)
	id = dbText(id)
	for _, t := range sortedKeys(weights) {
		rows = append(rows, id, t, weights[t], sortKey)
	}
	return rows
}

// experimentSortKey is an experiment's sort key in the index: its
// registration time in microseconds, as stored.
func experimentSortKey(registeredAt time.Time) int64 { return dbTime(registeredAt).UnixMicro() }

func experimentFields(title, hypothesis, summary, learnings string) []weightedField {
	return []weightedField{{title, titleWeight}, {hypothesis, hypothesisWeight}, {summary, summaryWeight}, {learnings, learningsWeight}}
}

// termDoc is an experiment's search document as its index rows come
// from it, and the weights of the rows stored for it before the batch
// (nil for a new document).
type termDoc struct {
	id      string
	sortKey int64
	fields  []weightedField
	stored  map[string]int64
}

// storedDocFields returns the fields of a stored search document as its
// index rows were written from them. They are tokenized again, as the
// backfill does with documents a migration wrote (backfillTerms); the
// projection's own documents are tokenized already, and tokenizing
// their text again leaves it as it is (TestSearchTextIsStable).
func storedDocFields(title, hypothesis, summary, learnings string) []weightedField {
	return experimentFields(searchText(title, maxFieldRunes), searchText(hypothesis, maxFieldRunes),
		searchText(summary, maxFieldRunes), searchText(learnings, maxLearningsRunes))
}

// writeExperimentTerms writes the index rows of docs: it deletes the rows
// that changed or went and inserts those that changed or came. The
// stored rows are known from the stored documents, which the batch reads
// anyway, rather than read. A document mostly gains a few terms (a
// summary, a learning), so this writes much less than replacing its rows
// whole. An experiment's sort key, its registration time, never changes.
func writeExperimentTerms(ctx context.Context, tx *batchTx, docs []termDoc) error {
	var gone, rows []any
	for _, d := range docs {
		weights := termWeights(d.fields)
		for _, term := range sortedKeys(d.stored) {
			if w, ok := weights[term]; !ok || w != d.stored[term] {
				gone = append(gone, d.id, term)
			}
		}
		for _, term := range sortedKeys(weights) {
			if w, ok := d.stored[term]; !ok || w != weights[term] {
				rows = append(rows, d.id, term, weights[term], d.sortKey)
			}
		}
	}
	if err := deleteTerms(ctx, tx, gone); err != nil {
		return err
	}
	return tx.insert(ctx, termTables.experiments, rows)
}

// termsPerDelete bounds the (experiment_id, term) pairs of one DELETE.
const termsPerDelete = 1000

// deleteTerms deletes the experiment_terms rows of pairs (an id, then a
// term, for each row), a chunk at a time.
func deleteTerms(ctx context.Context, tx *batchTx, pairs []any) error {
	for chunk := range slices.Chunk(pairs, 2*termsPerDelete) {
		n := len(chunk) / 2
		values := strings.Repeat("(?, ?), ", n-1) + "(?, ?)"
		// By key, never through the rank index (see scoreAll). Postgres
		// looks each pair up in the key's index by both columns; SQLite
		// scans the rank index for a row-value IN of its own, so it is
		// given the ids for the key's first column, and the pairs to
		// filter by.
		query := "DELETE FROM experiment_terms WHERE (experiment_id, term) IN (VALUES " + values + ")"
		args := chunk
		if tx.dialect != readstore.Postgres {
			query = "DELETE FROM experiment_terms WHERE experiment_id IN (" + placeholders(n) + ")" +
				" AND (experiment_id, term || '') IN (VALUES " + values + ")"
			args = make([]any, 0, 3*n)
			for i := range n {
				args = append(args, chunk[2*i])
			}
			args = append(args, chunk...)
		}
		if _, err := tx.tx.ExecContext(ctx, tx.tx.Rebind(query), args...); err != nil {
			return err
		}
	}
	return nil
}

// appendLearningTerms appends the index rows of a learning: its text and
// skills tokenized as search documents are, its position as sort key.
func appendLearningTerms(rows []any, l *learningRow) []any {
	text, skills := searchText(l.Text, maxFieldRunes), searchText(strings.Join(l.Skills, " "), maxSkillsRunes)
	return appendTerms(rows, l.ID, int64(l.Position), weightedField{text, textWeight}, weightedField{skills, skillsWeight})
}

// Every search document, to build the index from.
const (
	loadAllExperimentDocs = "SELECT s.experiment_id, e.registered_at, s.title, s.hypothesis, s.summary, s.learnings" +
		" FROM experiment_search s JOIN experiments e ON e.id = s.experiment_id ORDER BY s.experiment_id"
	loadAllLearnings = "SELECT id, position, text, skills FROM learnings ORDER BY id"
)

// termsBackfillRows is how many documents' rows a backfill writes at once.
const termsBackfillRows = 20000

// backfillTerms builds the whole index from the experiments' search
// documents and from the learnings, in a read store migrated with them
// in it; it runs once, after the batch wrote its own.
func backfillTerms(ctx context.Context, tx *batchTx, b *batch) error {
	if !tx.backfill[backfillSearchTerms] {
		return nil
	}
	for _, t := range []string{"experiment_terms", "learning_terms"} {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return fmt.Errorf("backfill search terms: %w", err)
		}
	}
	var rows []any
	flush := func(t *tableSpec, force bool) error {
		if len(rows) < termsBackfillRows*len(t.columns) && !force {
			return nil
		}
		err := tx.insert(ctx, t, rows)
		rows = rows[:0]
		return err
	}
	if err := backfillExperimentTerms(ctx, tx, &rows, flush); err != nil {
		return fmt.Errorf("backfill search terms: %w", err)
	}
	if err := backfillLearningTerms(ctx, tx, &rows, flush); err != nil {
		return fmt.Errorf("backfill search terms: %w", err)
	}
	return backfilled(ctx, tx, backfillSearchTerms)
}

func backfillExperimentTerms(ctx context.Context, tx *batchTx, rows *[]any, flush func(*tableSpec, bool) error) error {
	// The documents are read whole before any row is written: a read
	// store's transaction takes one statement at a time.
	type doc struct {
		id                                    string
		at                                    time.Time
		title, hypothesis, summary, learnings string
	}
	var docs []doc
	r, err := tx.tx.QueryContext(ctx, loadAllExperimentDocs)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		var d doc
		if err := r.Scan(&d.id, &d.at, &d.title, &d.hypothesis, &d.summary, &d.learnings); err != nil {
			return err
		}
		docs = append(docs, d)
	}
	if err := r.Close(); err != nil {
		return err
	}
	for _, d := range docs {
		// Documents a migration backfilled may hold their text as it was
		// written (migration 0005 on SQLite): tokenized again, they are as
		// the projection writes them.
		*rows = appendTerms(*rows, d.id, experimentSortKey(d.at), storedDocFields(d.title, d.hypothesis, d.summary, d.learnings)...)
		if err := flush(termTables.experiments, false); err != nil {
			return err
		}
	}
	return flush(termTables.experiments, true)
}

func backfillLearningTerms(ctx context.Context, tx *batchTx, rows *[]any, flush func(*tableSpec, bool) error) error {
	var learnings []learningRow
	r, err := tx.tx.QueryContext(ctx, loadAllLearnings)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		var l learningRow
		var position int64
		if err := r.Scan(&l.ID, &position, &l.Text, &l.Skills); err != nil {
			return err
		}
		l.Position = uint64(position)
		learnings = append(learnings, l)
	}
	if err := r.Close(); err != nil {
		return err
	}
	for i := range learnings {
		*rows = appendLearningTerms(*rows, &learnings[i])
		if err := flush(termTables.learnings, false); err != nil {
			return err
		}
	}
	return flush(termTables.learnings, true)
}
