package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/failforward/failforward/internal/readstore"
)

// How the projection talks to the read store. Its SQL is plain and the
// same on both stores: SELECT … WHERE key IN (…) to load rows, DELETE …
// WHERE key IN (…) to drop the stored version of the rows a batch
// changed, and INSERT to write every row the batch changed or created.
// What makes it fast is how the statements are sent:
//
//   - The text of each statement is built once per process, with the
//     driver's placeholders, per table and row count (inserts) or per
//     statement and padded id count (IN lists), so that a batch builds
//     and rebinds no SQL.
//   - On SQLite, rows are inserted in chunks of a fixed number of rows,
//     and a chunk statement that runs more than once in a batch is
//     prepared in the transaction and reused: SQLite compiles every row
//     of a VALUES list into its program, so a statement of thousands of
//     rows costs about as much to prepare as to run.
//   - On Postgres, rows are inserted with COPY … FROM STDIN: see insert.
//   - Arguments go to database/sql as the drivers' own types (string,
//     int64, float64, bool, time.Time, nil), so that neither database/sql
//     nor the driver converts them by reflection.
//
// Deleting and inserting a changed row, rather than upserting it, costs
// the stores about the same work (both write a new row version and its
// index entries; Postgres spends less, since ON CONFLICT DO UPDATE also
// locks the row first), and it lets Postgres take every row through COPY.

// chunkParams is the most bind parameters in one INSERT on SQLite; a
// chunk holds as many whole rows as fit. From 1 to 4,000 the projector's
// load ran about as fast; SQLite's limit is 32,766.
const chunkParams = 1000

// inChunk is the most ids in one IN list. Lists are padded, by repeating
// their last id, to a multiple of inPad, so that the texts of these
// statements stay few.
const (
	inChunk = 1024
	inPad   = 32
)

// minPrepared is how many times a chunk statement must run in one batch
// to be prepared rather than sent as text each time.
const minPrepared = 2

// tableSpec describes how the projection writes one table.
type tableSpec struct {
	name    string
	columns []string
	// deleteSQL deletes the rows whose deleteBy column is in its IN list,
	// to be written anew; empty for tables whose rows are only ever
	// added.
	deleteSQL string
	// perChunk is how many rows one INSERT carries.
	perChunk int
	// copySQL inserts rows on Postgres.
	copySQL string
}

func newTableSpec(name string, columns []string, deleteBy string) *tableSpec {
	t := &tableSpec{name: name, columns: columns,
		perChunk: max(1, chunkParams/len(columns)),
		copySQL:  "COPY " + name + " (" + strings.Join(columns, ", ") + ") FROM STDIN"}
	if deleteBy != "" {
		t.deleteSQL = "DELETE FROM " + name + " WHERE " + deleteBy + " IN (%s)"
	}
	return t
}

// insertSQL is the multi-row INSERT of rows rows of t, with ? placeholders.
func (t *tableSpec) insertSQL(rows int) string {
	var sb strings.Builder
	tuple := "(" + strings.Repeat("?, ", len(t.columns)-1) + "?)"
	sb.Grow(32 + len(t.name) + 16*len(t.columns) + rows*(len(tuple)+2))
	sb.WriteString("INSERT INTO ")
	sb.WriteString(t.name)
	sb.WriteString(" (")
	sb.WriteString(strings.Join(t.columns, ", "))
	sb.WriteString(") VALUES ")
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
	}
	return sb.String()
}

// sqlTexts builds the projection's statements once each and keeps them,
// rebound for the read store's driver.
type sqlTexts struct {
	bindType int
	mu       sync.Mutex
	texts    map[sqlKey]string
}

type sqlKey struct {
	table *tableSpec // the table of an INSERT, or nil
	query string     // a statement with %s for its IN list
	n     int        // rows of an INSERT, ids of an IN list
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
	var q string
	if k.table != nil {
		q = k.table.insertSQL(k.n)
	} else {
		q = fmt.Sprintf(k.query, placeholders(k.n))
	}
	q = sqlx.Rebind(s.bindType, q)
	s.texts[k] = q
	return q
}

// batchTx is one batch's transaction, as the projection writes to it.
type batchTx struct {
	tx      *sql.Tx
	dialect readstore.Dialect
	texts   *sqlTexts
	ids     []any // the arguments of IN lists, reused
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
//
// On Postgres the rows go through COPY … FROM STDIN, the one place where
// the projection speaks Postgres only. Postgres spends longer binding and
// planning a multi-row INSERT's thousands of parameters than inserting
// the rows they fill; a batch's 500 history rows took it about half the
// server time, and the client half its time, through COPY.
func (b *batchTx) insert(ctx context.Context, t *tableSpec, rows []any) error {
	if len(rows) == 0 {
		return nil
	}
	if b.dialect == readstore.Postgres {
		return b.copyIn(ctx, t, rows)
	}
	width := len(t.columns)
	n := len(rows) / width
	full, rest := n/t.perChunk, n%t.perChunk
	step := t.perChunk * width
	if full > 0 {
		q := b.texts.get(sqlKey{table: t, n: t.perChunk})
		exec := func(args []any) error {
			_, err := b.tx.ExecContext(ctx, q, args...)
			return err
		}
		if full >= minPrepared {
			st, err := b.tx.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare insert into %s: %w", t.name, err)
			}
			defer st.Close()
			exec = func(args []any) error {
				_, err := st.ExecContext(ctx, args...)
				return err
			}
		}
		for i := range full {
			if err := exec(rows[i*step : (i+1)*step]); err != nil {
				return fmt.Errorf("insert %d rows into %s: %w", t.perChunk, t.name, err)
			}
		}
	}
	if rest > 0 {
		q := b.texts.get(sqlKey{table: t, n: rest})
		if _, err := b.tx.ExecContext(ctx, q, rows[full*step:]...); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", rest, t.name, err)
		}
	}
	return nil
}

// copyIn inserts rows of t with COPY, on Postgres.
func (b *batchTx) copyIn(ctx context.Context, t *tableSpec, rows []any) error {
	st, err := b.tx.PrepareContext(ctx, t.copySQL)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", t.name, err)
	}
	defer st.Close()
	width := len(t.columns)
	for row := range slices.Chunk(rows, width) {
		if _, err := st.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("copy into %s: %w", t.name, err)
		}
	}
	// Without arguments, Exec ends the COPY and reports how it went.
	if _, err := st.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(rows)/width, t.name, err)
	}
	return nil
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
