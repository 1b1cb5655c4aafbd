package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/failforward/failforward/internal/readstore"
)

// Targets of the replay scenario.
const (
	replayMinShare     = 0.50      // of the raw insert, both read stores
	replayMaxPeakBytes = 200 << 20 // peak memory of the projector, Postgres
)

// replayScenario replays the generated history with the projector, from
// an empty read store to the end of the stream, in a process of its own,
// and beside it writes the very rows that replay produced into another
// empty read store with plain multi-row INSERTs: the floor that any
// projection of those rows pays.
func (b *bench) replayScenario(ctx context.Context) error {
	if b.pg == nil {
		b.rep.skip("replay/pg", "events/s and peak memory into Postgres", 3, "DATABASE_URL is not set")
	}
	return eachDialect("replay", (*bench).replay)(b, ctx)
}

// rawName names the raw insert into a store of dialect d.
func rawName(d readstore.Dialect) string {
	if d == readstore.Postgres {
		return "raw COPY"
	}
	return "raw INSERT"
}

func (b *bench) replay(ctx context.Context, d readstore.Dialect) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	name := label("replay", d)
	u, res, err := b.replayInto(ctx, data, d)
	if err != nil {
		return err
	}
	rows, rawTook, err := b.rawInsert(ctx, u, d)
	if err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}
	rate := float64(data.last) / res.took.Seconds()
	rawRate := float64(data.last) / rawTook.Seconds()
	targets := []target{shareOfBaseline(replayMinShare)}
	memory := []target(nil)
	if d == readstore.Postgres {
		memory = []target{below(replayMaxPeakBytes, bytesUnit)}
	}
	b.rep.add(figure{
		scenario: name, name: fmt.Sprintf("projector replay, %s events", thousands(float64(data.last))),
		value: rate, unit: perSecond, base: &baseline{rawName(d), rawRate}, targets: targets,
		note: fmt.Sprintf("%.1fs, of which indexes and swap %s; raw wrote the same %s rows in %.1fs",
			res.took.Seconds(), cmp.Or(res.swap, "not logged"), thousands(float64(rows)), rawTook.Seconds()),
	})
	b.rep.add(figure{
		scenario: name, name: "projector peak memory (RSS, VmHWM)", value: float64(res.peakRSS), unit: bytesUnit,
		targets: memory, note: "peak Go heap " + bytesUnit.format(res.peakHeap) + ", sampled from /metrics every 100ms",
	})
	return nil
}

// replayed is what a replay took, and what the projector process said
// of it.
type replayed struct {
	took     time.Duration
	peakRSS  uint64
	peakHeap float64
	// swap is the part of took that the fresh replay spent building the
	// deferred indexes and swapping its tables in, as the projector
	// logged it; "" when it did not say.
	swap string
}

// replayInto replays the generated history into a new read store of
// dialect d with a projector process, and returns the store's URL and
// the time from the projector's start (connected and migrated) to its
// position at the stream's end.
func (b *bench) replayInto(ctx context.Context, data *dataset, d readstore.Dialect) (string, replayed, error) {
	u, err := b.freshStore(ctx, d)
	if err != nil {
		return "", replayed{}, err
	}
	var res replayed
	p, err := b.startProjector(ctx, data.broker.url, u)
	if err != nil {
		return "", res, err
	}
	start := time.Now()
	err = p.reach(ctx, b.client, data.last, func(m map[string]float64) {
		res.peakHeap = max(res.peakHeap, m["go_memstats_heap_alloc_bytes"])
	})
	res.took, res.peakRSS = time.Since(start), p.peakRSS()
	if d, err := time.ParseDuration(p.out.field("rebuild swapped in", "swap")); err == nil {
		res.swap = fmt.Sprintf("%.1fs", d.Seconds())
	}
	if serr := p.stop(); err == nil {
		err = serr
	}
	if err == nil {
		err = b.checkReplayed(ctx, u, d, data.last)
	}
	if err != nil {
		return "", res, err
	}
	b.projected[d] = projected{url: u, replay: res.took}
	return u, res, nil
}

// checkReplayed makes sure the read store at u holds the whole history,
// with nothing skipped.
func (b *bench) checkReplayed(ctx context.Context, u string, d readstore.Dialect, last uint64) error {
	db, err := readstore.Open(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	var skipped int
	if err := db.GetContext(ctx, &skipped, "SELECT count(*) FROM projector_skipped"); err != nil {
		return err
	}
	if skipped > 0 {
		return fmt.Errorf("the projector skipped %d events of the generated history", skipped)
	}
	if pos, err := db.Position(ctx); err != nil || pos != last {
		return fmt.Errorf("the read store is at %d (%v), want %d", pos, err, last)
	}
	if d == readstore.Postgres {
		return b.autovacuum(ctx, db, "replay/pg")
	}
	return nil
}

// autovacuum does what Postgres's autovacuum would have done by now after
// a replay or a growth, when the server runs without it (this machine's CI
// configuration turns it off): without statistics and with the dead rows
// of a million upserts left in place, the query figures would be those of
// a server nobody runs in production. Its time is not counted.
func (b *bench) autovacuum(ctx context.Context, db *readstore.DB, scenario string) error {
	var on string
	if err := db.GetContext(ctx, &on, "SHOW autovacuum"); err != nil {
		return err
	}
	if on == "on" {
		return nil
	}
	start := time.Now()
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		return fmt.Errorf("vacuum analyze: %w", err)
	}
	b.rep.notef(scenario, "autovacuum is off on this server: ran VACUUM ANALYZE (%.1fs, not counted), as autovacuum would have", time.Since(start).Seconds())
	return nil
}

// projectedStore returns a read store of dialect d holding the generated
// history: the one the replay scenario built or, when it did not run, one
// replayed now.
func (b *bench) projectedStore(ctx context.Context, data *dataset, d readstore.Dialect) (string, error) {
	if p, ok := b.projected[d]; ok {
		return p.url, nil
	}
	u, res, err := b.replayInto(ctx, data, d)
	if err != nil {
		return "", err
	}
	b.rep.notef(label("replay", d), "history replayed for the scenarios that read it, in %.1fs", res.took.Seconds())
	return u, nil
}

// rawBatch is the rows of one multi-row INSERT in the raw insert into
// SQLite, and rawChunk the rows gathered from the source before they are
// written: only the writes are timed.
const (
	rawBatch = 500
	rawChunk = 10_000
)

// rawInsert copies every read-model row of the read store at u into a
// new, migrated read store of the same dialect, the fastest way each
// store takes rows: COPY on Postgres, multi-row INSERTs of rawBatch rows
// on SQLite, one transaction per table. It returns how many rows it wrote
// and the time the writes and commits took: reading the rows from the
// source is not counted.
func (b *bench) rawInsert(ctx context.Context, u string, d readstore.Dialect) (int, time.Duration, error) {
	from, err := readstore.Open(ctx, u)
	if err != nil {
		return 0, 0, err
	}
	defer from.Close()
	rawURL, err := b.freshStore(ctx, d)
	if err != nil {
		return 0, 0, err
	}
	defer b.dropStore(rawURL)
	to, err := openStore(ctx, rawURL)
	if err != nil {
		return 0, 0, err
	}
	defer to.Close()
	var pg *sql.DB
	if d == readstore.Postgres {
		// COPY straight through the driver, with nothing of ours on top.
		if pg, err = sql.Open("postgres", rawURL); err != nil {
			return 0, 0, err
		}
		defer pg.Close()
	}
	tables, err := tablesOf(ctx, from)
	if err != nil {
		return 0, 0, err
	}
	var (
		total int
		spent time.Duration
	)
	for _, table := range tables {
		n, took, err := copyTable(ctx, from, table, func(cols []string) (rawWriter, error) {
			if pg != nil {
				return newCopyWriter(ctx, pg, table, cols)
			}
			return newInsertWriter(ctx, to, table, cols)
		})
		if err != nil {
			return 0, 0, fmt.Errorf("table %s: %w", table, err)
		}
		total += n
		spent += took
	}
	return total, spent, nil
}

// rawWriter writes the rows of one table in one transaction.
type rawWriter interface {
	write(rows [][]any) error
	// commit ends the writes and commits them; rollback gives them up.
	commit() error
	rollback()
}

func copyTable(ctx context.Context, from *readstore.DB, table string, open func(cols []string) (rawWriter, error)) (int, time.Duration, error) {
	query := "SELECT * FROM " + table
	if from.Dialect == readstore.Postgres {
		// Generated columns (the search documents' tsvectors) take no value.
		var cols []string
		if err := from.SelectContext(ctx, &cols, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, table); err != nil {
			return 0, 0, err
		}
		query = "SELECT " + strings.Join(cols, ", ") + " FROM " + table
	}
	rows, err := from.QueryContext(ctx, query)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, 0, err
	}
	var (
		batch   [][]any
		spent   time.Duration
		written int
	)
	timed := func(f func() error) error {
		start := time.Now()
		err := f()
		spent += time.Since(start)
		return err
	}
	var w rawWriter
	if err := timed(func() (err error) { w, err = open(cols); return err }); err != nil {
		return 0, 0, err
	}
	defer w.rollback()
	// The rows of a chunk are gathered first, and only the writes are
	// timed.
	write := func() error {
		err := timed(func() error { return w.write(batch) })
		written += len(batch)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, 0, err
		}
		if batch = append(batch, vals); len(batch) == rawChunk {
			if err := write(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if err := write(); err != nil {
		return 0, 0, err
	}
	return written, spent, timed(w.commit)
}

// copyWriter writes rows with Postgres's COPY, through lib/pq.
type copyWriter struct {
	ctx context.Context
	tx  *sql.Tx
	st  *sql.Stmt
}

func newCopyWriter(ctx context.Context, db *sql.DB, table string, cols []string) (*copyWriter, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	st, err := tx.PrepareContext(ctx, "COPY "+pq.QuoteIdentifier(table)+" ("+strings.Join(quoted, ", ")+") FROM STDIN")
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return &copyWriter{ctx: ctx, tx: tx, st: st}, nil
}

func (w *copyWriter) write(rows [][]any) error {
	for _, r := range rows {
		if _, err := w.st.ExecContext(w.ctx, r...); err != nil {
			return err
		}
	}
	return nil
}

func (w *copyWriter) commit() error {
	// Without arguments, Exec ends the COPY and reports how it went.
	if _, err := w.st.ExecContext(w.ctx); err != nil {
		return err
	}
	if err := w.st.Close(); err != nil {
		return err
	}
	return w.tx.Commit()
}

func (w *copyWriter) rollback() { _ = w.tx.Rollback() }

// insertWriter writes rows with multi-row INSERTs of rawBatch rows.
type insertWriter struct {
	ctx   context.Context
	tx    *readstore.Tx
	db    *readstore.DB
	table string
	cols  []string
	full  string // the statement for rawBatch rows
	args  []any
}

func newInsertWriter(ctx context.Context, db *readstore.DB, table string, cols []string) (*insertWriter, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &insertWriter{ctx: ctx, tx: tx, db: db, table: table, cols: cols}, nil
}

func (w *insertWriter) write(rows [][]any) error {
	for chunk := range slices.Chunk(rows, rawBatch) {
		w.args = w.args[:0]
		for _, r := range chunk {
			w.args = append(w.args, r...)
		}
		if _, err := w.tx.ExecContext(w.ctx, w.statement(len(chunk)), w.args...); err != nil {
			return err
		}
	}
	return nil
}

func (w *insertWriter) commit() error { return w.tx.Commit() }

func (w *insertWriter) rollback() { _ = w.tx.Rollback() }

func (w *insertWriter) statement(rows int) string {
	if rows == rawBatch && w.full != "" {
		return w.full
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(w.cols)), ", ") + ")"
	q := w.db.Rebind("INSERT INTO " + w.table + " (" + strings.Join(w.cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+", ", rows), ", "))
	if rows == rawBatch {
		w.full = q
	}
	return q
}

// tablesOf lists the read-model tables of db that hold projected rows:
// all but the migrations' bookkeeping and the checkpoint, which the raw
// insert has no use for.
func tablesOf(ctx context.Context, db *readstore.DB) ([]string, error) {
	// Ordinary tables only: triggers fill the full-text indexes.
	q := "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if db.Dialect == readstore.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	var names []string
	if err := db.SelectContext(ctx, &names, q); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(n string) bool {
		return n == "schema_migrations" || n == "projector_checkpoint" || n == "projector_lease"
	}), nil
}
