package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// upsertFigures adds each row's n to figure_counts, creating the rows
// that are not there. Both read stores take ON CONFLICT … DO UPDATE with
// excluded; the rows of one statement have distinct keys, as Postgres
// requires.
const upsertFigures = "INSERT INTO figure_counts (month, team, visibility, figure, detail, n) VALUES %s" +
	" ON CONFLICT (month, team, visibility, figure, detail) DO UPDATE SET n = figure_counts.n + excluded.n"

// deleteZeroFigures drops the rows a batch took to 0, which the partial
// index figure_counts_zero finds without a scan.
const deleteZeroFigures = "DELETE FROM figure_counts WHERE n = 0"

// figureRowsPerUpsert keeps an upsert's parameters under chunkParams.
const figureRowsPerUpsert = chunkParams / 6

// writeDeltas adds d to figure_counts, in key order, and deletes the rows
// that fell to 0, so that the table holds the same rows whatever the
// batch boundaries were.
func (p *Projection) writeDeltas(ctx context.Context, tx *batchTx, d figureDeltas) error {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b figureKey) int {
		return cmp.Or(cmp.Compare(a.month, b.month), cmp.Compare(a.team, b.team), cmp.Compare(a.visibility, b.visibility),
			cmp.Compare(a.figure, b.figure), cmp.Compare(a.detail, b.detail))
	})
	negative := false
	args := make([]any, 0, 6*min(len(keys), figureRowsPerUpsert))
	for chunk := range slices.Chunk(keys, figureRowsPerUpsert) {
		args = args[:0]
		for _, k := range chunk {
			n := d[k]
			if n == 0 {
				continue
			}
			negative = negative || n < 0
			args = append(args, k.month, dbText(k.team), dbText(k.visibility), k.figure, dbText(k.detail), n)
		}
		if len(args) == 0 {
			continue
		}
		q := p.texts.upsert(len(args) / 6)
		if _, err := tx.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("add %d figures: %w", len(args)/6, err)
		}
	}
	if negative {
		if _, err := tx.tx.ExecContext(ctx, deleteZeroFigures); err != nil {
			return fmt.Errorf("delete figures that fell to zero: %w", err)
		}
	}
	return nil
}

// upsert returns the text of upsertFigures for rows rows, built once per
// row count.
func (s *sqlTexts) upsert(rows int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sqlKey{query: upsertFigures, n: -rows}
	if q, ok := s.texts[k]; ok {
		return q
	}
	tuples := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", rows), ", ")
	q := sqlx.Rebind(s.bindType, fmt.Sprintf(upsertFigures, tuples))
	s.texts[k] = q
	return q
}
