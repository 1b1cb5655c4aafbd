package readstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Tx is a transaction on the read store: the projector writes a batch's
// rows, its skipped events and its position in one.
type Tx struct {
	tx *sqlx.Tx
	db *DB

	lease        *Lease // set by BeginLeased
	leaseChecked bool
}

// Begin starts a transaction. On SQLite it takes the write lock at once
// (the store's transactions begin IMMEDIATE), so that two writers queue
// up rather than fail halfway.
func (db *DB) Begin(ctx context.Context) (*Tx, error) {
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, db: db}, nil
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit() }

// Rollback aborts the transaction; after Commit it does nothing and
// returns sql.ErrTxDone.
func (tx *Tx) Rollback() error { return tx.tx.Rollback() }

// Rebind turns the `?` placeholders of query into the driver's.
func (tx *Tx) Rebind(query string) string { return tx.tx.Rebind(query) }

// ExecContext runs a statement that returns no rows.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query and returns its rows.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, query, args...)
}

// GetContext runs query and scans its one row into dest, as sqlx does.
func (tx *Tx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return tx.tx.GetContext(ctx, dest, query, args...)
}

// LockPosition reads the projector's checkpoint inside tx and holds it
// locked until tx ends, so that a rebuild's swap or a second projector
// waits for this transaction instead of writing beside it. In a
// transaction begun with BeginLeased it then checks the lease, and fails
// with ErrLeaseLost if it was taken. (The checkpoint is locked first, as
// a rebuild's swap does, so that the two never wait for each other.)
func (tx *Tx) LockPosition(ctx context.Context) (uint64, error) {
	var pos uint64
	if err := tx.tx.GetContext(ctx, &pos, tx.db.eng.lockPositionSQL()); err != nil {
		return 0, fmt.Errorf("lock projector position: %w", err)
	}
	if err := tx.checkLease(ctx); err != nil {
		return 0, err
	}
	return pos, nil
}

// SetPosition records pos as the projector's position inside tx, the same
// transaction that wrote the rows of the events up to pos. In a
// transaction begun with BeginLeased it fails with ErrLeaseLost, and
// writes nothing, unless the lease still holds.
func SetPosition(ctx context.Context, tx *Tx, pos uint64) error {
	if err := tx.checkLease(ctx); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, tx.tx.Rebind("UPDATE projector_checkpoint SET position = ? WHERE id = 1"), pos); err != nil {
		return fmt.Errorf("write projector position %d: %w", pos, err)
	}
	return nil
}

// Table is a table and the columns a bulk insert fills, in order. Make
// one per table with NewTable and keep it: the statements written for it
// are built once.
type Table struct {
	// Name is the table's name.
	Name string
	// Columns are the columns each row fills, in order.
	Columns []string

	copySQL string // COPY … FROM STDIN, for Postgres

	mu      sync.Mutex
	inserts map[int]string // multi-row INSERTs by row count, for SQLite
}

// NewTable describes table name with columns.
func NewTable(name string, columns ...string) *Table {
	return &Table{Name: name, Columns: columns, inserts: map[int]string{},
		copySQL: "COPY " + name + " (" + strings.Join(columns, ", ") + ") FROM STDIN"}
}

// BulkInsert writes rows into t: len(t.Columns) consecutive values per
// row, in t.Columns order, as the drivers' own types (string, int64,
// float64, bool, time.Time, nil) so that nothing converts them by
// reflection. The rows must be new: a row whose key is taken fails the
// insert. Postgres takes them through COPY, SQLite through multi-row
// INSERTs; both are many times faster than a statement per row.
func (tx *Tx) BulkInsert(ctx context.Context, t *Table, rows []any) error {
	if len(rows) == 0 {
		return nil
	}
	if len(rows)%len(t.Columns) != 0 {
		return fmt.Errorf("insert into %s: %d values do not fill rows of %d columns", t.Name, len(rows), len(t.Columns))
	}
	return tx.db.eng.bulkInsert(ctx, tx, t, rows)
}
