package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// Target and read load of the rebuild scenario.
const (
	rebuildMaxTime = 60 * time.Second
	// rebuildReaders each send one read every rebuildReadEvery, rotating
	// through the query scenario's reads: dashboards in use meanwhile.
	rebuildReaders   = 2
	rebuildReadEvery = 100 * time.Millisecond
)

// rebuildScenario rebuilds the read models from the generated history
// blue/green, as `projector rebuild` does, under the live read store the
// replay built, while the API (with its live projector) serves reads from
// it. It counts every read that failed meanwhile.
func (b *bench) rebuildScenario(ctx context.Context) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	for _, d := range b.dialects() {
		if err := b.rebuild(ctx, data, d); err != nil {
			b.rep.fail(label("rebuild", d), err)
		}
	}
	return nil
}

func (b *bench) rebuild(ctx context.Context, data *dataset, d readstore.Dialect) error {
	srv, err := b.serveProjected(ctx, data, d, true, rebuildReaders)
	if err != nil {
		return err
	}
	defer srv.close()
	u, db, a, client := srv.url, srv.db, srv.api, srv.client

	readCtx, stopReads := context.WithCancel(ctx)
	defer stopReads()
	reads := make([]readLog, rebuildReaders)
	var wg sync.WaitGroup
	qs := queriesFor(data.history)
	for i := range reads {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			t := time.NewTicker(rebuildReadEvery)
			defer t.Stop()
			for k := i; ; k++ {
				path, _, _ := qs[k%len(qs)].draw(rng)
				t0 := time.Now()
				err := get(readCtx, client, a.base+path)
				if readCtx.Err() != nil {
					return
				}
				reads[i].add(time.Since(t0), err)
				select {
				case <-readCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}

	// A connection of its own, as `projector rebuild` has.
	nc, err := nats.Connect(data.broker.url, nats.Name("failforward-rebuild"))
	if err != nil {
		return err
	}
	defer nc.Close()
	projection, err := readmodel.NewProjection(d)
	if err != nil {
		return err
	}
	start := time.Now()
	err = projector.Rebuild(ctx, projector.RebuildConfig{Conn: nc, DatabaseURL: u, Applier: projection, Strict: true})
	took := time.Since(start)
	// Keep reading a little after the swap: the first reads of the new
	// tables must not fail either.
	time.Sleep(4 * rebuildReadEvery)
	stopReads()
	wg.Wait()
	if err != nil {
		return err
	}
	if pos, err := db.Position(ctx); err != nil || pos != data.last {
		return fmt.Errorf("after the rebuild the read store is at %d (%v), want %d", pos, err, data.last)
	}

	all := readLog{}
	for _, r := range reads {
		all.lat = append(all.lat, r.lat...)
		all.failed += r.failed
		if all.firstErr == nil {
			all.firstErr = r.firstErr
		}
	}
	name := label("rebuild", d)
	var base *baseline
	if p := b.projected[d]; p.replay > 0 {
		base = &baseline{"replay from empty", p.replay.Seconds()}
	}
	b.rep.add(figure{
		scenario: name, name: fmt.Sprintf("blue/green rebuild, %s events", thousands(float64(data.events))),
		value: took.Seconds(), unit: seconds, base: base, targets: []target{below(rebuildMaxTime.Seconds(), seconds)},
		note: fmt.Sprintf("%s events/s", thousands(float64(data.events)/took.Seconds())),
	})
	note := fmt.Sprintf("%d reads during the rebuild, p99 %s", len(all.lat), seconds.format(all.lat.p99()))
	if all.firstErr != nil {
		note += fmt.Sprintf("; the first failure: %v", all.firstErr)
		if cause := a.errs.first(); cause != "" {
			note += "; the API logged: " + cause
		}
	}
	b.rep.add(figure{
		scenario: name, name: "reads failed during the rebuild", value: float64(all.failed), unit: countUnit,
		targets: []target{none()}, note: note,
	})
	return nil
}

// none is met by a count of zero.
func none() target {
	return target{desc: "0", met: func(f figure) bool { return f.value == 0 }}
}

// readLog is what one reader saw.
type readLog struct {
	lat      latencies
	failed   int
	firstErr error
}

func (r *readLog) add(d time.Duration, err error) {
	if err != nil {
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.lat = append(r.lat, d)
}
