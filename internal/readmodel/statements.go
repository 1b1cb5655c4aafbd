package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/failforward/failforward/internal/readstore"
)

// How the projection talks to the read store. Its SQL is plain and the
// same on both stores: SELECT … WHERE key IN (…) to load rows, DELETE …
// WHERE key IN (…) to drop the stored version of the rows a batch
// changed, and a bulk insert to write every row the batch changed or
// created. What makes it fast is how the statements are sent:
//
//   - The text of each IN-list statement is built once per process, with
//     the driver's placeholders, per statement and padded id count, so
//     that a batch builds and rebinds no SQL.
//   - Rows are written with the read store's bulk insert (COPY on
//     Postgres, multi-row INSERTs on SQLite), which knows each store's
//     fastest way.
//   - Arguments go to database/sql as the drivers' own types (string,
//     int64, float64, bool, time.Time, nil), so that neither database/sql
//     nor the driver converts them by reflection.
//
// Deleting and inserting a changed row, rather than upserting it, costs
// the stores about the same work (both write a new row version and its
// index entries; Postgres spends less, since ON CONFLICT DO UPDATE also
// locks the row first), and it lets Postgres take every row through COPY.

// inChunk is the most ids in one IN list. Lists are padded, by repeating
// their last id, to a multiple of inPad, so that the texts of these
// statements stay few.
const (
	inChunk = 1024
	inPad   = 32
)

// tableSpec describes how the projection writes one table.
type tableSpec struct {
	name    string
	columns []string
	// deleteSQL deletes the rows whose deleteBy column is in its IN list,
	// to be written anew; empty for tables whose rows are only ever
	// added.
	deleteSQL string
	// bulk is the table as the read store's bulk insert takes it.
	bulk *readstore.Table
}

func newTableSpec(name string, columns []string, deleteBy string) *tableSpec {
	t := &tableSpec{name: name, columns: columns, bulk: readstore.NewTable(name, columns...)}
	if deleteBy != "" {
		t.deleteSQL = "DELETE FROM " + name + " WHERE " + deleteBy + " IN (%s)"
	}
	return t
}

// sqlTexts builds the projection's statements once each and keeps them,
// rebound for the read store's driver.
type sqlTexts struct {
	bindType int
	mu       sync.Mutex
	texts    map[sqlKey]string
}

type sqlKey struct {
	query string // a statement with %s for its IN list
	n     int    // ids of the IN list
}

func newSQLTexts(dialect readstore.Dialect) *sqlTexts {
	return &sqlTexts{bindType: sqlx.BindType(string(dialect)), texts: map[sqlKey]string{}}
}

func (s *sqlTexts) get(k sqlKey) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.texts[k]; ok {
		return q
	}
	q := sqlx.Rebind(s.bindType, fmt.Sprintf(k.query, placeholders(k.n)))
	s.texts[k] = q
	return q
}

// batchTx is one batch's transaction, as the projection writes to it.
type batchTx struct {
	tx      *readstore.Tx
	texts   *sqlTexts
	dialect readstore.Dialect
	ids     []any // the arguments of IN lists, reused
	// backfill names what read_model_backfill says is left to fill, as
	// the batch found it.
	backfill map[string]bool
}

// replace writes rows of t (len(t.columns) consecutive values per row, in
// t.columns order): it deletes the stored rows whose key is in stale,
// then inserts rows.
func (b *batchTx) replace(ctx context.Context, t *tableSpec, stale []string, rows []any) error {
	if err := b.execIn(ctx, t.deleteSQL, stale); err != nil {
		return fmt.Errorf("delete %d changed rows of %s: %w", len(stale), t.name, err)
	}
	return b.insert(ctx, t, rows)
}

// insert writes rows of t, as replace takes them, that the read store
// does not hold (any more). The caller makes sure of that: it loaded the
// keys of the batch's rows and found none of them, or deleted them, in
// this transaction, which holds the projector's checkpoint locked so
// that no one else writes meanwhile. Should a row ever be there after
// all, the batch fails on its key rather than overwrite or skip it, and
// the projector retries the batch from its checkpoint.
func (b *batchTx) insert(ctx context.Context, t *tableSpec, rows []any) error {
	return b.tx.BulkInsert(ctx, t.bulk, rows)
}

// queryIn runs query, whose one %s is an IN list and only parameter, once
// per chunk of ids, and calls scan for every row.
func (b *batchTx) queryIn(ctx context.Context, query string, ids []string, scan func(*sql.Rows) error) error {
	for chunk := range slices.Chunk(ids, inChunk) {
		q := b.inList(query, chunk)
		rows, err := b.tx.QueryContext(ctx, q, b.ids...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// execIn is queryIn for statements that return no rows.
func (b *batchTx) execIn(ctx context.Context, query string, ids []string) error {
	for chunk := range slices.Chunk(ids, inChunk) {
		q := b.inList(query, chunk)
		if _, err := b.tx.ExecContext(ctx, q, b.ids...); err != nil {
			return err
		}
	}
	return nil
}

// inList returns the text of query for ids, padded, and leaves their
// arguments in b.ids. The ids are cleaned as the rows that hold them were
// when written, so that they match, and so that Postgres takes them.
func (b *batchTx) inList(query string, ids []string) string {
	n := (len(ids) + inPad - 1) / inPad * inPad
	b.ids = b.ids[:0]
	for _, id := range ids {
		b.ids = append(b.ids, dbText(id))
	}
	for last := b.ids[len(ids)-1]; len(b.ids) < n; {
		b.ids = append(b.ids, last)
	}
	return b.texts.get(sqlKey{query: query, n: n})
}
