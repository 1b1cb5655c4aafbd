package readstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/failforward/failforward/schema"
)

// Migrate applies every migration of the database's dialect that has not
// run yet, in order, each in its own transaction together with its entry
// in schema_migrations. Running it twice changes nothing, and neither
// does running it from two processes at once (two projectors starting
// together): the second waits for the first.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := db.eng.lockMigrations(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate %s read store: %w", db.Dialect, err)
	}
	defer unlock()
	if _, err := db.x.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s read store: %w", db.Dialect, err)
	}
	dir := path.Join("migrations", string(db.Dialect))
	entries, err := fs.ReadDir(schema.Migrations, dir)
	if err != nil {
		return fmt.Errorf("read %s migrations: %w", db.Dialect, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number: %w", name, err)
		}
		body, err := fs.ReadFile(schema.Migrations, path.Join(dir, name))
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if err := db.migrate(ctx, version, name, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, version int, name, body string) error {
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind("SELECT count(*) FROM schema_migrations WHERE version = ?"), version); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO schema_migrations (version, name) VALUES (?, ?)"), version, name); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	return nil
}
