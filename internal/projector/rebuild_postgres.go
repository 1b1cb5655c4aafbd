package projector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/lib/pq"

	"github.com/failforward/failforward/internal/readstore"
)

// RebuildSchema is the Postgres schema a rebuild builds its fresh tables
// in, beside the live ones.
const RebuildSchema = "failforward_rebuild"

// rebuildLockKey is the advisory lock that keeps two rebuilds of one
// database apart: both would build in the same schema.
const rebuildLockKey = 0x6661696c666f7277 // "failforw"

// ErrRebuildRunning reports that another rebuild holds the database.
var ErrRebuildRunning = errors.New("another rebuild is running on this database")

// pgRebuild builds fresh tables in RebuildSchema through a pool whose
// search_path is that schema, so that the migrations and the projection
// run unchanged, unqualified; the swap moves them into the live schema.
type pgRebuild struct {
	live       *readstore.DB
	db         *readstore.DB
	lock       *sql.Conn
	liveSchema string
	swapped    bool
}

func preparePostgres(ctx context.Context, live *readstore.DB, dsn string) (_ *pgRebuild, err error) {
	r := &pgRebuild{live: live}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.lock, err = live.Conn(ctx); err != nil {
		return nil, err
	}
	var locked bool
	if err := r.lock.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(rebuildLockKey)).Scan(&locked); err != nil {
		return nil, fmt.Errorf("take the rebuild lock: %w", err)
	}
	if !locked {
		r.lock.Close()
		r.lock = nil
		return nil, ErrRebuildRunning
	}
	if err := live.GetContext(ctx, &r.liveSchema, "SELECT current_schema()"); err != nil {
		return nil, fmt.Errorf("read the live schema: %w", err)
	}
	if r.liveSchema == RebuildSchema {
		return nil, fmt.Errorf("the live read store is in schema %s, which rebuilds use", RebuildSchema)
	}
	// What a previous, interrupted rebuild left is of no use.
	for _, q := range []string{
		"DROP SCHEMA IF EXISTS " + pq.QuoteIdentifier(RebuildSchema) + " CASCADE",
		"CREATE SCHEMA " + pq.QuoteIdentifier(RebuildSchema),
	} {
		if _, err := live.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("prepare schema %s: %w", RebuildSchema, err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", RebuildSchema)
	u.RawQuery = q.Encode()
	if r.db, err = readstore.Open(ctx, u.String()); err != nil {
		return nil, err
	}
	// The swap drops live tables by name: make sure, before writing
	// anything, that the fresh pool really writes elsewhere.
	var schema string
	if err := r.db.GetContext(ctx, &schema, "SELECT current_schema()"); err != nil {
		return nil, err
	}
	if schema != RebuildSchema {
		return nil, fmt.Errorf("fresh pool writes to schema %q, want %s", schema, RebuildSchema)
	}
	if err := r.db.Migrate(ctx); err != nil {
		return nil, err
	}
	r.db.Location += " (schema " + RebuildSchema + ")"
	return r, nil
}

func (r *pgRebuild) fresh() *readstore.DB { return r.db }

// swap moves every fresh table into the live schema in one transaction,
// dropping the live table of the same name. It takes the checkpoint's lock
// first, as every projector batch does, so that the two queue up instead
// of deadlocking; a lock it cannot get within a few seconds (a long
// reader) aborts the attempt, which is retried.
func (r *pgRebuild) swap(ctx context.Context) error {
	var names []string
	if err := r.live.SelectContext(ctx, &names, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, RebuildSchema); err != nil {
		return fmt.Errorf("list rebuilt tables: %w", err)
	}
	// Fresh tables have no planner statistics; without them the first
	// queries after the swap plan as if the tables were empty, until
	// autovacuum gets round to them. Gather them now, outside the swap's
	// locks.
	for _, n := range names {
		if _, err := r.live.ExecContext(ctx, "ANALYZE "+pq.QuoteIdentifier(RebuildSchema)+"."+pq.QuoteIdentifier(n)); err != nil {
			return fmt.Errorf("analyze rebuilt table %s: %w", n, err)
		}
	}
	r.db.Close()
	r.db = nil
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if err = r.swapOnce(ctx, names); err == nil {
			r.swapped = true
			return nil
		}
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || (pqErr.Code != "55P03" && pqErr.Code != "40P01") {
			return err
		}
		t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

func (r *pgRebuild) swapOnce(ctx context.Context, names []string) error {
	tx, err := r.live.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	live, fresh := pq.QuoteIdentifier(r.liveSchema), pq.QuoteIdentifier(RebuildSchema)
	stmts := []string{
		"SET LOCAL lock_timeout = '5s'",
		"LOCK TABLE " + live + ".projector_checkpoint IN ACCESS EXCLUSIVE MODE",
	}
	for _, n := range names {
		t := pq.QuoteIdentifier(n)
		stmts = append(stmts,
			"DROP TABLE IF EXISTS "+live+"."+t+" CASCADE",
			"ALTER TABLE "+fresh+"."+t+" SET SCHEMA "+live)
	}
	stmts = append(stmts, "DROP SCHEMA "+fresh)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

// close drops the fresh schema unless it was swapped in, and releases the
// rebuild lock. It runs on the way out of a failed or cancelled rebuild
// too, so it does not use the caller's context.
func (r *pgRebuild) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r.db != nil {
		r.db.Close()
	}
	if r.lock == nil {
		return
	}
	if !r.swapped {
		_, _ = r.lock.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pq.QuoteIdentifier(RebuildSchema)+" CASCADE")
	}
	// The lock belongs to the session, which outlives Close in the pool.
	_, _ = r.lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(rebuildLockKey))
	r.lock.Close()
}
