package readstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// A Postgres nobody listens for is unavailable, not a failed query.
func TestUnavailableWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	x, err := sqlx.Open("postgres", fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=2", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err = x.GetContext(ctx, &n, "SELECT 1")
	if err == nil {
		t.Fatal("a query on a closed port succeeded")
	}
	if !readstore.Unavailable(fmt.Errorf("list experiments: %w", err)) {
		t.Errorf("Unavailable(%v) = false, want true", err)
	}
}

func TestUnavailableClassifies(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("something else"), false},
		{fmt.Errorf("wrapped: %w", readstore.ErrUnavailable), true},
		{&pq.Error{Code: "57P01"}, true},  // admin shutdown
		{&pq.Error{Code: "57P02"}, true},  // crash shutdown
		{&pq.Error{Code: "57P03"}, true},  // cannot connect now
		{&pq.Error{Code: "08006"}, true},  // connection failure
		{&pq.Error{Code: "53300"}, true},  // too many connections
		{&pq.Error{Code: "42601"}, false}, // syntax error: our fault, not the database's
		{&pq.Error{Code: "23505"}, false},
	} {
		if got := readstore.Unavailable(tt.err); got != tt.want {
			t.Errorf("Unavailable(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}

// A query the database rejects is not an outage.
func TestQueryErrorIsNotUnavailable(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		db := readstoretest.Open(t, d)
		var n int
		err := db.GetContext(context.Background(), &n, "SELECT no_such_column FROM projector_checkpoint")
		if err == nil || readstore.Unavailable(err) {
			t.Errorf("bad query: %v, Unavailable %t; want an error that is not an outage", err, readstore.Unavailable(err))
		}
	})
}
