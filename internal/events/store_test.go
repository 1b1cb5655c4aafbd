package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

func TestStore(t *testing.T) {
	t.Run("default stream", func(t *testing.T) {
		testStore(t, func(t *testing.T) *events.Store {
			_, nc := natsembedtest.Start(t)
			return openStore(t, nc, events.StoreConfig{})
		})
	})
	t.Run("named stream", func(t *testing.T) {
		testStore(t, func(t *testing.T) *events.Store {
			_, nc := natsembedtest.Start(t)
			return openStore(t, nc, events.StoreConfig{Stream: "EVENTS"})
		})
	})
}

func openStore(tb testing.TB, nc *nats.Conn, cfg events.StoreConfig) *events.Store {
	tb.Helper()
	s, err := events.OpenStore(context.Background(), nc, cfg)
	if err != nil {
		tb.Fatalf("OpenStore: %v", err)
	}
	return s
}

// testStore is the event store's conformance suite: every way of running
// the store must pass it. newStore returns a store on an empty stream.
func testStore(t *testing.T, newStore func(t *testing.T) *events.Store) {
	t.Run("stream settings", func(t *testing.T) {
		s := newStore(t)
		st, err := s.JetStream().Stream(t.Context(), s.Stream())
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		cfg := st.CachedInfo().Config
		checks := []struct {
			name      string
			got, want any
		}{
			{"subjects", cfg.Subjects, []string{"tracker.>"}},
			{"storage", cfg.Storage, jetstream.FileStorage},
			{"retention", cfg.Retention, jetstream.LimitsPolicy},
			{"discard", cfg.Discard, jetstream.DiscardNew},
			{"max msgs", cfg.MaxMsgs, int64(-1)},
			{"max bytes", cfg.MaxBytes, int64(-1)},
			{"max age", cfg.MaxAge, time.Duration(0)},
			{"max msgs per subject", cfg.MaxMsgsPerSubject, int64(-1)},
			{"deny delete", cfg.DenyDelete, true},
			{"deny purge", cfg.DenyPurge, true},
			{"allow direct", cfg.AllowDirect, true},
			{"allow atomic publish", cfg.AllowAtomicPublish, true},
			{"allow rollup", cfg.AllowRollup, false},
			{"allow msg ttl", cfg.AllowMsgTTL, false},
			{"duplicates", cfg.Duplicates, events.DuplicateWindow},
			{"replicas", cfg.Replicas, 1},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}

		// The settings hold in practice: history cannot be deleted.
		other := newID()
		appendOK(t, s, "experiment", other, 0, []events.Envelope{registered(other)}, "")
		id := newID()
		appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
		if err := st.DeleteMsg(t.Context(), 1); err == nil {
			t.Error("DeleteMsg succeeded on the event stream")
		}
		if err := st.Purge(t.Context()); err == nil {
			t.Error("Purge succeeded on the event stream")
		}
		if got := lastSeq(t, s); got != 2 {
			t.Errorf("LastSequence after delete and purge attempts = %d, want 2", got)
		}
	})

	t.Run("append and load", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		evs := []events.Envelope{registered(id)}
		first := appendOK(t, s, "experiment", id, 0, evs, "")
		if first.FirstSequence != 1 || first.LastSequence != 1 || first.Duplicate || first.ID != id {
			t.Errorf("first append = %+v, want sequence 1 on %s", first, id)
		}
		started := envelope(events.ExperimentStarted, id, events.ExperimentStartedV1{StartedAt: fixedTime.Add(time.Hour)})
		second := appendOK(t, s, "experiment", id, first.LastSequence, []events.Envelope{started}, "")

		got := load(t, s, "experiment", id)
		want := []events.Recorded{
			{Envelope: evs[0], StreamSubject: "tracker.experiment." + id + ".registered", Sequence: first.FirstSequence},
			{Envelope: started, StreamSubject: "tracker.experiment." + id + ".started", Sequence: second.FirstSequence},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Load() =\n%+v\nwant\n%+v", got, want)
		}
		name, payload, err := events.Payload(&got[0].Envelope)
		if err != nil || name != events.ExperimentRegistered {
			t.Fatalf("Payload() = %s, %v", name, err)
		}
		if p := payload.(*events.ExperimentRegisteredV1); p.Title != "Fake door for exports" {
			t.Errorf("payload title = %q", p.Title)
		}

		rec, err := s.Get(t.Context(), second.FirstSequence)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !reflect.DeepEqual(rec, want[1]) {
			t.Errorf("Get() = %+v, want %+v", rec, want[1])
		}
		if got := lastSeq(t, s); got != second.LastSequence {
			t.Errorf("LastSequence() = %d, want %d", got, second.LastSequence)
		}

		// Consumers route on headers without parsing the body.
		m := rawMsg(t, s, first.FirstSequence)
		env := evs[0]
		headers := map[string]string{
			"Content-Type":                        "application/cloudevents+json",
			"Ce-Type":                             "failforward.experiment.registered.v1",
			"Ce-Id":                               env.ID,
			"Ce-Subject":                          id,
			"Ce-Time":                             "2026-03-01T09:30:00.123Z",
			"Ce-Team":                             "growth",
			"Ce-Actor":                            "ada",
			"Ce-Correlationid":                    env.CorrelationID,
			"Ce-Causationid":                      env.CausationID,
			"Nats-Expected-Last-Subject-Sequence": "0",
			"Nats-Expected-Last-Subject-Sequence-Subject": "tracker.experiment." + id + ".*",
		}
		for k, want := range headers {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		var body map[string]any
		if err := json.Unmarshal(m.Data, &body); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "team", "actor", "data"} {
			if _, ok := body[attr]; !ok {
				t.Errorf("structured body lacks %q: %s", attr, m.Data)
			}
		}
	})

	t.Run("stale expected sequence conflicts", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		a := appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
		b := appendOK(t, s, "experiment", id, a.LastSequence, []events.Envelope{learning(id)}, "")
		_, err := s.Append(t.Context(), "experiment", id, a.LastSequence, []events.Envelope{learning(id)}, "")
		if !errors.Is(err, events.ErrConflict) {
			t.Fatalf("Append with stale expected sequence: %v, want ErrConflict", err)
		}
		if !strings.Contains(err.Error(), "append experiment "+id) {
			t.Errorf("error %q does not say what failed", err)
		}
		if got := len(load(t, s, "experiment", id)); got != 2 {
			t.Errorf("events after conflict = %d, want 2", got)
		}
		if got := lastSeq(t, s); got != b.LastSequence {
			t.Errorf("LastSequence after conflict = %d, want %d", got, b.LastSequence)
		}
		// Another aggregate's writes do not move this one's sequence.
		other := newID()
		appendOK(t, s, "experiment", other, 0, []events.Envelope{registered(other)}, "")
		appendOK(t, s, "experiment", id, b.LastSequence, []events.Envelope{learning(id)}, "")
	})

	t.Run("expected sequence of an aggregate that does not exist conflicts", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		_, err := s.Append(t.Context(), "experiment", id, 7, []events.Envelope{registered(id)}, "")
		if !errors.Is(err, events.ErrConflict) {
			t.Fatalf("Append: %v, want ErrConflict", err)
		}
	})

	t.Run("creating an existing aggregate conflicts", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
		for _, evs := range [][]events.Envelope{{registered(id)}, {registered(id), learning(id)}} {
			_, err := s.Append(t.Context(), "experiment", id, 0, evs, "")
			if !errors.Is(err, events.ErrConflict) {
				t.Errorf("second create of %d events: %v, want ErrConflict", len(evs), err)
			}
		}
		if got := len(load(t, s, "experiment", id)); got != 1 {
			t.Errorf("events = %d, want 1", got)
		}
	})

	t.Run("batch lands whole and contiguous", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		evs := []events.Envelope{registered(id), learning(id), learning(id)}
		res := appendOK(t, s, "experiment", id, 0, evs, "")
		if res.LastSequence-res.FirstSequence != 2 {
			t.Fatalf("batch of 3 at %d..%d", res.FirstSequence, res.LastSequence)
		}
		got := load(t, s, "experiment", id)
		if len(got) != 3 {
			t.Fatalf("Load() returned %d events, want 3", len(got))
		}
		for i, r := range got {
			if r.Sequence != res.FirstSequence+uint64(i) || r.ID != evs[i].ID {
				t.Errorf("event %d = %s at %d, want %s at %d", i, r.ID, r.Sequence, evs[i].ID, res.FirstSequence+uint64(i))
			}
		}

		_, err := s.Append(t.Context(), "experiment", id, res.FirstSequence, []events.Envelope{learning(id), learning(id)}, "")
		if !errors.Is(err, events.ErrConflict) {
			t.Fatalf("conflicting batch: %v, want ErrConflict", err)
		}
		if got := lastSeq(t, s); got != res.LastSequence {
			t.Errorf("LastSequence after conflicting batch = %d, want %d: part of it landed", got, res.LastSequence)
		}
	})

	t.Run("concurrent batches stay contiguous", func(t *testing.T) {
		s := newStore(t)
		const writers, size = 10, 5
		results := make([]events.AppendResult, writers)
		ids := make([]string, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			ids[w] = newID()
			wg.Go(func() {
				evs := []events.Envelope{registered(ids[w])}
				for range size - 1 {
					evs = append(evs, learning(ids[w]))
				}
				res, err := s.Append(context.Background(), "experiment", ids[w], 0, evs, "")
				results[w] = res
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		for w, res := range results {
			got := load(t, s, "experiment", ids[w])
			if len(got) != size || got[0].Sequence != res.FirstSequence || got[size-1].Sequence != res.LastSequence ||
				res.LastSequence-res.FirstSequence != size-1 {
				t.Errorf("writer %d: result %d..%d, loaded %d events", w, res.FirstSequence, res.LastSequence, len(got))
			}
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
				s := newStore(t)
				id := newID()
				evs := []events.Envelope{registered(id)}
				for range n - 1 {
					evs = append(evs, learning(id))
				}
				key := "key-" + newID()
				first := appendOK(t, s, "experiment", id, 0, evs, key)
				if first.Duplicate {
					t.Fatal("first append reported a duplicate")
				}
				for i := range 2 {
					again := appendOK(t, s, "experiment", id, 0, evs, key)
					if want := (events.AppendResult{FirstSequence: first.FirstSequence, LastSequence: first.LastSequence, Duplicate: true, ID: id}); again != want {
						t.Errorf("repeat %d = %+v, want %+v", i+1, again, want)
					}
				}
				// A retry that read the aggregate again names the new
				// expected sequence; the broker recognises the key.
				want := first
				want.Duplicate = true
				if again := appendOK(t, s, "experiment", id, first.LastSequence, evs, key); again != want {
					t.Errorf("retry on fresh state = %+v, want %+v", again, want)
				}
				// A retry on fresh state may decide differently, here a
				// single event; it still gets the original write.
				if again := appendOK(t, s, "experiment", id, first.LastSequence, []events.Envelope{learning(id)}, key); again != want {
					t.Errorf("retry deciding one event = %+v, want %+v", again, want)
				}
				got := load(t, s, "experiment", id)
				if len(got) != n {
					t.Fatalf("events after the retries = %d, want %d", len(got), n)
				}
				for _, r := range got {
					if r.IdempotencyKey != key {
						t.Errorf("event %d idempotencykey = %q, want %q", r.Sequence, r.IdempotencyKey, key)
					}
				}
				if evs[0].IdempotencyKey != "" {
					t.Error("Append changed the caller's envelope")
				}
			})
		}
	})

	t.Run("idempotent create retried under a fresh id", func(t *testing.T) {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
				s := newStore(t)
				key := "create-" + newID()
				id := newID()
				first := appendOK(t, s, "experiment", id, 0, withLearnings(id, n-1), key)
				// The server picks a new id for the retried create.
				retryID := newID()
				again := appendOK(t, s, "experiment", retryID, 0, withLearnings(retryID, n-1), key)
				want := events.AppendResult{FirstSequence: first.FirstSequence, LastSequence: first.LastSequence, Duplicate: true, ID: id}
				if again != want {
					t.Errorf("retried create = %+v, want %+v", again, want)
				}
				if got := load(t, s, "experiment", retryID); len(got) != 0 {
					t.Errorf("retried create wrote %d events under the fresh id", len(got))
				}
				if got := lastSeq(t, s); got != first.LastSequence {
					t.Errorf("LastSequence = %d, want %d", got, first.LastSequence)
				}
			})
		}
	})

	t.Run("idempotency key of another aggregate", func(t *testing.T) {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
				s := newStore(t)
				key := "key-" + newID()
				a := newID()
				appendOK(t, s, "experiment", a, 0, []events.Envelope{registered(a)}, key)
				b := newID()
				created := appendOK(t, s, "experiment", b, 0, []events.Envelope{registered(b)}, "")
				evs := make([]events.Envelope, n)
				for i := range evs {
					evs[i] = learning(b)
				}
				_, err := s.Append(t.Context(), "experiment", b, created.LastSequence, evs, key)
				if !errors.Is(err, events.ErrIdempotencyKeyReused) {
					t.Fatalf("Append with another aggregate's key: %v, want ErrIdempotencyKeyReused", err)
				}
				if got := len(load(t, s, "experiment", b)); got != 1 {
					t.Errorf("events on %s = %d, want 1", b, got)
				}
			})
		}
		t.Run("of another kind", func(t *testing.T) {
			s := newStore(t)
			key := "key-" + newID()
			inno := newID()
			rec := envelope(events.InnovationRecorded, inno, events.InnovationRecordedV1{Team: "growth", Title: "Exports"})
			appendOK(t, s, "innovation", inno, 0, []events.Envelope{rec}, key)
			id := newID()
			_, err := s.Append(t.Context(), "experiment", id, 0, []events.Envelope{registered(id)}, key)
			if !errors.Is(err, events.ErrIdempotencyKeyReused) {
				t.Fatalf("create with an innovation's key: %v, want ErrIdempotencyKeyReused", err)
			}
		})
	})

	t.Run("concurrent appenders", func(t *testing.T) {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
				s := newStore(t)
				id := newID()
				created := appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
				const writers = 20
				var wins, conflicts atomic.Int32
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				start := make(chan struct{})
				for range writers {
					wg.Go(func() {
						evs := make([]events.Envelope, n)
						for i := range evs {
							evs[i] = learning(id)
						}
						<-start
						_, err := s.Append(context.Background(), "experiment", id, created.LastSequence, evs, "")
						switch {
						case err == nil:
							wins.Add(1)
						case errors.Is(err, events.ErrConflict):
							conflicts.Add(1)
						default:
							errs <- err
						}
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("Append: %v, want success or ErrConflict", err)
				}
				if wins.Load() != 1 || conflicts.Load() != writers-1 {
					t.Errorf("wins = %d, conflicts = %d, want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
				}
				if got := len(load(t, s, "experiment", id)); got != 1+n {
					t.Errorf("events = %d, want %d", got, 1+n)
				}
			})
		}
	})

	t.Run("load of an unknown aggregate is empty", func(t *testing.T) {
		s := newStore(t)
		other := newID()
		appendOK(t, s, "experiment", other, 0, []events.Envelope{registered(other)}, "")
		got := load(t, s, "experiment", newID())
		if got == nil || len(got) != 0 {
			t.Errorf("Load() = %#v, want an empty slice", got)
		}
		if got := load(t, s, "innovation", other); len(got) != 0 {
			t.Errorf("Load(innovation %s) = %d events of an experiment", other, len(got))
		}
	})

	t.Run("load pages through long histories", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		noise := newID()
		var want []string
		var expected, noiseExpected uint64
		for round := range 3 {
			evs := withLearnings(id, 299)
			if round > 0 {
				evs = evs[1:]
			}
			for _, e := range evs {
				want = append(want, e.ID)
			}
			expected = appendOK(t, s, "experiment", id, expected, evs, "").LastSequence
			// Another aggregate's events interleave with this one's.
			noiseEvs := withLearnings(noise, 9)
			if round > 0 {
				noiseEvs = noiseEvs[1:]
			}
			noiseExpected = appendOK(t, s, "experiment", noise, noiseExpected, noiseEvs, "").LastSequence
		}
		got := load(t, s, "experiment", id)
		if len(got) != len(want) {
			t.Fatalf("Load() returned %d events, want %d", len(got), len(want))
		}
		for i, r := range got {
			if r.ID != want[i] {
				t.Fatalf("event %d = %s, want %s", i, r.ID, want[i])
			}
			if i > 0 && r.Sequence <= got[i-1].Sequence {
				t.Fatalf("event %d at sequence %d after %d", i, r.Sequence, got[i-1].Sequence)
			}
		}
	})

	t.Run("load refuses an event it cannot decode", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		res := appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
		// Only a writer bypassing the store can do this; a reader must
		// notice rather than fold partial history.
		if _, err := s.JetStream().Publish(t.Context(), events.Subject(events.ExperimentStarted, id), []byte(`{"specversion":"1.0"`)); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(t.Context(), "experiment", id)
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Load: %v, want ErrMalformed", err)
		}
		if _, err := s.Get(t.Context(), res.LastSequence+1); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("Get: %v, want ErrMalformed", err)
		}
	})

	t.Run("load never passes a timeout off as history", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		appendOK(t, s, "experiment", id, 0, withLearnings(id, 2), "")
		expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if got, err := s.Load(expired, "experiment", id); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Load with an expired deadline = %d events, %v; want DeadlineExceeded", len(got), err)
		}
		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		if got, err := s.Load(canceled, "experiment", id); !errors.Is(err, context.Canceled) {
			t.Errorf("Load with a canceled context = %d events, %v; want Canceled", len(got), err)
		}
	})

	t.Run("get", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		res := appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
		if _, err := s.Get(t.Context(), res.FirstSequence); err != nil {
			t.Errorf("Get(%d): %v", res.FirstSequence, err)
		}
		for _, seq := range []uint64{0, res.LastSequence + 1, 1 << 40} {
			if _, err := s.Get(t.Context(), seq); !errors.Is(err, events.ErrNotFound) {
				t.Errorf("Get(%d): %v, want ErrNotFound", seq, err)
			}
		}
	})

	t.Run("malformed appends write nothing", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		innovation := envelope(events.InnovationRecorded, id, events.InnovationRecordedV1{Team: "growth", Title: "Exports"})
		unknown := registered(id)
		unknown.Type = "failforward.experiment.exploded.v1"
		invalid := registered(id)
		invalid.Time = time.Time{}
		otherKey := registered(id)
		otherKey.IdempotencyKey = "other"
		tooMany := withLearnings(id, events.MaxBatch)
		tests := []struct {
			name      string
			aggregate string
			id        string
			evs       []events.Envelope
			key       string
		}{
			{"id with a dot", "experiment", id + ".x", []events.Envelope{registered(id + ".x")}, ""},
			{"wildcard id", "experiment", "*", []events.Envelope{registered("*")}, ""},
			{"empty id", "experiment", "", []events.Envelope{registered("")}, ""},
			{"no events", "experiment", id, nil, ""},
			{"more than a batch", "experiment", id, tooMany, ""},
			{"event of another aggregate", "experiment", id, []events.Envelope{innovation}, ""},
			{"event not in the catalogue", "experiment", id, []events.Envelope{unknown}, ""},
			{"event of another id", "experiment", id, []events.Envelope{registered(newID())}, ""},
			{"invalid envelope", "experiment", id, []events.Envelope{invalid}, ""},
			{"envelope with another key", "experiment", id, []events.Envelope{otherKey}, "mine"},
			{"key with a line break", "experiment", id, []events.Envelope{registered(id)}, "a\r\nb"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Append(t.Context(), tt.aggregate, tt.id, 0, tt.evs, tt.key)
				if !errors.Is(err, events.ErrMalformed) {
					t.Errorf("Append: %v, want ErrMalformed", err)
				}
			})
		}
		if got := lastSeq(t, s); got != 0 {
			t.Errorf("LastSequence = %d after malformed appends, want 0", got)
		}
		if _, err := s.Load(t.Context(), "experiment", "a.*"); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("Load with a wildcard id: %v, want ErrMalformed", err)
		}
	})
}

// withLearnings returns a registration of id followed by n learnings.
func withLearnings(id string, n int) []events.Envelope {
	evs := []events.Envelope{registered(id)}
	for range n {
		evs = append(evs, learning(id))
	}
	return evs
}

func TestOpenStoreRefusesRiskyStream(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	risky := jetstream.StreamConfig{
		Name:     "TRACKER",
		Subjects: []string{"tracker.>"},
		Storage:  jetstream.FileStorage,
		Discard:  jetstream.DiscardOld,
		MaxAge:   24 * time.Hour,
	}
	if _, err := js.CreateStream(t.Context(), risky); err != nil {
		t.Fatal(err)
	}
	_, err = events.OpenStore(t.Context(), nc, events.StoreConfig{})
	if !errors.Is(err, events.ErrStreamConfig) {
		t.Fatalf("OpenStore on a stream with Discard old and max age: %v, want ErrStreamConfig", err)
	}
	for _, want := range []string{"TRACKER", "discard policy is DiscardOld", "max age is 24h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	st, err := js.Stream(t.Context(), "TRACKER")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.Discard != jetstream.DiscardOld || cfg.MaxAge != 24*time.Hour {
		t.Errorf("OpenStore changed the stream: discard %s, max age %s", cfg.Discard, cfg.MaxAge)
	}
}

func TestOpenStoreCompletesSafeSettings(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	partial := jetstream.StreamConfig{
		Name:       "TRACKER",
		Subjects:   []string{"tracker.>"},
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		Duplicates: 30 * time.Second,
	}
	if _, err := js.CreateStream(t.Context(), partial); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, nc, events.StoreConfig{})
	cfg := rawStreamConfig(t, s)
	if !cfg.DenyDelete || !cfg.DenyPurge || !cfg.AllowDirect || !cfg.AllowAtomicPublish || cfg.Duplicates != events.DuplicateWindow {
		t.Errorf("after OpenStore: deny delete %t, deny purge %t, direct %t, atomic %t, duplicates %s",
			cfg.DenyDelete, cfg.DenyPurge, cfg.AllowDirect, cfg.AllowAtomicPublish, cfg.Duplicates)
	}
	id := newID()
	appendOK(t, s, "experiment", id, 0, withLearnings(id, 2), "k")

	// Opening again changes nothing, and a longer window is kept.
	if _, err := js.UpdateStream(t.Context(), func() jetstream.StreamConfig { c := cfg; c.Duplicates = 10 * time.Minute; return c }()); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, nc, events.StoreConfig{})
	if got := rawStreamConfig(t, s).Duplicates; got != 10*time.Minute {
		t.Errorf("duplicates after reopening = %s, want the longer 10m0s kept", got)
	}
}

func rawStreamConfig(t *testing.T, s *events.Store) jetstream.StreamConfig {
	t.Helper()
	st, err := s.JetStream().Stream(t.Context(), s.Stream())
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().Config
}

func TestStoreConfigValidate(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	_, err := events.OpenStore(t.Context(), nc, events.StoreConfig{Stream: "A.B", Replicas: 9})
	if err == nil {
		t.Fatal("OpenStore with a bad config succeeded")
	}
	for _, want := range []string{"stream name", "replicas 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

var fixedTime = time.Date(2026, 3, 1, 9, 30, 0, 123_000_000, time.UTC)

var eventCount atomic.Int64

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func envelope(name, id string, payload any) events.Envelope {
	data, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	n := eventCount.Add(1)
	return events.Envelope{
		SpecVersion:     events.SpecVersion,
		ID:              "evt-" + strconv.FormatInt(n, 10) + "-" + newID(),
		Source:          events.Source,
		Type:            events.TypeOf(name),
		Subject:         id,
		Time:            fixedTime,
		DataContentType: "application/json",
		DataSchema:      events.SchemaOf(name),
		Team:            "growth",
		Actor:           "ada",
		CorrelationID:   "corr-" + newID(),
		CausationID:     "req-" + newID(),
		Data:            data,
	}
}

func registered(id string) events.Envelope {
	return envelope(events.ExperimentRegistered, id, events.ExperimentRegisteredV1{
		Team: "growth", Title: "Fake door for exports", Kind: "fake_door",
		Hypothesis: "teams want CSV export", SuccessMetric: "clicks", SuccessCriteria: "> 5%",
		Owner: "ada", Tags: []string{"export"}, BuildsOn: []string{}, Visibility: "org",
	})
}

func learning(id string) events.Envelope {
	return envelope(events.ExperimentLearningRecorded, id, events.ExperimentLearningRecordedV1{
		LearningID: newID(), Text: "nobody clicked", Skills: []string{"research"},
	})
}

func appendOK(tb testing.TB, s *events.Store, aggregate, id string, expected uint64, evs []events.Envelope, key string) events.AppendResult {
	tb.Helper()
	res, err := s.Append(context.Background(), aggregate, id, expected, evs, key)
	if err != nil {
		tb.Fatalf("Append(%s %s, expected %d, %d events): %v", aggregate, id, expected, len(evs), err)
	}
	return res
}

func load(tb testing.TB, s *events.Store, aggregate, id string) []events.Recorded {
	tb.Helper()
	recs, err := s.Load(context.Background(), aggregate, id)
	if err != nil {
		tb.Fatalf("Load(%s %s): %v", aggregate, id, err)
	}
	return recs
}

func lastSeq(tb testing.TB, s *events.Store) uint64 {
	tb.Helper()
	seq, err := s.LastSequence(context.Background())
	if err != nil {
		tb.Fatalf("LastSequence: %v", err)
	}
	return seq
}

func rawMsg(tb testing.TB, s *events.Store, seq uint64) *jetstream.RawStreamMsg {
	tb.Helper()
	st, err := s.JetStream().Stream(context.Background(), s.Stream())
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	m, err := st.GetMsg(context.Background(), seq)
	if err != nil {
		tb.Fatalf("GetMsg(%d): %v", seq, err)
	}
	return m
}

// BenchmarkAppend appends one event at a time to one aggregate, and beside
// each append publishes the same kind of message with the same headers
// straight through JetStream, so that store-ns/op over raw-ns/op is what
// the store adds to the broker's round trip.
func BenchmarkAppend(b *testing.B) {
	_, nc := natsembedtest.Start(b)
	s := openStore(b, nc, events.StoreConfig{})
	ctx := context.Background()
	storeID, rawID := newID(), newID()
	storeExp := appendOK(b, s, "experiment", storeID, 0, []events.Envelope{registered(storeID)}, "").LastSequence
	rawExp := appendOK(b, s, "experiment", rawID, 0, []events.Envelope{registered(rawID)}, "").LastSequence
	ev, rawEv := learning(storeID), learning(rawID)
	rawSubject := events.Subject(events.ExperimentLearningRecorded, rawID)
	rawFilter := events.AggregateFilter("experiment", rawID)

	var storeTime, rawTime time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		res, err := s.Append(ctx, "experiment", storeID, storeExp, []events.Envelope{ev}, "")
		storeTime += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		storeExp = res.LastSequence

		m, err := rawEv.EncodeMsg(rawSubject)
		if err != nil {
			b.Fatal(err)
		}
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rawExp, 10))
		m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, rawFilter)
		t1 := time.Now()
		ack, err := s.JetStream().PublishMsg(ctx, m)
		rawTime += time.Since(t1)
		if err != nil {
			b.Fatal(err)
		}
		rawExp = ack.Sequence
		n++
	}
	b.ReportMetric(float64(storeTime.Nanoseconds())/float64(n), "store-ns/op")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(float64(storeTime)/float64(rawTime), "store/raw")
}

// BenchmarkAppendBatch appends ten events per call as one atomic batch.
func BenchmarkAppendBatch(b *testing.B) {
	_, nc := natsembedtest.Start(b)
	s := openStore(b, nc, events.StoreConfig{})
	ctx := context.Background()
	id := newID()
	exp := appendOK(b, s, "experiment", id, 0, []events.Envelope{registered(id)}, "").LastSequence
	evs := withLearnings(id, 10)[1:]
	for b.Loop() {
		res, err := s.Append(ctx, "experiment", id, exp, evs, "")
		if err != nil {
			b.Fatal(err)
		}
		exp = res.LastSequence
	}
}

// BenchmarkLoad loads an aggregate of ten events from a stream that also
// holds other aggregates.
func BenchmarkLoad(b *testing.B) {
	_, nc := natsembedtest.Start(b)
	s := openStore(b, nc, events.StoreConfig{})
	ctx := context.Background()
	for range 100 {
		other := newID()
		appendOK(b, s, "experiment", other, 0, withLearnings(other, 9), "")
	}
	id := newID()
	appendOK(b, s, "experiment", id, 0, withLearnings(id, 9), "")
	for b.Loop() {
		recs, err := s.Load(ctx, "experiment", id)
		if err != nil || len(recs) != 10 {
			b.Fatalf("Load() = %d events, %v", len(recs), err)
		}
	}
}

// BenchmarkEnvelopeEncodeDecode renders an envelope as a NATS message and
// decodes it back, the per-event CPU cost on both sides of the stream.
func BenchmarkEnvelopeEncodeDecode(b *testing.B) {
	env := registered(newID())
	subject := events.Subject(events.ExperimentRegistered, env.Subject)
	for b.Loop() {
		m, err := env.EncodeMsg(subject)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := events.Decode(m.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// A batch get whose answer never comes ends without an error; Load must
// not read that as an aggregate without events.
func TestLoadWhenTheServerIsGone(t *testing.T) {
	srv, nc := natsembedtest.Start(t)
	s := openStore(t, nc, events.StoreConfig{})
	id := newID()
	appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "")
	srv.Shutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got, err := s.Load(ctx, "experiment", id); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load with a deadline = %d events, %v; want DeadlineExceeded", len(got), err)
	}
	// Without a deadline of its own the request times out after the
	// connection's timeout.
	if got, err := s.Load(context.Background(), "experiment", id); !errors.Is(err, events.ErrUnavailable) {
		t.Errorf("Load = %d events, %v; want ErrUnavailable", len(got), err)
	}
}
