package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/demo"
	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// TestWrite writes the demo history into an embedded store and checks
// that it is what the brief of a demo asks: two years, several teams,
// every event type, every experiment kind, confidential experiments, and
// events that match the published schemas; then that a second Write is
// refused.
func TestWrite(t *testing.T) {
	ctx := context.Background()
	_, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 6, 30, 18, 0, 0, 0, time.UTC)
	sum, err := demo.Write(ctx, demo.Config{Store: store, End: end, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Experiments < 100 || sum.Innovations < 10 || sum.Events < 400 {
		t.Errorf("summary %+v: want a history of 100+ experiments, 10+ innovations, 400+ events", sum)
	}
	v, err := events.NewStrictValidator()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.JetStream().Stream(ctx, store.Stream())
	if err != nil {
		t.Fatal(err)
	}
	types, teams, kinds := map[string]int{}, map[string]bool{}, map[string]bool{}
	var first, last time.Time
	confidential := 0
	for seq := uint64(1); seq <= uint64(sum.Events); seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(m.Data); err != nil {
			t.Errorf("event %d: %v", seq, err)
		}
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		name, p, err := events.Payload(&env)
		if err != nil {
			t.Fatal(err)
		}
		types[name]++
		teams[env.Team] = true
		if r, ok := p.(*events.ExperimentRegisteredV1); ok {
			kinds[r.Kind] = true
			if r.Visibility == "team" {
				confidential++
			}
		}
		if !env.Time.Before(last) {
			last = env.Time
		} else {
			t.Errorf("event %d at %s is dated before the one before it (%s)", seq, env.Time, last)
		}
		if first.IsZero() {
			first = env.Time
		}
	}
	if span := last.Sub(first); span < 700*24*time.Hour || last.After(end) {
		t.Errorf("history runs from %s to %s; want about two years, ending by %s", first, last, end)
	}
	for _, name := range events.Names {
		if types[name] == 0 {
			t.Errorf("no %s event in the demo history", name)
		}
	}
	if len(teams) < 4 || len(kinds) < 6 || confidential < 2 {
		t.Errorf("teams %v, kinds %v, %d confidential: want 4+ teams, every kind, a few confidential", teams, kinds, confidential)
	}

	_, err = demo.Write(ctx, demo.Config{Store: store, End: end})
	if !errors.Is(err, demo.ErrNotEmpty) {
		t.Fatalf("a second Write = %v, want ErrNotEmpty", err)
	}
	if n, _ := store.LastSequence(ctx); n != uint64(sum.Events) {
		t.Errorf("the refused Write changed the store: %d events, want %d", n, sum.Events)
	}
}
