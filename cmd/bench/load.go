package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
)

// The commands a client sends about each experiment, in order: the
// append scenario's "register + conclude + learnings", with the start a
// conclude needs. Each appends one event.
var (
	registerBody = []byte(`{"team":"growth","title":"Free shipping banner","kind":"ab_test",` +
		`"hypothesis":"If we show free shipping on the cart, more carts check out",` +
		`"success_metric":"checkout conversion","success_criteria":"+2% in two weeks","owner":"bench","tags":["bench","q3"]}`)
	concludeBody = []byte(`{"outcome":"failed","decision":"iterate","summary":"No lift; the banner went unnoticed"}`)
	learningBody = []byte(`{"text":"People do not read banners above the cart","skills":["ux research"]}`)
)

// commandsPerCycle is how many commands one experiment's cycle sends.
const commandsPerCycle = 4

// commander sends one client's commands through the HTTP API: cycles of
// register, start, conclude and a learning, one experiment at a time.
type commander struct {
	client *http.Client
	base   string
	id     string
	step   int
}

// commandResult is the part of a command's answer the benchmark reads.
type commandResult struct {
	ID       string `json:"id"`
	Position uint64 `json:"position"`
}

// send sends the client's next command and returns the stream position
// of the event it appended, as the API answered it.
func (c *commander) send(ctx context.Context) (uint64, error) {
	path, body, want := "/v1/experiments", registerBody, http.StatusCreated
	switch c.step {
	case 1:
		path, body, want = "/v1/experiments/"+c.id+"/start", nil, http.StatusOK
	case 2:
		path, body, want = "/v1/experiments/"+c.id+"/conclude", concludeBody, http.StatusOK
	case 3:
		path, body, want = "/v1/experiments/"+c.id+"/learnings", learningBody, http.StatusCreated
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.step = 0 // start over with a new experiment
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != want {
		c.step = 0
		return 0, fmt.Errorf("POST %s: %s: %.200s", path, resp.Status, b)
	}
	var res commandResult
	if err := json.Unmarshal(b, &res); err != nil {
		return 0, fmt.Errorf("POST %s: %w", path, err)
	}
	if c.step == 0 {
		c.id = res.ID
	}
	c.step = (c.step + 1) % commandsPerCycle
	return res.Position, nil
}

// rawPublisher publishes the events of the same cycles straight to
// JetStream, with the expected-sequence headers the event store sets,
// one synchronous publish at a time: the broker's own cost of an append.
type rawPublisher struct {
	js       jetstream.JetStream
	entropy  *ulid.MonotonicEntropy
	id       string
	step     int
	expected uint64
}

// rawCycle is the event each step of a cycle appends, and its payload.
var rawCycle = [commandsPerCycle]struct {
	name string
	data []byte
}{
	{events.ExperimentRegistered, mustJSON(events.ExperimentRegisteredV1{
		Team: "growth", Title: "Free shipping banner", Kind: "ab_test",
		Hypothesis:    "If we show free shipping on the cart, more carts check out",
		SuccessMetric: "checkout conversion", SuccessCriteria: "+2% in two weeks", Owner: "bench",
		Tags: []string{"bench", "q3"}, BuildsOn: []string{}, Visibility: "org",
	})},
	{events.ExperimentStarted, mustJSON(events.ExperimentStartedV1{StartedAt: time.Now().UTC()})},
	{events.ExperimentConcluded, mustJSON(events.ExperimentConcludedV1{
		Outcome: "failed", Decision: "iterate", Summary: "No lift; the banner went unnoticed", ConcludedAt: time.Now().UTC(),
	})},
	{events.ExperimentLearningRecorded, mustJSON(events.ExperimentLearningRecordedV1{
		LearningID: ulid.Make().String(), Text: "People do not read banners above the cart", Skills: []string{"ux research"},
	})},
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// send publishes the next event of the cycle and returns its sequence.
// The envelope is encoded on each publish, as the event store does.
func (p *rawPublisher) send(ctx context.Context) (uint64, error) {
	if p.step == 0 {
		p.id = ulid.MustNew(ulid.Now(), p.entropy).String()
		p.expected = 0
	}
	ev := rawCycle[p.step]
	env := events.Envelope{
		SpecVersion: events.SpecVersion, ID: ulid.MustNew(ulid.Now(), p.entropy).String(), Source: events.Source,
		Type: events.TypeOf(ev.name), Subject: p.id, Time: time.Now().UTC(),
		DataContentType: "application/json", DataSchema: events.SchemaOf(ev.name),
		Team: "growth", Actor: "bench", Data: ev.data,
	}
	m, err := env.EncodeMsg(events.Subject(ev.name, p.id))
	if err != nil {
		return 0, err
	}
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(p.expected, 10))
	m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.AggregateFilter(events.AggregateExperiment, p.id))
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		p.step = 0
		return 0, err
	}
	p.expected = ack.Sequence
	p.step = (p.step + 1) % commandsPerCycle
	return ack.Sequence, nil
}

// loadResult is what a load run measured.
type loadResult struct {
	commands int
	elapsed  time.Duration
	lat      latencies
	errors   int
	firstErr error
}

func (r loadResult) rate() float64 { return float64(r.commands) / r.elapsed.Seconds() }

// errorNote describes the failed commands of a run, if any.
func (r loadResult) errorNote() string {
	if r.errors == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%d errors, the first: %v", r.errors, r.firstErr)
}

// sender sends one command and returns the stream position it wrote.
type sender func(ctx context.Context) (uint64, error)

// closedLoop runs clients senders, each sending its next command as soon
// as the last one is answered, for a warm-up of a fifth of d and then for
// d. Commands completed during d are counted and timed.
func closedLoop(ctx context.Context, clients int, d time.Duration, newSender func() sender) loadResult {
	from := time.Now().Add(d / 5)
	end := from.Add(d)
	parts := make([]loadResult, clients)
	var wg sync.WaitGroup
	for i := range parts {
		send := newSender()
		wg.Go(func() {
			r := &parts[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				_, err := send(ctx)
				t1 := time.Now()
				if t1.Before(from) || t1.After(end) {
					continue
				}
				r.add(t1.Sub(t0), err)
			}
		})
	}
	wg.Wait()
	return sumLoads(d, parts)
}

// add counts one command: answered in d, or failed with err.
func (r *loadResult) add(d time.Duration, err error) {
	if err != nil {
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.commands++
	r.lat = append(r.lat, d)
}

// sumLoads joins what several clients measured over elapsed.
func sumLoads(elapsed time.Duration, parts []loadResult) loadResult {
	total := loadResult{elapsed: elapsed}
	for _, p := range parts {
		total.commands += p.commands
		total.lat = append(total.lat, p.lat...)
		total.errors += p.errors
		if total.firstErr == nil {
			total.firstErr = p.firstErr
		}
	}
	return total
}
