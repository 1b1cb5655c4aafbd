// Package projectortest gives tests of the projector and its command a
// plausible event history, a fast way to write it to the stream, and a
// row-for-row comparison of read stores.
package projectortest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/history"
	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/readstore"
)

// StartNATS starts an embedded JetStream server for the test, creates the
// event stream on it as the event store does, and connects to it.
func StartNATS(tb testing.TB) (*natsembed.Server, *nats.Conn) {
	tb.Helper()
	srv, nc := natsembedtest.Start(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := events.OpenStore(ctx, nc, events.StoreConfig{}); err != nil {
		tb.Fatalf("open event store: %v", err)
	}
	return srv, nc
}

// Event is one event of a generated history, with the subject it is
// written to.
type Event = history.Event

// Generate returns n events of a plausible history (see package
// history): about one experiment per ten events. The same seed gives the
// same history.
func Generate(n int, seed uint64) []Event {
	return history.Generate(history.Config{Events: n, Seed: seed})
}

// Recorded returns evs as the projector hands them to the projection:
// decoded from the bytes the stream would hold, with stream sequences
// from 1, for tests that apply a history without a stream.
func Recorded(tb testing.TB, evs []Event) []events.Recorded {
	tb.Helper()
	recs := make([]events.Recorded, len(evs))
	for i, ev := range evs {
		m, err := ev.Envelope.EncodeMsg(ev.Subject)
		if err != nil {
			tb.Fatal(err)
		}
		env, err := events.Decode(m.Data)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = events.Recorded{Envelope: env, StreamSubject: ev.Subject, Sequence: uint64(i + 1)}
	}
	return recs
}

// Publish writes evs to the stream as the event store would, but
// pipelined, so that tests can build long streams quickly.
func Publish(tb testing.TB, nc *nats.Conn, evs []Event) {
	tb.Helper()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		tb.Fatal(err)
	}
	for i, ev := range evs {
		m, err := ev.Envelope.EncodeMsg(ev.Subject)
		if err != nil {
			tb.Fatal(err)
		}
		// A loaded machine's server can fall seconds behind; waiting for it
		// is what a pipelined publisher should do.
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			tb.Fatalf("publish event %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		tb.Fatal("publishing timed out")
	}
	if n := js.PublishAsyncPending(); n != 0 {
		tb.Fatalf("%d publishes still pending", n)
	}
}

// StreamLast returns the last sequence of the event stream.
func StreamLast(tb testing.TB, nc *nats.Conn, stream string) uint64 {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		tb.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		ok, err := cond()
		if err != nil {
			tb.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// WaitPosition waits until the read store's checkpoint reaches pos.
func WaitPosition(tb testing.TB, db *readstore.DB, pos uint64, timeout time.Duration) {
	tb.Helper()
	WaitFor(tb, timeout, fmt.Sprintf("checkpoint %d", pos), func() (bool, error) {
		got, err := db.Position(context.Background())
		return got >= pos, err
	})
}

// Tables lists the read store's tables, the bookkeeping of migrations
// and of the projector lease aside.
func Tables(tb testing.TB, db *readstore.DB) []string {
	tb.Helper()
	// Full-text indexes (virtual tables and their shadow tables) are left
	// out: their bytes depend on the batches that wrote them.
	q := "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.Dialect == readstore.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	var names []string
	if err := db.SelectContext(context.Background(), &names, q); err != nil {
		tb.Fatal(err)
	}
	// The lease names whichever projector ran last, not what it built.
	names = slices.DeleteFunc(names, func(n string) bool { return n == "schema_migrations" || n == "projector_lease" })
	slices.Sort(names)
	return names
}

// Dump renders every row of every read-model table as text, rows sorted,
// so that two read stores of one dialect compare row for row.
func Dump(tb testing.TB, db *readstore.DB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, table := range Tables(tb, db) {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				switch v := v.(type) {
				case time.Time:
					parts[i] = v.UTC().Format(time.RFC3339Nano)
				case []byte:
					parts[i] = string(v)
				case nil:
					parts[i] = "NULL"
				default:
					parts[i] = fmt.Sprint(v)
				}
			}
			lines = append(lines, strings.Join(parts, "|"))
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

// AssertSameRows fails the test unless got and want hold the same rows.
func AssertSameRows(tb testing.TB, got, want map[string][]string) {
	tb.Helper()
	for table, w := range want {
		g := got[table]
		if len(g) != len(w) {
			tb.Errorf("table %s: %d rows, want %d", table, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				tb.Errorf("table %s row %d:\n got %s\nwant %s", table, i, g[i], w[i])
				break
			}
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			tb.Errorf("unexpected table %s", table)
		}
	}
}

// Count returns the rows of a table.
func Count(tb testing.TB, db *readstore.DB, table string) int {
	tb.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, "SELECT count(*) FROM "+table); err != nil && err != sql.ErrNoRows {
		tb.Fatal(err)
	}
	return n
}
