// Package demo writes a made-up but plausible history into an empty event
// store: two years of several teams' experiments of every kind, failures
// whose learnings fed innovations through chains of follow-ups, revised
// outcomes and a few confidential experiments, so that a first look at
// the product finds its dashboards, backlog and lineages filled in.
//
// Every event goes through experiments.Service, the command path the API
// uses, so the history obeys the domain's rules. The service's clock is
// set to each step's date as the history is written, so registrations
// are backdated as well as the started, concluded, abandoned and
// launched dates.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// ErrNotEmpty reports a store that already holds events: the demo never
// mixes made-up history into real history.
var ErrNotEmpty = errors.New("the event store already holds events")

// Store is what the demo needs of the event store: what the service
// appends to, and whether anything is in it yet.
type Store interface {
	experiments.EventStore
	LastSequence(ctx context.Context) (uint64, error)
}

// Config configures Write.
type Config struct {
	// Store is the event store to fill. It must be empty. Required.
	Store Store
	// End is when the history ends: nothing is dated after it. Now when
	// zero.
	End time.Time
	// Seed makes the history reproducible; the same seed and End write
	// the same history (ids aside).
	Seed uint64
}

// Summary counts what Write wrote.
type Summary struct {
	Experiments, Innovations, Events int
	From, To                         time.Time
}

// Write fills cfg.Store with the demo history. It refuses, with
// ErrNotEmpty, a store that holds any event.
func Write(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Store == nil {
		return Summary{}, errors.New("demo: Config.Store is required")
	}
	if cfg.End.IsZero() {
		cfg.End = time.Now()
	}
	last, err := cfg.Store.LastSequence(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	if last > 0 {
		return Summary{}, fmt.Errorf("demo: %w (%d); the demo history is written only into an empty one", ErrNotEmpty, last)
	}
	end := cfg.End.UTC().Truncate(time.Second)
	p := newPlan(rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), end.AddDate(-2, 0, 0))
	p.build()
	steps := p.steps
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })

	w := &writer{ids: map[int]string{}, innovations: map[int]string{}}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: cfg.Store, Now: func() time.Time { return w.clock }})
	if err != nil {
		return Summary{}, err
	}
	w.svc = svc
	sum := Summary{From: end, To: end}
	for _, s := range steps {
		if s.at.After(end) {
			continue
		}
		w.clock = s.at
		if err := s.do(ctx, w); err != nil {
			return sum, fmt.Errorf("demo: %s on %s: %w", s.what, s.at.Format(time.DateOnly), err)
		}
		sum.From = minTime(sum.From, s.at)
	}
	sum.Experiments, sum.Innovations = len(w.ids), len(w.innovations)
	last, err = cfg.Store.LastSequence(ctx)
	sum.Events = int(last)
	return sum, err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// writer runs the steps: the service, its clock, and the ids the plan's
// experiments and innovations got.
type writer struct {
	svc         *experiments.Service
	clock       time.Time
	ids         map[int]string // plan index → experiment id
	innovations map[int]string // plan index → innovation id
}

// meta is a command's metadata, as the actor's own request would carry.
func (w *writer) meta(actor string) experiments.Meta {
	return experiments.Meta{Actor: actor, CorrelationID: "demo", CausationID: "demo"}
}

// step is one command of the history, at its date.
type step struct {
	at   time.Time
	what string
	do   func(ctx context.Context, w *writer) error
}
