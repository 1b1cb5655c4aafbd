package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// Targets of the replay scenario.
const (
	replayMinRate      = 30_000    // events/s, both read stores
	replayMinShare     = 0.50      // of the raw insert, Postgres
	replayMaxPeakBytes = 200 << 20 // peak memory of the projector, Postgres
)

// replayScenario replays the generated history with the projector, from
// an empty read store to the end of the stream, in a process of its own,
// and beside it writes the very rows that replay produced into another
// empty read store with plain multi-row INSERTs: the floor that any
// projection of those rows pays.
func (b *bench) replayScenario(ctx context.Context) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	if b.pg == nil {
		b.rep.skip("replay/pg", "events/s and peak memory into Postgres", 3, "DATABASE_URL is not set")
	}
	for _, d := range b.dialects() {
		if err := b.replay(ctx, data, d); err != nil {
			b.rep.fail(label("replay", d), err)
		}
	}
	return nil
}

func (b *bench) replay(ctx context.Context, data *dataset, d readstore.Dialect) error {
	name := label("replay", d)
	u, took, res, err := b.replayInto(ctx, data, d)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()

	rawURL, err := b.freshStore(ctx, d)
	if err != nil {
		return err
	}
	defer b.dropStore(rawURL)
	raw, err := openStore(ctx, rawURL)
	if err != nil {
		return err
	}
	defer raw.Close()
	rows, rawTook, err := rawInsert(ctx, db, raw)
	if err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}

	rate := float64(data.events) / took.Seconds()
	rawRate := float64(data.events) / rawTook.Seconds()
	targets := []target{atLeast(replayMinRate, perSecond)}
	memory := []target(nil)
	if d == readstore.Postgres {
		targets = append([]target{shareOfBaseline(replayMinShare)}, targets...)
		memory = []target{below(replayMaxPeakBytes, bytesUnit)}
	}
	b.rep.add(figure{
		scenario: name, name: fmt.Sprintf("projector replay, %s events", thousands(float64(data.events))),
		value: rate, unit: perSecond, base: &baseline{"raw INSERT", rawRate}, targets: targets,
		note: fmt.Sprintf("%.1fs; raw wrote the same %s rows in %.1fs; projector: %s",
			took.Seconds(), thousands(float64(rows)), rawTook.Seconds(), res.Batches),
	})
	b.rep.add(figure{
		scenario: name, name: "projector peak memory (RSS, VmHWM)", value: float64(res.PeakRSS), unit: bytesUnit,
		targets: memory, note: "peak Go heap " + bytesUnit.format(float64(res.PeakHeap)),
	})
	return nil
}

// replayInto replays the generated history into a new read store of
// dialect d with a projector process, and returns the store's URL, the
// time from the projector's start to its checkpoint at the stream's end,
// and what the process reported.
func (b *bench) replayInto(ctx context.Context, data *dataset, d readstore.Dialect) (string, time.Duration, childResult, error) {
	u, err := b.freshStore(ctx, d)
	if err != nil {
		return "", 0, childResult{}, err
	}
	db, err := openStore(ctx, u)
	if err != nil {
		return "", 0, childResult{}, err
	}
	defer db.Close()
	name := strings.ReplaceAll(label("replay", d), "/", "-")
	took, res, err := b.runProjector(ctx, name, data.broker.url, u, func() (bool, error) {
		pos, err := db.Position(ctx)
		return pos >= data.last, err
	})
	if err != nil {
		return "", 0, childResult{}, err
	}
	var skipped int
	if err := db.GetContext(ctx, &skipped, "SELECT count(*) FROM projector_skipped"); err != nil {
		return "", 0, childResult{}, err
	}
	if skipped > 0 {
		return "", 0, childResult{}, fmt.Errorf("the projector skipped %d events of the generated history", skipped)
	}
	if d == readstore.Postgres {
		if err := b.autovacuum(ctx, db); err != nil {
			return "", 0, childResult{}, err
		}
	}
	b.projected[d] = projected{url: u, replay: took}
	return u, took, res, nil
}

// autovacuum does what Postgres's autovacuum would have done by now after
// a replay, when the server runs without it (this machine's CI
// configuration turns it off): without statistics and with the dead rows
// of a million upserts left in place, the query figures would be those of
// a server nobody runs in production. Its time is not counted.
func (b *bench) autovacuum(ctx context.Context, db *readstore.DB) error {
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
	b.rep.notef("replay/pg", "autovacuum is off on this server: ran VACUUM ANALYZE after the replay (%.1fs, not counted), as autovacuum would have", time.Since(start).Seconds())
	return nil
}

// projectedStore returns a read store of dialect d holding the generated
// history: the one the replay scenario built or, when it did not run, one
// replayed now.
func (b *bench) projectedStore(ctx context.Context, data *dataset, d readstore.Dialect) (string, error) {
	if p, ok := b.projected[d]; ok {
		return p.url, nil
	}
	u, took, _, err := b.replayInto(ctx, data, d)
	if err != nil {
		return "", err
	}
	b.rep.notef(label("replay", d), "history replayed for the scenarios that read it, in %.1fs", took.Seconds())
	return u, nil
}

// rawBatch and rawTx size the raw insert: rows per INSERT statement, and
// rows per transaction (about the rows one 500-event projector batch
// writes).
const (
	rawBatch = 500
	rawTx    = 2000
)

// rawInsert copies every read-model row of from into the empty, migrated
// read store to, with multi-row INSERTs of rawBatch rows committed every
// rawTx rows, and returns how many rows it wrote and the time the writes
// took: reading the rows from the source is not counted.
func rawInsert(ctx context.Context, from, to *readstore.DB) (int, time.Duration, error) {
	tables, err := tablesOf(ctx, from)
	if err != nil {
		return 0, 0, err
	}
	var (
		total int
		spent time.Duration
	)
	for _, table := range tables {
		n, took, err := copyTable(ctx, from, to, table)
		if err != nil {
			return 0, 0, fmt.Errorf("table %s: %w", table, err)
		}
		total += n
		spent += took
	}
	return total, spent, nil
}

func copyTable(ctx context.Context, from, to *readstore.DB, table string) (int, time.Duration, error) {
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
	ins := &inserter{db: to, table: table, cols: cols}
	var (
		batch   [][]any
		spent   time.Duration
		written int
	)
	// The rows of a transaction are gathered first, and only the writes
	// are timed.
	write := func() error {
		start := time.Now()
		err := ins.writeTx(ctx, batch)
		spent += time.Since(start)
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
		if batch = append(batch, vals); len(batch) == rawTx {
			if err := write(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if len(batch) > 0 {
		if err := write(); err != nil {
			return 0, 0, err
		}
	}
	return written, spent, nil
}

// inserter writes rows into one table with multi-row INSERTs.
type inserter struct {
	db    *readstore.DB
	table string
	cols  []string
	full  string // the statement for rawBatch rows
	args  []any
}

// writeTx inserts rows in one transaction, rawBatch rows per statement.
func (ins *inserter) writeTx(ctx context.Context, rows [][]any) error {
	tx, err := ins.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for chunk := range slices.Chunk(rows, rawBatch) {
		ins.args = ins.args[:0]
		for _, r := range chunk {
			ins.args = append(ins.args, r...)
		}
		if _, err := tx.ExecContext(ctx, ins.statement(len(chunk)), ins.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (ins *inserter) statement(rows int) string {
	if rows == rawBatch && ins.full != "" {
		return ins.full
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ins.cols)), ", ") + ")"
	q := ins.db.Rebind("INSERT INTO " + ins.table + " (" + strings.Join(ins.cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+", ", rows), ", "))
	if rows == rawBatch {
		ins.full = q
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
		return n == "schema_migrations" || n == "projector_checkpoint"
	}), nil
}
