package readstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
)

// sqliteRebuild builds fresh tables in a file next to the live database.
// SQLite cannot move a table between files, so the swap copies: it
// attaches the fresh file and, in one write transaction on the live
// database, drops every live table the fresh file has, creates it anew,
// copies the fresh rows in, and then builds its indexes, triggers and
// full-text indexes.
//
// Readers are never blocked by it: in WAL mode they keep reading the
// snapshot they started on, the old tables, until the transaction
// commits, and the new ones after. Only writers wait for it (SQLite has
// one writer at a time), and the one writer of a read store is the
// projector, whose batch could not commit across the swap anyway: it
// finds the checkpoint moved and resumes from the rebuilt one. Copying
// into empty tables with no indexes or triggers lets SQLite copy records
// as they are, without decoding them, and building each index in one
// sort afterwards costs much less than keeping it up to date row by row,
// so the write lock is held as briefly as a copy of the read models
// allows. A batch that waits longer than the store's busy timeout (ten
// seconds) fails and is retried, and SQLite's automatic checkpoint,
// which never waits for readers, folds the swap into the file as the
// readers of the old snapshot finish.
type sqliteRebuild struct {
	live *DB
	db   *DB
	path string
	// deferred are the CREATE INDEX and CREATE TRIGGER statements of the
	// objects dropped from the fresh file while it fills: the indexes
	// that no key or unique constraint needs, and the triggers that keep
	// the full-text indexes in step, which the swap builds in one go.
	deferred []string
	stages
}

// sqliteRebuildPragmas speed up the fresh file's writes: it is worth
// nothing until the swap, which reads it only after closing it, so its
// commits need not reach the disk; and the replay's batches touch many
// pages of its indexes at once.
var sqliteRebuildPragmas = []string{"synchronous(OFF)", "cache_size(-65536)"}

func (sqlite) prepareRebuild(ctx context.Context, live *DB, opts RebuildOptions) (rebuilder, error) {
	r := &sqliteRebuild{live: live, path: live.dsn + ".rebuild"}
	r.remove()
	db, err := openSQLite(ctx, r.path, sqliteRebuildPragmas...)
	if err != nil {
		return nil, err
	}
	r.db = db
	if err := db.Migrate(ctx); err != nil {
		r.close()
		return nil, err
	}
	if opts.DeferIndexes {
		if err := r.deferObjects(ctx, opts.KeepIndexes); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// deferObjects drops the fresh file's triggers and secondary indexes but
// those in keep, and keeps their definitions for the swap. Unique indexes
// (SQLite's own for keys and UNIQUE constraints, and any declared unique)
// stay.
func (r *sqliteRebuild) deferObjects(ctx context.Context, keep []string) error {
	var objs []struct {
		Type string `db:"type"`
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	if err := r.db.x.SelectContext(ctx, &objs, `SELECT type, name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND (type = 'trigger' OR (type = 'index' AND sql NOT LIKE 'CREATE UNIQUE %'))
		ORDER BY type, name`); err != nil {
		return fmt.Errorf("list the fresh indexes and triggers: %w", err)
	}
	for _, o := range objs {
		if o.Type == "index" && slices.Contains(keep, o.Name) {
			continue
		}
		if _, err := r.db.x.ExecContext(ctx, "DROP "+strings.ToUpper(o.Type)+" "+quoteSQLite(o.Name)); err != nil {
			return fmt.Errorf("defer %s %s: %w", o.Type, o.Name, err)
		}
		r.deferred = append(r.deferred, o.SQL)
	}
	return nil
}

func (r *sqliteRebuild) fresh() *DB { return r.db }

// freshTable is a table of the fresh file, as the swap recreates it.
type freshTable struct {
	Name string `db:"name"`
	Type string `db:"type"` // "table", or "virtual" for a full-text index
	SQL  string `db:"sql"`
}

func (r *sqliteRebuild) swap(ctx context.Context) error {
	// Closing the last connection folds the fresh file's WAL into it, so
	// that the attached file holds every row.
	err := r.db.Close()
	r.db = nil
	if err != nil {
		return err
	}
	r.at("before-swap")
	conn, err := r.live.x.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS rebuild", r.path); err != nil {
		return fmt.Errorf("attach %s: %w", r.path, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE rebuild")
	var tables []freshTable
	// The virtual tables' shadow tables (type "shadow") are theirs to
	// create; sqlite_ tables are SQLite's own.
	if err := conn.SelectContext(ctx, &tables, `SELECT l.name, l.type, s.sql
		FROM pragma_table_list l JOIN rebuild.sqlite_schema s ON s.name = l.name AND s.type = 'table'
		WHERE l.schema = 'rebuild' AND l.type IN ('table', 'virtual') AND l.name NOT LIKE 'sqlite_%' AND l.name <> ?
		ORDER BY l.type, l.name`, leaseTable); err != nil {
		return fmt.Errorf("list rebuilt tables: %w", err)
	}
	// The indexes and triggers the fresh file kept, and those it deferred.
	var objects []string
	if err := conn.SelectContext(ctx, &objects, `SELECT sql FROM rebuild.sqlite_schema
		WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name`); err != nil {
		return fmt.Errorf("list rebuilt indexes: %w", err)
	}
	// The read store begins its transactions IMMEDIATE: this one holds the
	// write lock from the start, so a projector batch waits for it.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range swapStatements(tables, append(objects, r.deferred...)) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	r.at("swap-written")
	return tx.Commit()
}

// swapStatements replaces the live tables with the fresh ones: every
// table dropped, created as the fresh file has it (unqualified, so in
// main), filled while it has no index or trigger but its keys, then its
// indexes and triggers, and last the full-text indexes built from the
// tables they index.
func swapStatements(tables []freshTable, objects []string) []string {
	var drop, create, fill, index []string
	for _, t := range tables {
		name := quoteSQLite(t.Name)
		drop = append(drop, "DROP TABLE IF EXISTS main."+name)
		create = append(create, t.SQL)
		switch {
		case t.Type == "table":
			// The same definition, so the same columns in the same order;
			// and SELECT * is what lets SQLite copy the records whole.
			fill = append(fill, "INSERT INTO main."+name+" SELECT * FROM rebuild."+name)
		case strings.Contains(strings.ToLower(t.SQL), "using fts5"):
			index = append(index, "INSERT INTO main."+name+" ("+name+") VALUES ('rebuild')")
		}
	}
	return append(append(append(append(drop, create...), fill...), objects...), index...)
}

func quoteSQLite(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// close removes the fresh file, swapped in or not: after a swap its rows
// live in the live database.
func (r *sqliteRebuild) close() {
	if r.db != nil {
		r.db.Close()
	}
	r.remove()
}

func (r *sqliteRebuild) remove() {
	// Best effort: a file left behind is removed by the next rebuild.
	for _, p := range []string{r.path, r.path + "-wal", r.path + "-shm"} {
		_ = os.Remove(p)
	}
}
