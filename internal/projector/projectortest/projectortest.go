// Package projectortest gives tests of the projector and its command a
// plausible event history, a fast way to write it to the stream, and a
// row-for-row comparison of read stores.
package projectortest

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
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
type Event struct {
	Subject  string
	Envelope events.Envelope
}

// Generate returns n events of a plausible history: experiments
// registered (some building on earlier ones), started, with learnings,
// concluded (or abandoned, sometimes with a revised outcome), and
// innovations recorded and linked to (and now and then unlinked from)
// concluded experiments. The same seed gives the same history.
func Generate(n int, seed uint64) []Event {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(key)
	rng := rand.New(src)
	entropy := ulid.Monotonic(src, 0)
	at := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	newID := func() string { return ulid.MustNew(ulid.Timestamp(at), entropy).String() }
	teams := []string{"growth", "checkout", "search", "onboarding", "platform"}
	kinds := []string{"ab_test", "prototype", "interview", "fake_door", "pilot", "other"}
	skills := []string{"sql", "ux research", "pricing", "copywriting", "go", "statistics"}

	type exp struct {
		id, team, status string
		learnings        int
	}
	var (
		out       []Event
		open      []*exp // planned or running
		done      []*exp // concluded or abandoned
		all       []*exp
		innovs    []string
		innovTeam = map[string]string{}
		linked    = map[string][]string{}
	)
	emit := func(name, id, team string, payload any) {
		data, err := json.Marshal(payload)
		if err != nil {
			panic(err)
		}
		at = at.Add(time.Duration(1+rng.IntN(90)) * time.Minute)
		out = append(out, Event{
			Subject: events.Subject(name, id),
			Envelope: events.Envelope{
				SpecVersion: events.SpecVersion, ID: newID(), Source: events.Source,
				Type: events.TypeOf(name), Subject: id, Time: at,
				DataContentType: "application/json", DataSchema: events.SchemaOf(name),
				Team: team, Actor: "user-" + team, CorrelationID: newID(), Data: data,
			},
		})
	}
	for len(out) < n {
		switch r := rng.IntN(100); {
		case r < 22 || len(open) == 0:
			team := teams[rng.IntN(len(teams))]
			x := &exp{id: newID(), team: team, status: "planned"}
			var buildsOn []string
			if len(all) > 0 && rng.IntN(3) == 0 {
				buildsOn = []string{all[rng.IntN(len(all))].id}
			}
			emit(events.ExperimentRegistered, x.id, team, events.ExperimentRegisteredV1{
				Team: team, Title: fmt.Sprintf("Experiment %d", len(all)+1), Kind: kinds[rng.IntN(len(kinds))],
				Hypothesis: "If we change it, more people will use it", SuccessMetric: "conversion",
				SuccessCriteria: "+2% in two weeks", Owner: "owner-" + team,
				Tags: []string{"q" + fmt.Sprint(1+rng.IntN(4)), kinds[rng.IntN(len(kinds))]}, BuildsOn: buildsOn,
				Visibility: "org", Cost: &events.Cost{PersonDays: float64(rng.IntN(20)), Spend: float64(rng.IntN(5000))},
			})
			open, all = append(open, x), append(all, x)
		case r < 80:
			i := rng.IntN(len(open))
			x := open[i]
			switch {
			case x.status == "planned" && rng.IntN(10) == 0:
				emit(events.ExperimentAbandoned, x.id, x.team, events.ExperimentAbandonedV1{Reason: "priorities changed", AbandonedAt: at})
				x.status = "abandoned"
			case x.status == "planned":
				emit(events.ExperimentStarted, x.id, x.team, events.ExperimentStartedV1{StartedAt: at})
				x.status = "running"
			case x.learnings < 2 && rng.IntN(2) == 0:
				emit(events.ExperimentLearningRecorded, x.id, x.team, events.ExperimentLearningRecordedV1{
					LearningID: newID(), Text: "Users did not notice the banner", Skills: []string{skills[rng.IntN(len(skills))]},
				})
				x.learnings++
				continue
			default:
				outcome := []string{"succeeded", "failed", "failed", "inconclusive"}[rng.IntN(4)]
				emit(events.ExperimentConcluded, x.id, x.team, events.ExperimentConcludedV1{
					Outcome: outcome, Decision: []string{"persevere", "pivot", "iterate", "stop", "scale"}[rng.IntN(5)],
					Summary: "It did what it did", FailureReasons: []string{"too small an effect"}, ConcludedAt: at,
				})
				x.status = "concluded"
				if rng.IntN(15) == 0 {
					emit(events.ExperimentOutcomeRevised, x.id, x.team, events.ExperimentOutcomeRevisedV1{
						Outcome: "inconclusive", PreviousOutcome: outcome, Reason: "sample ratio mismatch",
					})
				}
			}
			if x.status == "concluded" || x.status == "abandoned" {
				open = slices.Delete(open, i, i+1)
				done = append(done, x)
			}
		case r < 88:
			team := teams[rng.IntN(len(teams))]
			id := newID()
			emit(events.InnovationRecorded, id, team, events.InnovationRecordedV1{
				Team: team, Title: "Innovation " + id[20:], Description: "Shipped", LaunchedAt: at,
			})
			innovs = append(innovs, id)
			innovTeam[id] = team
		case len(innovs) > 0 && len(done) > 0:
			in := innovs[rng.IntN(len(innovs))]
			if l := linked[in]; len(l) > 0 && rng.IntN(6) == 0 {
				emit(events.InnovationUnlinked, in, innovTeam[in], events.InnovationUnlinkedV1{ExperimentID: l[0], Reason: "wrong link"})
				linked[in] = l[1:]
				continue
			}
			x := done[rng.IntN(len(done))]
			emit(events.InnovationLinked, in, innovTeam[in], events.InnovationLinkedV1{ExperimentID: x.id, Note: "it taught us"})
			linked[in] = append(linked[in], x.id)
		}
	}
	return out[:n]
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
		if _, err := js.PublishMsgAsync(m); err != nil {
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

// Tables lists the read store's tables, migrations bookkeeping aside.
func Tables(tb testing.TB, db *readstore.DB) []string {
	tb.Helper()
	// Full-text indexes (virtual tables and their shadow tables) are left
	// out: their bytes depend on the batches that wrote them.
	q := "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.Dialect == readstore.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	var names []string
	if err := db.Select(&names, q); err != nil {
		tb.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "schema_migrations" })
	slices.Sort(names)
	return names
}

// Dump renders every row of every read-model table as text, rows sorted,
// so that two read stores of one dialect compare row for row.
func Dump(tb testing.TB, db *readstore.DB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, table := range Tables(tb, db) {
		rows, err := db.Query("SELECT * FROM " + table)
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
	if err := db.Get(&n, "SELECT count(*) FROM "+table); err != nil && err != sql.ErrNoRows {
		tb.Fatal(err)
	}
	return n
}
