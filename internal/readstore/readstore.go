// Package readstore opens failforward's read-model database, Postgres or
// SQLite, applies its migrations and keeps the projector's checkpoint.
//
// Projection and query code is written once, with `?` placeholders that
// sqlx rebinds for the driver; the few places where the two dialects
// differ are named by Dialect and kept to the migrations and this package.
package readstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"    // Postgres driver, registered as "postgres".
	_ "modernc.org/sqlite" // Pure-Go SQLite driver, registered as "sqlite".
)

// Dialect names a supported SQL dialect.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is a read-model database: an sqlx handle that knows its dialect.
type DB struct {
	*sqlx.DB
	Dialect Dialect
	// Location describes the database for startup logs, without secrets.
	Location string
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

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	x, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres read store: %w", err)
	}
	x.SetMaxOpenConns(16)
	x.SetMaxIdleConns(16)
	x.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{DB: x, Dialect: Postgres, Location: redact(dsn)}
	if err := db.ping(ctx); err != nil {
		x.Close()
		return nil, err
	}
	return db, nil
}

// openSQLite opens path in WAL mode, so that readers never wait for the
// projector's writes, with a busy timeout so that a second writer waits
// instead of failing at once.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite read store: empty path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	x, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite read store %s: %w", path, err)
	}
	x.SetMaxOpenConns(8)
	x.SetConnMaxIdleTime(0)
	db := &DB{DB: x, Dialect: SQLite, Location: path}
	if err := db.ping(ctx); err != nil {
		x.Close()
		return nil, err
	}
	// Reading a page proves the file is a database, not just a file.
	var n int
	if err := x.GetContext(ctx, &n, "SELECT count(*) FROM sqlite_master"); err != nil {
		x.Close()
		return nil, fmt.Errorf("open sqlite read store %s: not a usable database: %w", path, err)
	}
	return db, nil
}

func (db *DB) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s read store %s: %w", db.Dialect, db.Location, err)
	}
	return nil
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
	if err := db.GetContext(ctx, &pos, "SELECT position FROM projector_checkpoint WHERE id = 1"); err != nil {
		return 0, fmt.Errorf("read projector position: %w", err)
	}
	return pos, nil
}

// SetPosition records pos as the projector's position inside tx, the same
// transaction that wrote the rows of the events up to pos.
func SetPosition(ctx context.Context, tx *sqlx.Tx, pos uint64) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE projector_checkpoint SET position = ? WHERE id = 1"), pos); err != nil {
		return fmt.Errorf("write projector position %d: %w", pos, err)
	}
	return nil
}

// ErrNotCaughtUp reports that the projector had not reached a position
// before the wait ended.
var ErrNotCaughtUp = errors.New("read models have not caught up")

// WaitForPosition polls until the projector has applied pos or ctx ends,
// so that a client can read its own writes.
func (db *DB) WaitForPosition(ctx context.Context, pos uint64) error {
	delay := 2 * time.Millisecond
	for {
		got, err := db.Position(ctx)
		if err != nil {
			return err
		}
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
