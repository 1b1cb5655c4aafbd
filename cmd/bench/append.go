package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/readstore"
)

// Targets of the append scenario.
const (
	appendMinShare = 0.30
	// appendMaxP99Share is the most the p99 through the api may be, as a
	// multiple of raw JetStream's p99.
	appendMaxP99Share = 2.0
)

// appendScenario sends commands through the HTTP API from many clients at
// once, each waiting for its answer before sending the next, and beside
// it publishes the same events straight to JetStream with the same
// expected-sequence headers and as many concurrent publishers. Each side
// has a broker of its own. The api runs without the projector, as it does
// with NATS_URL and DATABASE_URL set, where the projector is a process of
// its own: the projector's cost is what the replay and lag scenarios
// measure.
func (b *bench) appendScenario(ctx context.Context) error {
	sc := b.opts.scale
	viaAPI, err := b.appendThroughAPI(ctx)
	if err != nil {
		return err
	}
	br, err := startBroker(ctx, b.dir)
	if err != nil {
		return err
	}
	defer br.close()
	js, err := jetstream.New(br.nc)
	if err != nil {
		return err
	}
	raw := closedLoop(ctx, sc.appendClients, sc.appendFor, func() sender {
		p := &rawPublisher{js: js, entropy: ulid.Monotonic(rand.Reader, 0)}
		return p.send
	})
	if raw.commands == 0 {
		return fmt.Errorf("no raw publish succeeded: %s", raw.errorNote())
	}
	load := fmt.Sprintf("%d clients, %s", sc.appendClients, viaAPI.errorNote())
	b.rep.add(figure{
		scenario: "append", name: "commands/s through the HTTP API", value: viaAPI.rate(), unit: perSecond,
		base: &baseline{"raw JetStream", raw.rate()}, targets: []target{shareOfBaseline(appendMinShare)}, note: load,
	})
	b.rep.add(figure{
		scenario: "append", name: "p99 command latency", value: viaAPI.lat.p99(), unit: seconds,
		base: &baseline{"raw JetStream", raw.lat.p99()}, targets: []target{atMostTimesBaseline(appendMaxP99Share)},
		note: fmt.Sprintf("p50 %s, raw p50 %s", seconds.format(viaAPI.lat.p50()), seconds.format(raw.lat.p50())),
	})
	return nil
}

// appendThroughAPI runs the load against the api with an external event
// store and read store, where the projector would be a process of its
// own, left out here.
func (b *bench) appendThroughAPI(ctx context.Context) (loadResult, error) {
	sc := b.opts.scale
	br, err := startBroker(ctx, b.dir)
	if err != nil {
		return loadResult{}, err
	}
	defer br.close()
	u, err := b.freshStore(ctx, readstore.SQLite)
	if err != nil {
		return loadResult{}, err
	}
	defer b.dropStore(u)
	// The api does not migrate an external read store, the projector
	// does; with no projector here, the bench does it instead.
	db, err := openStore(ctx, u)
	if err != nil {
		return loadResult{}, err
	}
	db.Close()
	a, err := b.startAPI(ctx, "NATS_URL="+br.url, "DATABASE_URL="+u)
	if err != nil {
		return loadResult{}, err
	}
	client := newClient(sc.appendClients)
	res := closedLoop(ctx, sc.appendClients, sc.appendFor, func() sender {
		c := &commander{client: client, base: a.base}
		return c.send
	})
	if err := a.stop(); err != nil {
		return loadResult{}, err
	}
	if res.commands == 0 {
		return loadResult{}, fmt.Errorf("no command succeeded: %s", a.withCause(errors.New(res.errorNote())))
	}
	return res, nil
}
