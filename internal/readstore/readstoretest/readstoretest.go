// Package readstoretest gives tests fresh, migrated read stores of both
// dialects, so that one conformance suite runs against each.
package readstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/failforward/failforward/internal/readstore"
)

// Dialects lists the read stores every conformance suite runs against.
var Dialects = []readstore.Dialect{readstore.SQLite, readstore.Postgres}

// Each runs fn once per dialect as a subtest named after it.
func Each(t *testing.T, fn func(t *testing.T, dialect readstore.Dialect)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// Open returns a new, empty, migrated read store of dialect that is
// closed and dropped when the test ends.
func Open(tb testing.TB, dialect readstore.Dialect) *readstore.DB {
	tb.Helper()
	db, err := readstore.Open(context.Background(), URL(tb, dialect))
	if err != nil {
		tb.Fatalf("open %s read store: %v", dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate %s read store: %v", dialect, err)
	}
	return db
}

// Reopen opens the read store at url, as another process would, without
// migrating it; it is closed when the test ends.
func Reopen(tb testing.TB, url string) *readstore.DB {
	tb.Helper()
	db, err := readstore.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("open read store %s: %v", url, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// URL returns the address of a new, empty database of dialect: a file in
// the test's temporary directory for SQLite, a database created for this
// test on the server named by DATABASE_URL for Postgres. Without
// DATABASE_URL the test is skipped, except in CI (CI=true), where a
// missing database is a failure.
func URL(tb testing.TB, dialect readstore.Dialect) string {
	tb.Helper()
	if dialect == readstore.SQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "read.db")
	}
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("DATABASE_URL is not set; CI must run the Postgres tests")
		}
		tb.Skip("DATABASE_URL is not set; skipping Postgres")
	}
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		tb.Fatalf("connect to DATABASE_URL: %v", err)
	}
	defer admin.Close()
	name := "ff_test_" + randomHex(tb)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sqlx.Open("postgres", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Begin starts a transaction on db, rolled back when the test ends unless
// it was committed.
func Begin(tb testing.TB, db *readstore.DB) *readstore.Tx {
	tb.Helper()
	tx, err := db.Begin(context.Background())
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	tb.Cleanup(func() { tx.Rollback() })
	return tx
}
