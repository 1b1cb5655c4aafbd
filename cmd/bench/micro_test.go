package main

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/history"
)

// The micro-benchmarks below cover the hot paths the scenarios are made
// of and that have no benchmark of their own elsewhere. Those that do:
// internal/events (BenchmarkEnvelopeEncodeDecode, BenchmarkAppend,
// BenchmarkLoad), internal/readmodel (BenchmarkApplyBatch) and
// internal/projector (BenchmarkReplay, BenchmarkRouter).

// mix is a slice of the generated history, encoded as the stream holds it.
func mix(b *testing.B, n int) []*nats.Msg {
	b.Helper()
	var msgs []*nats.Msg
	for _, ev := range history.Generate(history.Config{Events: n, Seed: 3}) {
		m, err := ev.Envelope.EncodeMsg(ev.Subject)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// BenchmarkDecodeMix decodes the envelope and the payload of each event
// of a realistic mix, as the projector and every aggregate load do; per
// event.
func BenchmarkDecodeMix(b *testing.B) {
	msgs := mix(b, 10_000)
	i := 0
	for b.Loop() {
		env, err := events.Decode(msgs[i%len(msgs)].Data)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := events.Payload(&env); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEncodeMix renders each event of a realistic mix as a NATS
// message, as every append does; per event.
func BenchmarkEncodeMix(b *testing.B) {
	evs := history.Generate(history.Config{Events: 10_000, Seed: 3})
	i := 0
	for b.Loop() {
		ev := &evs[i%len(evs)]
		if _, err := ev.Envelope.EncodeMsg(ev.Subject); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// experimentHistory returns the ten events of one experiment: registered,
// started, seven learnings, concluded.
func experimentHistory(id string) []events.Envelope {
	entropy := ulid.Monotonic(rand.Reader, 0)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	env := func(name string, payload any) events.Envelope {
		at = at.Add(time.Hour)
		return events.Envelope{
			SpecVersion: events.SpecVersion, ID: ulid.MustNew(ulid.Timestamp(at), entropy).String(), Source: events.Source,
			Type: events.TypeOf(name), Subject: id, Time: at, DataContentType: "application/json",
			DataSchema: events.SchemaOf(name), Team: "growth", Actor: "bench", Data: mustJSON(payload),
		}
	}
	evs := []events.Envelope{
		env(events.ExperimentRegistered, events.ExperimentRegisteredV1{
			Team: "growth", Title: "Free shipping banner", Kind: "ab_test", Hypothesis: "More carts check out",
			Tags: []string{"q3"}, BuildsOn: []string{}, Visibility: "org",
		}),
		env(events.ExperimentStarted, events.ExperimentStartedV1{StartedAt: at}),
	}
	for range 7 {
		evs = append(evs, env(events.ExperimentLearningRecorded, events.ExperimentLearningRecordedV1{
			LearningID: ulid.MustNew(ulid.Timestamp(at), entropy).String(), Text: "People ignore banners", Skills: []string{"ux research"},
		}))
	}
	return append(evs, env(events.ExperimentConcluded, events.ExperimentConcludedV1{
		Outcome: "failed", Decision: "iterate", Summary: "No lift", ConcludedAt: at,
	}))
}

// foldOnly is an event store that serves one aggregate's history from
// memory, so that BenchmarkAggregateLoad/fold measures the fold alone.
type foldOnly struct{ recs []events.Recorded }

func (s foldOnly) Load(context.Context, string, string) ([]events.Recorded, error) {
	return s.recs, nil
}
func (foldOnly) Append(context.Context, string, string, uint64, []events.Envelope, string) (events.AppendResult, error) {
	return events.AppendResult{}, errors.New("read-only")
}
func (foldOnly) Get(context.Context, uint64) (events.Recorded, error) {
	return events.Recorded{}, events.ErrNotFound
}

// BenchmarkAggregateLoad loads an experiment of ten events into a service
// whose cache does not hold it, as the first command on an aggregate
// does: from JetStream (a direct batch get, decoding and the fold), and
// from memory (decoding and the fold alone).
func BenchmarkAggregateLoad(b *testing.B) {
	id := ulid.Make().String()
	evs := experimentHistory(id)
	load := func(b *testing.B, store experiments.EventStore) {
		ctx := context.Background()
		for b.Loop() {
			svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
			if err != nil {
				b.Fatal(err)
			}
			if e, err := svc.Experiment(ctx, id); err != nil || e.Version != 10 {
				b.Fatalf("Experiment = version %d, %v", e.Version, err)
			}
		}
	}
	b.Run("jetstream", func(b *testing.B) {
		br := mustBroker(b)
		store, err := events.OpenStore(context.Background(), br.nc, events.StoreConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Append(context.Background(), events.AggregateExperiment, id, 0, evs, ""); err != nil {
			b.Fatal(err)
		}
		load(b, store)
	})
	b.Run("fold", func(b *testing.B) {
		recs := make([]events.Recorded, len(evs))
		for i, e := range evs {
			m, err := e.EncodeMsg(events.Subject(events.ExperimentRegistered, id))
			if err != nil {
				b.Fatal(err)
			}
			// Decoded from the bytes, as a load from the stream would be.
			if recs[i].Envelope, err = events.Decode(m.Data); err != nil {
				b.Fatal(err)
			}
			recs[i].Sequence = uint64(i + 1)
		}
		load(b, foldOnly{recs})
	})
}

// BenchmarkCommandCycle runs the append scenario's cycle (register,
// start, conclude, learning: four commands, four events) one at a time,
// through three layers: the api program on a loopback port, the domain
// service alone, and raw JetStream publishes with the same headers. The
// differences are what each layer adds to an append; per cycle.
func BenchmarkCommandCycle(b *testing.B) {
	ctx := context.Background()
	b.Run("http", func(b *testing.B) {
		br := mustBroker(b)
		u := "sqlite:" + b.TempDir() + "/read.db"
		db, err := openStore(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		bin, err := buildPrograms(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		bn := &bench{bin: bin, client: newClient(1)}
		a, err := bn.startAPI(ctx, "NATS_URL="+br.url, "DATABASE_URL="+u)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.stop() })
		c := &commander{client: newClient(1), base: a.base}
		for b.Loop() {
			for range commandsPerCycle {
				if _, err := c.send(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("service", func(b *testing.B) {
		br := mustBroker(b)
		store, err := events.OpenStore(ctx, br.nc, events.StoreConfig{})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
		if err != nil {
			b.Fatal(err)
		}
		meta := experiments.Meta{Actor: "bench"}
		for b.Loop() {
			e, err := svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{
				Team: "growth", Title: "Free shipping banner", Kind: "ab_test", Hypothesis: "More carts check out",
				Tags: []string{"bench", "q3"},
			})
			if err == nil {
				_, err = svc.StartExperiment(ctx, meta, e.ID, experiments.StartExperiment{})
			}
			if err == nil {
				_, err = svc.ConcludeExperiment(ctx, meta, e.ID, experiments.ConcludeExperiment{
					Outcome: "failed", Decision: "iterate", Summary: "No lift",
				})
			}
			if err == nil {
				_, err = svc.RecordLearning(ctx, meta, e.ID, experiments.RecordLearning{Text: "People ignore banners"})
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		br := mustBroker(b)
		js, err := jetstream.New(br.nc)
		if err != nil {
			b.Fatal(err)
		}
		p := &rawPublisher{js: js, entropy: ulid.Monotonic(rand.Reader, 0)}
		for b.Loop() {
			for range commandsPerCycle {
				if _, err := p.send(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// mustBroker starts a broker for a benchmark and stops it after.
func mustBroker(b *testing.B) *broker {
	b.Helper()
	br, err := startBroker(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.close)
	return br
}

var _ experiments.EventStore = foldOnly{}
