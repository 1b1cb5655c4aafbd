// Package readstore opens failforward's read-model database, Postgres or
// SQLite, applies its migrations and keeps the projector's checkpoint.
//
// Projection and query code is written once, with `?` placeholders that
// Rebind turns into the driver's; what the two dialects do differently
// lives here, one file per dialect: opening the database, locking the
// checkpoint row, bulk inserts and the table swap of a rebuild. Callers
// get methods, never the database handle, so that no dialect-specific SQL
// leaks out of this package.
package readstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Dialect names a supported SQL dialect.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is a read-model database of a known dialect.
type DB struct {
	x   *sqlx.DB
	eng engine
	dsn string
	now func() time.Time // the lease clock, where the database has none
	// Dialect is the database's SQL dialect.
	Dialect Dialect
	// Location describes the database for startup logs, without secrets.
	Location string
}

// engine is what one dialect does its own way. Each dialect implements it
// in its own file.
type engine interface {
	// lockPositionSQL reads the checkpoint and holds it locked until the
	// transaction ends.
	lockPositionSQL() string
	// bulkInsert writes rows (len(t.Columns) values each) into t.
	bulkInsert(ctx context.Context, tx *Tx, t *Table, rows []any) error
	// prepareRebuild makes a fresh, migrated store beside live.
	prepareRebuild(ctx context.Context, live *DB, opts RebuildOptions) (rebuilder, error)

	// leaseTime is the SQL, with its arguments, for the time d after now
	// on the lease's clock; now is the process's clock, for a dialect
	// whose database has none of its own to use.
	leaseTime(now time.Time, d time.Duration) (string, []any)
	// leaseRemaining is the SQL, with its arguments, for the microseconds
	// from now until the lease expires.
	leaseRemaining(now time.Time) (string, []any)
	// lockLeaseSQL reads the lease's holder and epoch and keeps the lease
	// from changing hands until the transaction ends.
	lockLeaseSQL() string
	// boundLeased bounds a leased transaction (see BeginLeased).
	boundLeased(ctx context.Context, tx *Tx, ttl time.Duration) error
	// lockMigrations keeps other processes from migrating db until
	// unlock.
	lockMigrations(ctx context.Context, db *DB) (unlock func(), err error)
}

// Open connects to the read store named by dsn: a postgres:// or
// postgresql:// URL selects Postgres; "sqlite:<path>" or a plain file path
// selects SQLite. It pings the database but does not migrate it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	case dsn == "":
		return nil, errors.New("open read store: empty database URL")
	default:
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	}
}

func (db *DB) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.x.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s read store %s: %w", db.Dialect, db.Location, err)
	}
	return nil
}

// Close closes the database's connections.
func (db *DB) Close() error { return db.x.Close() }

// PingContext checks that the database answers.
func (db *DB) PingContext(ctx context.Context) error { return db.x.PingContext(ctx) }

// Rebind turns the `?` placeholders of query into the driver's.
func (db *DB) Rebind(query string) string { return db.x.Rebind(query) }

// SelectContext runs query and scans every row into dest, a pointer to a
// slice, as sqlx does.
func (db *DB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return db.x.SelectContext(ctx, dest, query, args...)
}

// GetContext runs query and scans its one row into dest, as sqlx does;
// no row is sql.ErrNoRows.
func (db *DB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return db.x.GetContext(ctx, dest, query, args...)
}

// QueryxContext runs query and returns its rows for scanning into
// structs.
func (db *DB) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	return db.x.QueryxContext(ctx, query, args...)
}

// QueryContext runs query and returns its rows.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.x.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query, which returns at most one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.x.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement that returns no rows, outside any
// transaction.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.x.ExecContext(ctx, query, args...)
}

// redact drops the password from a database URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery = ""
	return u.String()
}

// Position returns the stream sequence of the last event the projector
// applied.
func (db *DB) Position(ctx context.Context) (uint64, error) {
	var pos uint64
	if err := db.x.GetContext(ctx, &pos, "SELECT position FROM projector_checkpoint WHERE id = 1"); err != nil {
		return 0, fmt.Errorf("read projector position: %w", err)
	}
	return pos, nil
}

// ErrNotCaughtUp reports that the projector had not reached a position
// before the wait ended.
var ErrNotCaughtUp = errors.New("read models have not caught up")

// WaitForPosition polls until the projector has applied pos or ctx ends,
// so that a client can read its own writes.
func (db *DB) WaitForPosition(ctx context.Context, pos uint64) error {
	delay := 2 * time.Millisecond
	var got uint64
	for {
		cur, err := db.Position(ctx)
		if err != nil && ctx.Err() != nil {
			// The wait ran out during a read rather than between two.
			return fmt.Errorf("%w: at %d, want %d", ErrNotCaughtUp, got, pos)
		}
		if err != nil {
			return err
		}
		got = cur
		if got >= pos {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: at %d, want %d", ErrNotCaughtUp, got, pos)
		case <-t.C:
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// Retryable reports whether err is a transient conflict that the same
// read, run again, is expected to get past: Postgres chose it as the
// victim of a deadlock (40P01) or a serialization failure (40001), as a
// read can be when a rebuild swaps the tables under it.
func Retryable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40P01" || pqErr.Code == "40001")
}
