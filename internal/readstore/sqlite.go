package readstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // Pure-Go SQLite driver, registered as "sqlite".
)

// sqlite is what the read store does the SQLite way.
type sqlite struct{}

// openSQLite opens path in WAL mode, so that readers never wait for the
// projector's writes, with a busy timeout so that a second writer waits
// instead of failing at once. Extra pragmas, as "name(value)", run after
// those and so override them.
func openSQLite(ctx context.Context, path string, pragmas ...string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite read store: empty path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	x, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite read store %s: %w", path, err)
	}
	x.SetMaxOpenConns(8)
	x.SetConnMaxIdleTime(0)
	db := &DB{x: x, eng: sqlite{}, dsn: path, now: time.Now, Dialect: SQLite, Location: path}
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

// lockPositionSQL needs no FOR UPDATE: the read store's transactions take
// SQLite's write lock when they begin.
func (sqlite) lockPositionSQL() string {
	return "SELECT position FROM projector_checkpoint WHERE id = 1"
}

// leaseTime passes the process's clock: only one host opens a SQLite
// file, so there is no skew to guard against.
func (sqlite) leaseTime(now time.Time, d time.Duration) (string, []any) {
	return "?", []any{now.Add(d).UnixMicro()}
}

func (sqlite) leaseRemaining(now time.Time) (string, []any) {
	return "expires_at - ?", []any{now.UnixMicro()}
}

// lockLeaseSQL needs no lock of its own, for the reason lockPositionSQL
// needs none.
func (sqlite) lockLeaseSQL() string {
	return "SELECT holder, epoch FROM projector_lease WHERE id = 1"
}

// boundLeased does nothing: SQLite has no such bounds, and a SQLite read
// store serves one process on one host.
func (sqlite) boundLeased(context.Context, *Tx, time.Duration) error { return nil }

// lockMigrations needs no lock: each migration's transaction takes
// SQLite's write lock as it begins, and checks inside it whether it ran.
func (sqlite) lockMigrations(context.Context, *DB) (func(), error) { return func() {}, nil }

// sqliteChunkParams is the most bind parameters in one INSERT; a chunk
// holds as many whole rows as fit. From 1 to 4,000 the projector's load
// ran about as fast; SQLite's limit is 32,766.
const sqliteChunkParams = 1000

// sqliteMinPrepared is how many times a chunk statement must run in one
// insert to be prepared rather than sent as text each time: SQLite
// compiles every row of a VALUES list into its program, so a statement of
// thousands of rows costs about as much to prepare as to run.
const sqliteMinPrepared = 2

// bulkInsert sends rows as multi-row INSERTs of a fixed number of rows,
// preparing the chunk statement when it runs more than once.
func (sqlite) bulkInsert(ctx context.Context, tx *Tx, t *Table, rows []any) error {
	width := len(t.Columns)
	perChunk := max(1, sqliteChunkParams/width)
	n := len(rows) / width
	full, rest := n/perChunk, n%perChunk
	step := perChunk * width
	if full > 0 {
		q := t.insertSQL(perChunk)
		exec := func(args []any) error {
			_, err := tx.tx.ExecContext(ctx, q, args...)
			return err
		}
		if full >= sqliteMinPrepared {
			st, err := tx.tx.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare insert into %s: %w", t.Name, err)
			}
			defer st.Close()
			exec = func(args []any) error {
				_, err := st.ExecContext(ctx, args...)
				return err
			}
		}
		for i := range full {
			if err := exec(rows[i*step : (i+1)*step]); err != nil {
				return fmt.Errorf("insert %d rows into %s: %w", perChunk, t.Name, err)
			}
		}
	}
	if rest > 0 {
		if _, err := tx.tx.ExecContext(ctx, t.insertSQL(rest), rows[full*step:]...); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", rest, t.Name, err)
		}
	}
	return nil
}

// insertSQL returns the multi-row INSERT of n rows of t, with SQLite's ?
// placeholders.
func (t *Table) insertSQL(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q, ok := t.inserts[n]; ok {
		return q
	}
	var sb strings.Builder
	tuple := "(" + strings.Repeat("?, ", len(t.Columns)-1) + "?)"
	sb.Grow(32 + len(t.Name) + 16*len(t.Columns) + n*(len(tuple)+2))
	sb.WriteString("INSERT INTO ")
	sb.WriteString(t.Name)
	sb.WriteString(" (")
	sb.WriteString(strings.Join(t.Columns, ", "))
	sb.WriteString(") VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
	}
	q := sb.String()
	t.inserts[n] = q
	return q
}
