package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/history"
)

// lineageSize is how many experiments are upstream of the innovation the
// lineage query asks for.
const lineageSize = 50

// dataset is a generated history published on a broker of its own: the
// one the replay, query and rebuild scenarios share, or the growth
// scenario's, published in stages.
type dataset struct {
	gen    *history.Generator
	broker *broker
	js     jetstream.JetStream
	failed atomic.Int64
	first  atomic.Value
	// last is the stream sequence of the last event published.
	last uint64
}

// publishWindow is how many publishes may await their ack at once.
const publishWindow = 4096

// newDataset starts a broker for a history of events about experiments,
// opening with an innovation of lineage experiments upstream when lineage
// is not 0.
func newDataset(ctx context.Context, dir string, events, experiments, lineage int) (*dataset, error) {
	br, err := startBroker(ctx, dir)
	if err != nil {
		return nil, err
	}
	d := &dataset{broker: br, gen: history.New(history.Config{
		Events: events, Experiments: experiments, Seed: 42, Lineage: lineage,
	})}
	d.js, err = jetstream.New(br.nc,
		jetstream.WithPublishAsyncMaxPending(publishWindow),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			d.failed.Add(1)
			d.first.CompareAndSwap(nil, err)
		}))
	if err != nil {
		br.close()
		return nil, err
	}
	return d, nil
}

// dataset generates and publishes the shared history on first use.
func (b *bench) dataset(ctx context.Context) (*dataset, error) {
	if b.data != nil || b.dataErr != nil {
		return b.data, b.dataErr
	}
	sc := b.opts.scale
	start := time.Now()
	d, err := newDataset(ctx, b.dir, sc.events, sc.experiments, lineageSize)
	if err == nil {
		if err = d.grow(ctx, sc.experiments); err != nil {
			d.broker.close()
		}
	}
	if err != nil {
		// Every scenario that needs the history fails with this, rather
		// than generate it again.
		b.dataErr = fmt.Errorf("generated history: %w", err)
		return nil, b.dataErr
	}
	took := time.Since(start)
	b.rep.notef("data", "%s events about %s experiments generated and published in %.1fs (%s/s), async, window %d",
		thousands(float64(d.last)), thousands(float64(d.gen.Registered())), took.Seconds(),
		thousands(float64(d.last)/took.Seconds()), publishWindow)
	b.data = d
	return d, nil
}

func (b *bench) closeData() {
	if b.data != nil {
		b.data.broker.close()
	}
}

// grow publishes the history until it registers experiments and has as
// many events as its share of them, or to its end when that is all of
// them, pipelined and without expected-sequence
// headers: the history is valid by construction, and this is how a long
// stream is written fast.
func (d *dataset) grow(ctx context.Context, experiments int) error {
	cfg := d.gen.Config()
	share := experiments * cfg.Events / cfg.Experiments
	stop := func() bool {
		return experiments < cfg.Experiments && d.gen.Registered() >= experiments && d.gen.Emitted() >= share
	}
	err := d.gen.Emit(func(ev history.Event) error {
		m, err := ev.Envelope.EncodeMsg(ev.Subject)
		if err != nil {
			return err
		}
		// The server falls behind now and then (it flushes to disk):
		// wait for it rather than give up after the default 200ms.
		if _, err := d.js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			return fmt.Errorf("publish event %s: %w", ev.Envelope.ID, err)
		}
		return ctx.Err()
	}, stop)
	if err != nil {
		return err
	}
	select {
	case <-d.js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("publishing: %d acks still missing after two minutes", d.js.PublishAsyncPending())
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := d.failed.Load(); n > 0 {
		return fmt.Errorf("%d publishes failed, the first with %v", n, d.first.Load())
	}
	st, err := d.js.Stream(ctx, events.DefaultStream)
	if err != nil {
		return err
	}
	if d.last = st.CachedInfo().State.LastSeq; d.last != uint64(d.gen.Emitted()) {
		return fmt.Errorf("stream holds %d events, want %d", d.last, d.gen.Emitted())
	}
	return nil
}
