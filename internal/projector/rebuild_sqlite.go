package projector

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/failforward/failforward/internal/readstore"
)

// sqliteRebuild builds fresh tables in a file next to the live database.
// SQLite cannot move a table between files, so the swap copies: it
// attaches the fresh file and, in one write transaction on the live
// database, replaces every table's rows with the fresh ones. Readers (WAL
// mode) keep seeing the old rows until that transaction commits.
type sqliteRebuild struct {
	live *readstore.DB
	db   *readstore.DB
	path string
}

func prepareSQLite(ctx context.Context, live *readstore.DB) (*sqliteRebuild, error) {
	r := &sqliteRebuild{live: live, path: live.Location + ".rebuild"}
	r.remove()
	db, err := readstore.Open(ctx, "sqlite:"+r.path)
	if err != nil {
		return nil, err
	}
	r.db = db
	if err := db.Migrate(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *sqliteRebuild) fresh() *readstore.DB { return r.db }

func (r *sqliteRebuild) swap(ctx context.Context) error {
	// Closing the last connection folds the fresh file's WAL into it, so
	// that the attached file holds every row.
	err := r.db.Close()
	r.db = nil
	if err != nil {
		return err
	}
	conn, err := r.live.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS rebuild", r.path); err != nil {
		return fmt.Errorf("attach %s: %w", r.path, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE rebuild")

	var names []string
	// Only ordinary tables: the full-text indexes (virtual tables and their
	// shadow tables) are filled by triggers as their tables' rows are copied.
	rows, err := conn.QueryContext(ctx, "SELECT name FROM pragma_table_list WHERE schema = 'rebuild' AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	cols := map[string]string{}
	for _, n := range names {
		var list []string
		rows, err := conn.QueryContext(ctx, "SELECT name FROM pragma_table_info(?, 'rebuild') ORDER BY cid", n)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return err
			}
			list = append(list, quoteSQLite(c))
		}
		rows.Close()
		cols[n] = strings.Join(list, ", ")
	}

	// The read store begins its transactions IMMEDIATE: this one holds the
	// write lock from the start, so a projector batch waits for it.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, n := range names {
		t := quoteSQLite(n)
		for _, q := range []string{
			"DELETE FROM main." + t,
			"INSERT INTO main." + t + " (" + cols[n] + ") SELECT " + cols[n] + " FROM rebuild." + t,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return tx.Commit()
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
