package readstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

func TestMigrateTwiceAndPosition(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		pos, err := db.Position(ctx)
		if err != nil || pos != 0 {
			t.Fatalf("Position() = %d, %v; want 0, nil", pos, err)
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := readstore.SetPosition(ctx, tx, 42); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := db.WaitForPosition(wctx, 42); err != nil {
			t.Fatalf("WaitForPosition(42) = %v", err)
		}
		wctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := db.WaitForPosition(wctx, 43); !errors.Is(err, readstore.ErrNotCaughtUp) {
			t.Fatalf("WaitForPosition(43) = %v, want ErrNotCaughtUp", err)
		}
	})
}

func TestTimesRoundTrip(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
		_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO innovations (id, team, title, description, launched_at, recorded_at, version, position)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), "i1", "t", "x", "", at, at, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := db.GetContext(ctx, &got, "SELECT launched_at FROM innovations"); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(at) {
			t.Fatalf("launched_at = %v, want %v", got, at)
		}
		var n int
		if err := db.GetContext(ctx, &n, db.Rebind("SELECT count(*) FROM innovations WHERE launched_at >= ? AND launched_at < ?"),
			at.Add(-time.Millisecond), at.Add(time.Millisecond)); err != nil || n != 1 {
			t.Fatalf("range count = %d, %v; want 1", n, err)
		}
	})
}

func TestOpenRejectsCorruptSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "read.db")
	if err := os.WriteFile(path, []byte("this is not a database, it is a text file that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := readstore.Open(context.Background(), "sqlite:"+path); err == nil {
		db.Close()
		t.Fatal("Open of a corrupt file succeeded")
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "40P01"}, true},
		{fmt.Errorf("outcome metrics: %w", &pq.Error{Code: "40001"}), true},
		{&pq.Error{Code: "23505"}, false},
		{errors.New("deadlock detected"), false},
		{nil, false},
	} {
		if got := readstore.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBulkInsertAndLock(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		tags := readstore.NewTable("experiment_tags", "experiment_id", "tag")
		// More rows than fit one chunk of a multi-row INSERT, twice over,
		// and a remainder.
		const n = 1234
		rows := make([]any, 0, 2*n)
		for i := range n {
			rows = append(rows, fmt.Sprintf("e%04d", i), "t")
		}
		for range 2 { // the second time, the statements are cached
			tx, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pos, err := tx.LockPosition(ctx); err != nil || pos != 0 {
				t.Fatalf("LockPosition() = %d, %v; want 0, nil", pos, err)
			}
			if err := tx.BulkInsert(ctx, tags, rows); err != nil {
				t.Fatal(err)
			}
			var got int
			if err := tx.GetContext(ctx, &got, "SELECT count(*) FROM experiment_tags"); err != nil || got != n {
				t.Fatalf("count = %d, %v; want %d", got, err, n)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.BulkInsert(ctx, tags, rows[:3]); err == nil {
			t.Error("BulkInsert of half a row succeeded")
		}
	})
}

// TestMigrateConcurrently migrates one fresh database from several
// handles at once, as projectors starting together do: every one
// succeeds.
func TestMigrateConcurrently(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		url := readstoretest.URL(t, d)
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() {
				db, err := readstore.Open(context.Background(), url)
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				errs <- db.Migrate(context.Background())
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("Migrate() = %v", err)
			}
		}
	})
}
