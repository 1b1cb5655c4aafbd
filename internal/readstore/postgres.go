package readstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // Postgres driver, registered as "postgres".
)

// postgres is what the read store does the Postgres way.
type postgres struct{}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	x, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres read store: %w", err)
	}
	x.SetMaxOpenConns(16)
	x.SetMaxIdleConns(16)
	x.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{x: x, eng: postgres{}, dsn: dsn, now: time.Now, Dialect: Postgres, Location: redact(dsn)}
	if err := db.ping(ctx); err != nil {
		x.Close()
		return nil, err
	}
	return db, nil
}

func (postgres) lockPositionSQL() string {
	return "SELECT position FROM projector_checkpoint WHERE id = 1 FOR UPDATE"
}

// leaseTime reckons on the server's clock, so that the clocks of the
// projectors' hosts do not matter; clock_timestamp, not now, since now
// stands still for a whole transaction.
func (postgres) leaseTime(_ time.Time, d time.Duration) (string, []any) {
	if d == 0 {
		return "clock_timestamp()", nil
	}
	return "clock_timestamp() + make_interval(secs => ?)", []any{d.Seconds()}
}

func (postgres) leaseRemaining(time.Time) (string, []any) {
	return "CAST(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000000 AS BIGINT)", nil
}

// lockLeaseSQL shares the lease row's lock: a taking of the lease, which
// updates the row, waits until the batch that checked it has committed,
// and a batch that checks after the taking sees it.
func (postgres) lockLeaseSQL() string {
	return "SELECT holder, epoch FROM projector_lease WHERE id = 1 FOR SHARE"
}

// leasedStatementTimeout bounds each statement of a leased transaction,
// for a client frozen in the middle of a COPY, which the idle timeout
// does not see. A batch's statements take milliseconds.
const leasedStatementTimeout = 10 * time.Second

// boundLeased has the server end the transaction, and its session, once
// its client has been silent between statements for as long as the lease
// lasts, or one statement runs past leasedStatementTimeout: a frozen
// projector's locks would otherwise keep the one that took over waiting,
// since a stopped process keeps its connection open.
func (postgres) boundLeased(ctx context.Context, tx *Tx, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	idle := strconv.FormatInt(max(ttl, time.Millisecond).Milliseconds(), 10)
	stmt := strconv.FormatInt(max(ttl, leasedStatementTimeout).Milliseconds(), 10)
	_, err := tx.tx.ExecContext(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1, true), set_config('statement_timeout', $2, true)", idle, stmt)
	return err
}

// bulkInsert sends rows through COPY … FROM STDIN. Postgres spends longer
// binding and planning a multi-row INSERT's thousands of parameters than
// inserting the rows they fill; a batch's 500 history rows took it about
// half the server time, and the client half its time, through COPY.
func (postgres) bulkInsert(ctx context.Context, tx *Tx, t *Table, rows []any) error {
	st, err := tx.tx.PrepareContext(ctx, t.copySQL)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", t.Name, err)
	}
	defer st.Close()
	width := len(t.Columns)
	for row := range slices.Chunk(rows, width) {
		if _, err := st.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("copy into %s: %w", t.Name, err)
		}
	}
	// Without arguments, Exec ends the COPY and reports how it went.
	if _, err := st.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(rows)/width, t.Name, err)
	}
	return nil
}

// migrateLockKey is the advisory lock that keeps two processes from
// migrating one database at once: CREATE TABLE from two sessions at once
// fails in one of them, IF NOT EXISTS or not.
const migrateLockKey = 0x6661696c6d696772 // "failmigr"

// lockMigrations takes the migrations' advisory lock on a connection of
// its own, which holds it until unlock. It is per database, not per
// schema: a rebuild's fresh schema waits for a live migration too.
func (postgres) lockMigrations(ctx context.Context, db *DB) (func(), error) {
	conn, err := db.x.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("take the migrations' lock: %w", err)
	}
	return func() {
		// The lock belongs to the session, which outlives Close in the pool.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(migrateLockKey))
		conn.Close()
	}, nil
}

// rebuildLockKey is the advisory lock that keeps two rebuilds of one
// database apart: both would build in the same schema.
const rebuildLockKey = 0x6661696c666f7277 // "failforw"

// pgRebuild builds fresh tables in RebuildSchema through a pool whose
// search_path is that schema, so that the migrations and the projection
// run unchanged, unqualified; the swap moves them into the live schema.
type pgRebuild struct {
	live       *DB
	db         *DB
	lock       *sql.Conn
	liveSchema string
	swapped    bool
}

func (postgres) prepareRebuild(ctx context.Context, live *DB) (_ rebuilder, err error) {
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

func (r *pgRebuild) fresh() *DB { return r.db }

// swap moves every fresh table into the live schema in one transaction,
// dropping the live table of the same name. A lock it cannot get within a
// few seconds (a long reader) aborts the attempt, which is retried.
func (r *pgRebuild) swap(ctx context.Context) error {
	var names []string
	if err := r.live.x.SelectContext(ctx, &names, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, RebuildSchema); err != nil {
		return fmt.Errorf("list rebuilt tables: %w", err)
	}
	// Fresh tables have no planner statistics; without them the first
	// queries after the swap plan as if the tables were empty, until
	// autovacuum gets round to them. Gather them now, outside the swap's
	// locks.
	for _, n := range names {
		if _, err := r.live.x.ExecContext(ctx, "ANALYZE "+pq.QuoteIdentifier(RebuildSchema)+"."+pq.QuoteIdentifier(n)); err != nil {
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
	tx, err := r.live.x.BeginTxx(ctx, nil)
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
// rebuild lock.
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
