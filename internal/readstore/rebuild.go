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

// stages calls a test's hook, when one is set, as a swap reaches each of
// its stages.
type stages struct{ hook func(stage string) }

func (s *stages) setHook(f func(stage string)) { s.hook = f }

func (s *stages) at(stage string) {
	if s.hook != nil {
		s.hook(stage)
	}
}

// Rebuild is a fresh, empty, migrated read store beside a live one, and
// the way to swap its tables in for the live ones (blue/green): on
// Postgres the fresh tables live in the schema RebuildSchema of the same
// database, on SQLite in the file <path>.rebuild next to the live one.
// Nothing written there takes a lock that readers of the live tables
// wait on. The fresh tables have their keys and unique indexes, which
// the projection relies on, but not their other indexes until Swap; and
// their commits do not wait for the disk, since a crash loses nothing but
// the rebuild.
type Rebuild struct {
	r rebuilder
}

// RebuildOptions say how a rebuild fills its fresh tables.
type RebuildOptions struct {
	// DeferIndexes drops the fresh tables' secondary indexes (and, on
	// SQLite, the triggers that keep the full-text indexes) while they
	// fill, and builds them in Swap: one sort per index costs much less
	// than keeping it up to date row by row. Keys and unique indexes
	// always stay. Set it only when the writer of the fresh tables names
	// in KeepIndexes every index it looks rows up by, since without them
	// each lookup reads a whole table.
	DeferIndexes bool
	// KeepIndexes are the secondary indexes DeferIndexes keeps.
	KeepIndexes []string
}

// NewRebuild prepares a fresh store beside db, dropping whatever an
// interrupted rebuild left. On Postgres it holds an advisory lock until
// Close, so that a second rebuild of the same database fails with
// ErrRebuildRunning rather than build in the same schema.
func (db *DB) NewRebuild(ctx context.Context, opts RebuildOptions) (*Rebuild, error) {
	r, err := db.eng.prepareRebuild(ctx, db, opts)
	if err != nil {
		return nil, fmt.Errorf("prepare the rebuild of %s: %w", db.Location, err)
	}
	return &Rebuild{r: r}, nil
}

// DB is the fresh store to replay into. Swap closes it.
func (r *Rebuild) DB() *DB { return r.r.fresh() }

// Swap builds the fresh tables' secondary indexes (filled without them,
// they build in one sort each), then replaces the live tables with the
// fresh ones in one transaction: readers see the old tables until it
// commits and the new ones after, and a projector running on the live
// store finds its checkpoint moved.
//
// No reader waits on it for long. On Postgres the transaction locks the
// live tables, checkpoint first as every projector batch does, and gives
// up after 100 ms when a long read holds one of them, to try again a
// little later, for up to five minutes; readers queue behind it at most
// that long. On SQLite readers never wait (WAL mode: they read the
// snapshot they began on); the projector's next batch waits for the
// transaction, which copies the rows, builds the indexes and the
// full-text indexes.
func (r *Rebuild) Swap(ctx context.Context) error { return r.r.swap(ctx) }

// Close removes what is left of the fresh store, swapped in or not, and
// releases the rebuild's lock. It does not use the caller's context, so
// that it also cleans up after a cancelled rebuild.
func (r *Rebuild) Close() { r.r.close() }
