package readstore

import (
	"context"
	"errors"
	"fmt"
)

// RebuildSchema is the Postgres schema a rebuild builds its fresh tables
// in, beside the live ones.
const RebuildSchema = "failforward_rebuild"

// ErrRebuildRunning reports that another rebuild holds the database.
var ErrRebuildRunning = errors.New("another rebuild is running on this database")

// rebuilder is one dialect's blue/green swap.
type rebuilder interface {
	fresh() *DB
	swap(ctx context.Context) error
	close()
	// setHook makes the rebuild call f as it reaches each stage of the
	// swap, for tests that hold it there.
	setHook(f func(stage string))
}

// Rebuild is a fresh, empty, migrated read store beside a live one, and
// the way to swap its tables in for the live ones (blue/green): on
// Postgres the fresh tables live in the schema RebuildSchema of the same
// database, on SQLite in the file <path>.rebuild next to the live one.
type Rebuild struct {
	r rebuilder
}

// NewRebuild prepares a fresh store beside db, dropping whatever an
// interrupted rebuild left. On Postgres it holds an advisory lock until
// Close, so that a second rebuild of the same database fails with
// ErrRebuildRunning rather than build in the same schema.
func (db *DB) NewRebuild(ctx context.Context) (*Rebuild, error) {
	r, err := db.eng.prepareRebuild(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("prepare the rebuild of %s: %w", db.Location, err)
	}
	return &Rebuild{r: r}, nil
}

// DB is the fresh store to replay into. Swap closes it.
func (r *Rebuild) DB() *DB { return r.r.fresh() }

// Swap replaces the live tables with the fresh ones in one transaction,
// which takes the checkpoint's lock first, as every projector batch does:
// readers see the old tables until it commits and the new ones after, and
// a projector running on the live store finds its checkpoint moved.
func (r *Rebuild) Swap(ctx context.Context) error { return r.r.swap(ctx) }

// Close removes what is left of the fresh store, swapped in or not, and
// releases the rebuild's lock. It does not use the caller's context, so
// that it also cleans up after a cancelled rebuild.
func (r *Rebuild) Close() { r.r.close() }
