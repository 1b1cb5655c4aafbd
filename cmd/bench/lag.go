package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// Targets and load of the live lag scenario.
const (
	lagMaxP99 = 200 * time.Millisecond
	// lagMinShareOfRate is how much of the asked rate the API must
	// sustain for the lag figure to be the one at that rate.
	lagMinShareOfRate = 0.95
	// lagFloorRate is the baseline's trickle of commands: the lag of a
	// projector with nothing queued: one delivery and one commit.
	lagFloorRate = 20
	// lagWorkers bounds the commands in flight; it is far more than the
	// rate needs while answers are quick, so that slow answers delay the
	// load only when the API truly cannot keep up.
	lagWorkers = 64
	// lagPoll is how often the watcher reads the checkpoint.
	lagPoll = 2 * time.Millisecond
)

// lag runs the api in embedded mode (its own JetStream server, synced
// on its timer, and the projector in-process, on SQLite or, with DATABASE_URL, on
// Postgres), sends commands at a fixed rate (open loop: each command has
// its due time, whatever happened to the ones before), and measures, for
// each, the time from the api's answer to the projector's checkpoint
// reaching the command's position in the read store: the checkpoint is
// written in the transaction that wrote the rows, so the rows are
// visible then.
func (b *bench) lag(ctx context.Context, d readstore.Dialect) error {
	sc := b.opts.scale
	dir, err := os.MkdirTemp(b.dir, "embedded-")
	if err != nil {
		return err
	}
	// Synced on nats-server's timer: with a sync per write (the default,
	// EMBEDDED_SYNC=always) the disk, not the projector, sets the rate,
	// and this machine's disk takes about 1,300 commands/s that way.
	env, u := []string{"DATA_DIR=" + dir, "EMBEDDED_SYNC=interval"}, "sqlite:"+filepath.Join(dir, "readmodels.db")
	if d == readstore.Postgres {
		if u, err = b.freshStore(ctx, d); err != nil {
			return err
		}
		defer b.dropStore(u)
		env = append(env, "DATABASE_URL="+u)
	}
	a, err := b.startAPI(ctx, env...)
	if err != nil {
		return err
	}
	defer a.stop()
	db, err := readstore.Open(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	client := newClient(lagWorkers)
	floor, err := measureLag(ctx, client, a.base, db, lagFloorRate, sc.lagFloorFor)
	if err != nil {
		return fmt.Errorf("at %d commands/s: %w", lagFloorRate, a.withCause(err))
	}
	before, err := scrape(ctx, b.client, a.base+"/metrics")
	if err != nil {
		return err
	}
	full, err := measureLag(ctx, client, a.base, db, sc.lagRate, sc.lagFor)
	if err != nil {
		return fmt.Errorf("at %d commands/s: %w", sc.lagRate, a.withCause(err))
	}
	after, err := scrape(ctx, b.client, a.base+"/metrics")
	if err != nil {
		return err
	}
	if err := a.stop(); err != nil {
		return err
	}
	b.lagFigures(label("lag", d), floor, full, batchesOf(after).minus(batchesOf(before)))
	return nil
}

func (b *bench) lagFigures(name string, floor, full lagResult, during batches) {
	sc := b.opts.scale
	b.rep.add(figure{
		scenario: name, name: fmt.Sprintf("p99 ack→visible at %s commands/s", thousands(float64(sc.lagRate))),
		value: full.lag.p99(), unit: seconds, base: &baseline{fmt.Sprintf("at %d/s", lagFloorRate), floor.lag.p99()},
		targets: []target{below(lagMaxP99.Seconds(), seconds)},
		note: fmt.Sprintf("p50 %s, over %s, %s; projector: %s",
			seconds.format(full.lag.p50()), sc.lagFor, full.load.errorNote(), during),
	})
	b.rep.add(figure{
		scenario: name, name: "commands/s sustained (open loop)", value: full.load.rate(), unit: perSecond,
		targets: []target{atLeast(lagMinShareOfRate*float64(sc.lagRate), perSecond)},
		note:    fmt.Sprintf("p99 command latency %s, counted from each command's due time", seconds.format(full.load.lat.p99())),
	})
}

// lagResult is what one run at a fixed rate measured.
type lagResult struct {
	load loadResult
	lag  latencies
}

// ack is when the API answered a command, and the position it wrote.
type ack struct {
	pos uint64
	at  time.Time
}

// measureLag sends rate commands per second for d, then waits for the
// read store to show all of them, and returns each command's lag.
func measureLag(ctx context.Context, client *http.Client, base string, db *readstore.DB, rate int, d time.Duration) (lagResult, error) {
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w := &checkpointWatch{}
	var watching sync.WaitGroup
	watching.Go(func() { w.run(watchCtx, db) })

	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var next atomic.Int64
	parts := make([]loadResult, lagWorkers)
	acks := make([][]ack, lagWorkers)
	var wg sync.WaitGroup
	for i := range lagWorkers {
		c := &commander{client: client, base: base}
		wg.Go(func() {
			r := &parts[i]
			for ctx.Err() == nil {
				due := start.Add(time.Duration(next.Add(1)-1) * interval)
				if due.Sub(start) >= d {
					return
				}
				time.Sleep(time.Until(due))
				pos, err := c.send(ctx)
				now := time.Now()
				if err != nil {
					r.add(0, err)
					continue
				}
				r.add(now.Sub(due), nil)
				acks[i] = append(acks[i], ack{pos, now})
			}
		})
	}
	wg.Wait()
	load := sumLoads(max(d, time.Since(start)), parts)
	all := slices.Concat(acks...)
	if len(all) == 0 {
		return lagResult{}, fmt.Errorf("no command succeeded: %s", load.errorNote())
	}
	var last uint64
	for _, a := range all {
		last = max(last, a.pos)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !w.reached(last) {
		if time.Now().After(deadline) {
			return lagResult{}, fmt.Errorf("the read store did not reach position %d within 30s of the last command", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopWatch()
	watching.Wait()
	res := lagResult{load: load}
	for _, a := range all {
		res.lag = append(res.lag, w.lagOf(a))
	}
	return res, nil
}

// checkpointWatch records when the read store's checkpoint moved, and to
// where.
type checkpointWatch struct {
	mu  sync.Mutex
	at  []time.Time
	pos []uint64
}

func (w *checkpointWatch) run(ctx context.Context, db *readstore.DB) {
	t := time.NewTicker(lagPoll)
	defer t.Stop()
	var last uint64
	for {
		if pos, err := db.Position(ctx); err == nil && pos != last {
			now := time.Now()
			w.mu.Lock()
			w.at, w.pos = append(w.at, now), append(w.pos, pos)
			w.mu.Unlock()
			last = pos
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *checkpointWatch) reached(pos uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pos) > 0 && w.pos[len(w.pos)-1] >= pos
}

// lagOf is the time from a's answer to the first reading of the
// checkpoint at or past a's position: zero when the rows were visible
// before the answer reached the client. The checkpoint only grows, so
// the readings are sorted.
func (w *checkpointWatch) lagOf(a ack) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearch(w.pos, a.pos)
	if i == len(w.pos) {
		return time.Hour // never seen: counts as a miss, never as fast
	}
	return max(w.at[i].Sub(a.at), 0)
}
