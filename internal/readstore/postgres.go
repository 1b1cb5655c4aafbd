package readstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // Postgres driver, registered as "postgres".
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
