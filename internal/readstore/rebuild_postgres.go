package readstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"
)

// rebuildLockKey is the advisory lock that keeps two rebuilds of one
// database apart: both would build in the same schema.
const rebuildLockKey = 0x6661696c666f7277 // "failforw"

// pgRebuild builds fresh tables in RebuildSchema through a pool whose
// search_path is that schema, so that the migrations and the projection
// run unchanged, unqualified; the swap moves them into the live schema.
//
// Nothing it does before the swap takes a lock on a live table: the
// replay, the index builds and ANALYZE (as the tables grow, and before
// the swap) touch only RebuildSchema. The swap takes every live table's
// lock at once, waits for it at most pgSwapLockTimeout, and otherwise
// gives up and tries again later, so that readers never queue behind it
// for longer than that.
type pgRebuild struct {
	live       *DB
	db         *DB
	lock       *sql.Conn
	liveSchema string
	// deferred are the CREATE INDEX statements of the secondary indexes
	// dropped from the fresh tables while they fill; the swap builds them
	// first. Keys and unique indexes stay: the projection relies on them.
	deferred []string
	swapped  bool
	// stopStats stops the statistics keeper (rebuild_statistics.go).
	stopStats func()
	stages
}

func (postgres) prepareRebuild(ctx context.Context, live *DB, opts RebuildOptions) (_ rebuilder, err error) {
	r := &pgRebuild{live: live}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.takeLock(ctx); err != nil {
		return nil, err
	}
	if err := live.x.GetContext(ctx, &r.liveSchema, "SELECT current_schema()"); err != nil {
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
		if _, err := live.x.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("prepare schema %s: %w", RebuildSchema, err)
		}
	}
	if err := r.openFresh(ctx); err != nil {
		return nil, err
	}
	if opts.DeferIndexes {
		if err := r.deferIndexes(ctx, opts.KeepIndexes); err != nil {
			return nil, err
		}
	}
	r.startStatistics()
	return r, nil
}

// takeLock takes the rebuild's advisory lock on a connection of its own,
// which holds it until close.
func (r *pgRebuild) takeLock(ctx context.Context) error {
	conn, err := r.live.x.Conn(ctx)
	if err != nil {
		return err
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(rebuildLockKey)).Scan(&locked); err != nil {
		conn.Close()
		return fmt.Errorf("take the rebuild lock: %w", err)
	}
	if !locked {
		conn.Close()
		return ErrRebuildRunning
	}
	r.lock = conn
	return nil
}

// openFresh opens and migrates the pool that writes into RebuildSchema.
func (r *pgRebuild) openFresh(ctx context.Context) error {
	u, err := url.Parse(r.live.dsn)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", RebuildSchema)
	// The fresh tables are worth nothing until they are swapped in, so a
	// batch's commit need not wait for its WAL to reach the disk: a crash
	// loses at most a rebuild, which starts again from scratch. The swap
	// commits on the live pool, synchronously, and flushing its WAL
	// flushes everything written before it.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	if r.db, err = openPostgres(ctx, u.String()); err != nil {
		return err
	}
	// The swap drops live tables by name: make sure, before writing
	// anything, that the fresh pool really writes elsewhere.
	var schema string
	if err := r.db.x.GetContext(ctx, &schema, "SELECT current_schema()"); err != nil {
		return err
	}
	if schema != RebuildSchema {
		return fmt.Errorf("fresh pool writes to schema %q, want %s", schema, RebuildSchema)
	}
	if err := r.db.Migrate(ctx); err != nil {
		return err
	}
	r.db.Location += " (schema " + RebuildSchema + ")"
	return nil
}

// deferIndexes drops the fresh tables' secondary indexes but those in
// keep, and keeps their definitions for the swap. Filling a table and
// then building an index in one sort costs much less than keeping the
// index up to date row by row, above all the full-text GIN indexes.
// Primary keys, unique indexes and indexes behind constraints stay.
func (r *pgRebuild) deferIndexes(ctx context.Context, keep []string) error {
	var idx []struct {
		Name string `db:"name"`
		Def  string `db:"def"`
	}
	if err := r.live.x.SelectContext(ctx, &idx, `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = i.relnamespace
		WHERE n.nspname = $1 AND NOT x.indisunique AND NOT x.indisprimary
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
		  AND NOT i.relname = ANY($2)
		ORDER BY i.relname`, RebuildSchema, pq.Array(keep)); err != nil {
		return fmt.Errorf("list the fresh indexes: %w", err)
	}
	for _, ix := range idx {
		q := "DROP INDEX " + pq.QuoteIdentifier(RebuildSchema) + "." + pq.QuoteIdentifier(ix.Name)
		if _, err := r.live.x.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("defer index %s: %w", ix.Name, err)
		}
		// pg_get_indexdef names the table with its schema, RebuildSchema.
		r.deferred = append(r.deferred, ix.Def)
	}
	return nil
}

func (r *pgRebuild) fresh() *DB { return r.db }

// swap builds the deferred indexes and the planner's statistics of the
// fresh tables, then moves every one of them into the live schema in one
// short transaction, dropping the live table of the same name.
func (r *pgRebuild) swap(ctx context.Context) error {
	r.stopStatistics()
	var names []string
	if err := r.live.x.SelectContext(ctx, &names, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> $2 ORDER BY table_name`, RebuildSchema, leaseTable); err != nil {
		return fmt.Errorf("list rebuilt tables: %w", err)
	}
	if err := r.finishTables(ctx, names); err != nil {
		return err
	}
	r.db.Close()
	r.db = nil
	r.at("before-swap")
	lockTimeout, err := r.lockTimeout(ctx)
	if err != nil {
		return err
	}
	if err := retrySwap(ctx, func() error { return r.swapOnce(ctx, names, lockTimeout) }); err != nil {
		return err
	}
	r.swapped = true
	return nil
}

// finishTables builds the deferred indexes and gathers the fresh tables'
// planner statistics: without them the first queries after the swap
// plan as if the tables were empty, until autovacuum gets round to them.
// Both lock only the fresh tables.
func (r *pgRebuild) finishTables(ctx context.Context, names []string) error {
	conn, err := r.db.x.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A sort that fits in memory builds an index several times faster
	// than one that spills; the setting lasts for this session only.
	if _, err := conn.ExecContext(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
		return fmt.Errorf("set maintenance_work_mem: %w", err)
	}
	for _, def := range r.deferred {
		if _, err := conn.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("build index: %s: %w", def, err)
		}
	}
	for _, n := range names {
		if err := r.analyze(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// pgSwapLockTimeout is the longest the swap waits for the live tables'
// locks in one attempt. Readers that arrive meanwhile queue behind it
// (Postgres grants locks in order), so it bounds what the swap costs
// them; a reader that holds a table longer makes the attempt fail, and
// the swap tries again after a pause in which the queue drains.
const pgSwapLockTimeout = 100 * time.Millisecond

// pgSwapPatience is how long the swap keeps trying to get its locks
// before it gives up and the rebuild fails, leaving the live tables.
const pgSwapPatience = 5 * time.Minute

// lockTimeout is pgSwapLockTimeout, or less on a server whose deadlock
// check comes sooner: a swap that gives up before the check runs is never
// part of a deadlock, so no reader is ever cancelled as its victim.
func (r *pgRebuild) lockTimeout(ctx context.Context) (time.Duration, error) {
	var ms int64
	if err := r.live.x.GetContext(ctx, &ms, "SELECT setting::bigint FROM pg_settings WHERE name = 'deadlock_timeout'"); err != nil {
		return 0, fmt.Errorf("read deadlock_timeout: %w", err)
	}
	return max(time.Millisecond, min(pgSwapLockTimeout, time.Duration(ms)*time.Millisecond/2)), nil
}

// retrySwap runs attempt until it succeeds, fails for another reason
// than a lock it could not get in time, or pgSwapPatience runs out; the
// pauses grow from 50 ms to a second, with jitter, so that a swap and
// the projector's batches do not keep colliding in step.
func retrySwap(ctx context.Context, attempt func() error) error {
	deadline := time.Now().Add(pgSwapPatience)
	pause := 50 * time.Millisecond
	for {
		err := attempt()
		var pqErr *pq.Error
		if err == nil || !errors.As(err, &pqErr) || (pqErr.Code != "55P03" && pqErr.Code != "40P01") {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("could not lock the live tables within %s: %w", pgSwapPatience, err)
		}
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}

// swapOnce locks the checkpoint and every live table that a fresh one
// replaces, in one statement, then drops them and moves the fresh ones
// in. The checkpoint comes first, as in every projector batch, so that
// the two never wait on each other crosswise.
func (r *pgRebuild) swapOnce(ctx context.Context, names []string, lockTimeout time.Duration) error {
	r.at("lock")
	tx, err := r.live.x.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", lockTimeout.Milliseconds())); err != nil {
		return err
	}
	var existing []string
	if err := tx.SelectContext(ctx, &existing, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name = ANY($2)
		ORDER BY table_name = 'projector_checkpoint' DESC, table_name`, r.liveSchema, pq.Array(names)); err != nil {
		return fmt.Errorf("list live tables: %w", err)
	}
	live, fresh := pq.QuoteIdentifier(r.liveSchema), pq.QuoteIdentifier(RebuildSchema)
	var stmts []string
	if len(existing) > 0 {
		quoted := make([]string, len(existing))
		for i, n := range existing {
			quoted[i] = live + "." + pq.QuoteIdentifier(n)
		}
		stmts = append(stmts, "LOCK TABLE "+strings.Join(quoted, ", ")+" IN ACCESS EXCLUSIVE MODE")
	}
	for _, n := range names {
		t := pq.QuoteIdentifier(n)
		stmts = append(stmts,
			"DROP TABLE IF EXISTS "+live+"."+t+" CASCADE",
			"ALTER TABLE "+fresh+"."+t+" SET SCHEMA "+live)
	}
	// The live lease stays: the projector holding it goes on holding it.
	stmts = append(stmts, "DROP TABLE IF EXISTS "+fresh+"."+pq.QuoteIdentifier(leaseTable), "DROP SCHEMA "+fresh)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

// close drops the fresh schema unless it was swapped in, and releases the
// rebuild lock.
func (r *pgRebuild) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.stopStatistics()
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
