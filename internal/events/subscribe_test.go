package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// tracker is an embedded broker with the event store and the real
// service writing to it, so that every event a test reads is one the
// product could have written.
type tracker struct {
	nc    *nats.Conn
	store *events.Store
	svc   *experiments.Service
}

func newTracker(tb testing.TB) *tracker {
	tb.Helper()
	_, nc := natsembedtest.Start(tb)
	store, err := events.OpenStore(context.Background(), nc, events.StoreConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	return &tracker{nc: nc, store: store, svc: svc}
}

// write appends n events: registrations, each followed by up to nine
// learnings.
func (tr *tracker) write(tb testing.TB, n int) {
	tb.Helper()
	ctx := context.Background()
	meta := experiments.Meta{Actor: "ada"}
	var id string
	for i := range n {
		if i%10 == 0 {
			e, err := tr.svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{
				Team: "growth", Title: fmt.Sprintf("experiment %d", i), Hypothesis: "h",
			})
			if err != nil {
				tb.Fatal(err)
			}
			id = e.ID
			continue
		}
		if _, err := tr.svc.RecordLearning(ctx, meta, id, experiments.RecordLearning{Text: fmt.Sprintf("learning %d", i)}); err != nil {
			tb.Fatal(err)
		}
	}
}

func (tr *tracker) consumerInfo(tb testing.TB, name string) *jetstream.ConsumerInfo {
	tb.Helper()
	c, err := tr.store.JetStream().Consumer(context.Background(), events.DefaultStream, name)
	if err != nil {
		tb.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

// handled records what a handler saw, safely for the race detector.
type handled struct {
	mu   sync.Mutex
	seqs []uint64
	seen map[uint64]int
}

func (h *handled) add(seq uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[uint64]int{}
	}
	h.seqs = append(h.seqs, seq)
	h.seen[seq]++
	return len(h.seqs)
}

func (h *handled) list() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seqs)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// subscribeUntil runs Subscribe until stop returns true for the number of
// events handled, or the deadline passes.
func subscribeUntil(t *testing.T, nc *nats.Conn, durable string, h *handled, opts events.SubscribeOptions, stop func(n int) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts.Logger = quiet
	err := events.Subscribe(ctx, nc, durable, func(ctx context.Context, d events.Delivery) error {
		if n := h.add(d.Sequence); stop(n) {
			cancel()
		}
		return nil
	}, opts)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Subscribe ran out of time after %d events", len(h.list()))
	}
}

// TestSubscribeStopsAndResumes is the downstream contract's main promise:
// a subscriber started after 1,000 events reads them all in stream order,
// and stopping midway and resuming handles each exactly once.
func TestSubscribeStopsAndResumes(t *testing.T) {
	tr := newTracker(t)
	tr.write(t, 1000)

	var h handled
	subscribeUntil(t, tr.nc, "warehouse", &h, events.SubscribeOptions{}, func(n int) bool { return n == 400 })
	if got := len(h.list()); got != 400 {
		t.Fatalf("handled %d events before stopping, want 400", got)
	}
	if info := tr.consumerInfo(t, "warehouse"); info.AckFloor.Stream != 400 {
		t.Errorf("after stopping, ack floor = %d, want 400: every handled event is acknowledged", info.AckFloor.Stream)
	}

	subscribeUntil(t, tr.nc, "warehouse", &h, events.SubscribeOptions{}, func(n int) bool { return n == 1000 })
	got := h.list()
	want := make([]uint64, 1000)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("handled %d events, not each of 1..1000 once in order: first difference at %d", len(got), firstDiff(got, want))
	}
	info := tr.consumerInfo(t, "warehouse")
	if info.AckFloor.Stream != 1000 || info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("at the end: ack floor %d, ack pending %d, pending %d; want 1000, 0, 0",
			info.AckFloor.Stream, info.NumAckPending, info.NumPending)
	}

	// A resumed subscriber picks up what is written later, and nothing
	// twice.
	tr.write(t, 5)
	subscribeUntil(t, tr.nc, "warehouse", &h, events.SubscribeOptions{}, func(n int) bool { return n == 1005 })
	if got := h.list(); !slices.Equal(got[1000:], []uint64{1001, 1002, 1003, 1004, 1005}) {
		t.Errorf("after new writes, handled %v, want 1001..1005", got[1000:])
	}
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestSubscribeRedeliversWithBackoffAndKeepsOrder(t *testing.T) {
	tr := newTracker(t)
	tr.write(t, 5)
	type attempt struct {
		seq, delivered uint64
		at             time.Time
	}
	var (
		mu       sync.Mutex
		attempts []attempt
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	backoff := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	err := events.Subscribe(ctx, tr.nc, "flaky", func(ctx context.Context, d events.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, attempt{d.Sequence, d.NumDelivered, time.Now()})
		if d.Sequence == 3 && d.NumDelivered < 3 {
			return errors.New("warehouse is down")
		}
		if d.Sequence == 5 {
			cancel()
		}
		return nil
	}, events.SubscribeOptions{Backoff: backoff, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var order []string
	for _, a := range attempts {
		order = append(order, fmt.Sprintf("%d#%d", a.seq, a.delivered))
	}
	want := []string{"1#1", "2#1", "3#1", "3#2", "3#3", "4#1", "5#1"}
	if !slices.Equal(order, want) {
		t.Fatalf("deliveries %v, want %v", order, want)
	}
	if gap := attempts[3].at.Sub(attempts[2].at); gap < backoff[0] {
		t.Errorf("second delivery came %s after the first failure, want at least %s", gap, backoff[0])
	}
	if gap := attempts[4].at.Sub(attempts[3].at); gap < backoff[1] {
		t.Errorf("third delivery came %s after the second failure, want at least %s", gap, backoff[1])
	}
}

func TestSubscribeStartPolicies(t *testing.T) {
	t.Run("new", func(t *testing.T) {
		tr := newTracker(t)
		tr.write(t, 3)
		var h handled
		done := make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		go func() {
			done <- events.Subscribe(ctx, tr.nc, "notifier", func(_ context.Context, d events.Delivery) error {
				if h.add(d.Sequence) == 2 {
					cancel()
				}
				return nil
			}, events.SubscribeOptions{Start: events.StartAtNew, Logger: quiet})
		}()
		// Write only once the consumer exists, so that "new" has a meaning.
		waitFor(t, func() bool {
			_, err := tr.store.JetStream().Consumer(ctx, events.DefaultStream, "notifier")
			return err == nil
		})
		tr.write(t, 2)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := h.list(); !slices.Equal(got, []uint64{4, 5}) {
			t.Errorf("StartAtNew delivered %v, want [4 5]", got)
		}
	})
	t.Run("time", func(t *testing.T) {
		tr := newTracker(t)
		tr.write(t, 4)
		m := rawMsg(t, tr.store, 3)
		var h handled
		subscribeUntil(t, tr.nc, "", &h, events.SubscribeOptions{Start: events.StartAtTime, StartTime: m.Time},
			func(n int) bool { return n == 2 })
		if got := h.list(); !slices.Equal(got, []uint64{3, 4}) {
			t.Errorf("StartAtTime delivered %v, want [3 4]", got)
		}
		// The ephemeral consumer is gone with its subscriber.
		if n := consumerCount(t, tr); n != 0 {
			t.Errorf("%d consumers left after an ephemeral Subscribe, want 0", n)
		}
	})
	t.Run("filtered", func(t *testing.T) {
		tr := newTracker(t)
		tr.write(t, 12)
		var h handled
		subscribeUntil(t, tr.nc, "registrations", &h,
			events.SubscribeOptions{Subjects: []string{events.Subject(events.ExperimentRegistered, "*")}},
			func(n int) bool { return n == 2 })
		if got := h.list(); !slices.Equal(got, []uint64{1, 11}) {
			t.Errorf("filtered on registrations, delivered %v, want [1 11]", got)
		}
	})
}

func consumerCount(t *testing.T, tr *tracker) int {
	t.Helper()
	st, err := tr.store.JetStream().Stream(context.Background(), events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubscribeInvalidEvents(t *testing.T) {
	tr := newTracker(t)
	tr.write(t, 2)
	// Only a writer that bypasses the store can put this in the stream.
	if _, err := tr.store.JetStream().Publish(context.Background(), "tracker.experiment.01JABCDEFGHJKMNPQRSTVWXYZ0.registered", []byte(`{"specversion":"1.0"}`)); err != nil {
		t.Fatal(err)
	}
	tr.write(t, 1)

	t.Run("stop by default", func(t *testing.T) {
		var h handled
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := events.Subscribe(ctx, tr.nc, "strict", func(_ context.Context, d events.Delivery) error {
			h.add(d.Sequence)
			return nil
		}, events.SubscribeOptions{Logger: quiet})
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Subscribe = %v, want ErrMalformed", err)
		}
		if got := h.list(); !slices.Equal(got, []uint64{1, 2}) {
			t.Errorf("handled %v before the invalid event, want [1 2]", got)
		}
		if info := tr.consumerInfo(t, "strict"); info.AckFloor.Stream != 2 {
			t.Errorf("ack floor %d, want 2: the invalid event stays unacknowledged", info.AckFloor.Stream)
		}
	})
	t.Run("skip when told", func(t *testing.T) {
		var h handled
		var skipped []uint64
		subscribeUntil(t, tr.nc, "lenient", &h, events.SubscribeOptions{
			OnInvalid: func(_ context.Context, ev events.InvalidEvent) error {
				if !errors.Is(ev.Err, events.ErrMalformed) {
					t.Errorf("InvalidEvent.Err = %v, want ErrMalformed", ev.Err)
				}
				skipped = append(skipped, ev.Sequence)
				return nil
			},
		}, func(n int) bool { return n == 3 })
		if got := h.list(); !slices.Equal(got, []uint64{1, 2, 4}) || !slices.Equal(skipped, []uint64{3}) {
			t.Errorf("handled %v and skipped %v, want [1 2 4] and [3]", got, skipped)
		}
	})
}

func TestSubscribeRefusesAnIncompatibleConsumer(t *testing.T) {
	tr := newTracker(t)
	if _, err := tr.store.JetStream().CreateConsumer(context.Background(), events.DefaultStream, jetstream.ConsumerConfig{
		Durable: "taken", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 100, FilterSubject: "tracker.innovation.>",
	}); err != nil {
		t.Fatal(err)
	}
	err := events.Subscribe(context.Background(), tr.nc, "taken", func(context.Context, events.Delivery) error { return nil },
		events.SubscribeOptions{Logger: quiet})
	if err == nil {
		t.Fatal("Subscribe on a consumer with another filter and max ack pending succeeded")
	}
	for _, bad := range []struct {
		name    string
		durable string
		opts    events.SubscribeOptions
	}{
		{"dotted name", "a.b", events.SubscribeOptions{}},
		{"start time missing", "x", events.SubscribeOptions{Start: events.StartAtTime}},
		{"short ack wait", "x", events.SubscribeOptions{AckWait: time.Millisecond}},
	} {
		if err := events.Subscribe(context.Background(), tr.nc, bad.durable, func(context.Context, events.Delivery) error { return nil }, bad.opts); err == nil {
			t.Errorf("Subscribe with %s succeeded", bad.name)
		}
	}
}
