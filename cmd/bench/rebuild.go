package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// Targets and read load of the rebuild scenario.
const (
	// rebuildMaxShare is the most a rebuild may take, as a multiple of
	// the replay from empty.
	rebuildMaxShare = 1.2
	// rebuildMaxReadP99 is the p99 of the reads meanwhile.
	rebuildMaxReadP99 = 100 * time.Millisecond
	// rebuildReaders each send one read every rebuildReadEvery, rotating
	// through the query scenario's reads: dashboards in use meanwhile.
	rebuildReaders   = 2
	rebuildReadEvery = 100 * time.Millisecond
)

// rebuild runs `projector rebuild -strict` (blue/green) under
// the live read store the replay built, while the api serves reads from
// it with the live projector beside it. It counts every read that failed
// meanwhile.
func (b *bench) rebuild(ctx context.Context, d readstore.Dialect) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	srv, err := b.serveProjected(ctx, data, d, true)
	if err != nil {
		return err
	}
	stopReads := b.readDuring(ctx, srv.api.base, queriesFor(data, d))
	start := time.Now()
	p, err := startProcess("projector rebuild", b.bin.projector,
		append([]string{"NATS_URL=" + data.broker.url, "DATABASE_URL=" + srv.url}, b.programProfile("projector rebuild")...), "rebuild", "-strict")
	if err == nil {
		err = p.wait(ctx)
	}
	took := time.Since(start)
	// Keep reading a little after the swap: the first reads of the new
	// tables must not fail either.
	time.Sleep(4 * rebuildReadEvery)
	reads := stopReads()
	pos, perr := srv.db.Position(ctx)
	if cerr := srv.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if perr != nil || pos != data.last {
		return fmt.Errorf("after the rebuild the read store is at %d (%v), want %d", pos, perr, data.last)
	}
	name := label("rebuild", d)
	// The replay the bench timed is the baseline; a run without one
	// (-run rebuild alone replays it now) has it too.
	base := &baseline{"replay from empty", b.projected[d].replay.Seconds()}
	b.rep.add(figure{
		scenario: name, name: fmt.Sprintf("blue/green rebuild, %s events", thousands(float64(data.last))),
		value: took.Seconds(), unit: seconds, base: base, targets: []target{atMostTimesBaseline(rebuildMaxShare)},
		note: fmt.Sprintf("%s events/s, the process from start to exit", thousands(float64(data.last)/took.Seconds())),
	})
	b.rep.add(figure{
		scenario: name, name: "p99 read during the rebuild", value: reads.lat.p99(), unit: seconds,
		targets: []target{below(rebuildMaxReadP99.Seconds(), seconds)},
		note:    fmt.Sprintf("%d reads by %d readers, one each every %s; p50 %s", len(reads.lat), rebuildReaders, rebuildReadEvery, seconds.format(reads.lat.p50())),
	})
	note := ""
	if reads.firstErr != nil {
		note = fmt.Sprintf("the first failure: %v", srv.api.withCause(reads.firstErr))
	}
	b.rep.add(figure{
		scenario: name, name: "reads failed during the rebuild", value: float64(reads.errors), unit: countUnit,
		targets: []target{none()}, note: note,
	})
	return nil
}

// readDuring starts rebuildReaders readers of base, and returns the
// function that stops them and says what they saw.
func (b *bench) readDuring(ctx context.Context, base string, qs []query) func() loadResult {
	ctx, cancel := context.WithCancel(ctx)
	reads := make([]loadResult, rebuildReaders)
	var wg sync.WaitGroup
	for i := range reads {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			t := time.NewTicker(rebuildReadEvery)
			defer t.Stop()
			for k := i; ; k++ {
				path, _, _ := qs[k%len(qs)].draw(rng)
				t0 := time.Now()
				err := get(ctx, b.client, base+path)
				if ctx.Err() != nil {
					return
				}
				reads[i].add(time.Since(t0), err)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	return func() loadResult {
		cancel()
		wg.Wait()
		return sumLoads(0, reads)
	}
}

// none is met by a count of zero.
func none() target {
	return target{desc: "0", met: func(f figure) bool { return f.value == 0 }}
}
