package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
)

// lineageSize is how many experiments are upstream of the innovation the
// lineage query asks for: lineageChains chains of experiments, each
// building on the one before, whose last experiments the innovation links.
const (
	lineageSize   = 50
	lineageChains = 5
)

// history describes a generated event history by what the query
// scenarios need to know of it.
type history struct {
	events      int
	experiments []string
	// lineageInnovation has exactly lineageSize experiments upstream.
	lineageInnovation string
	// from and to bound the year the dashboard is asked for.
	from, to time.Time
}

// Words the generated titles and hypotheses are made of, so that a text
// search finds some experiments and not all.
var (
	teams  = []string{"growth", "checkout", "search", "onboarding", "platform", "pricing", "mobile", "retention"}
	kinds  = []string{"ab_test", "prototype", "interview", "fake_door", "pilot", "other"}
	skills = []string{"sql", "ux research", "pricing", "copywriting", "go", "statistics", "interviewing", "analytics"}
	words  = []string{"banner", "checkout", "trial", "discount", "referral", "tooltip", "wizard", "bundle",
		"reminder", "badge", "search", "filter", "pricing", "onboarding", "digest", "widget"}
	tags = []string{"q1", "q2", "q3", "q4", "mobile", "web", "emea", "us"}
)

// generate produces a plausible history of n events about experiments
// experiments, in stream order, and calls emit with each. The mix: every
// experiment is registered (a third building on an earlier one), some
// are revised while planned, most start, record learnings and conclude
// (a few abandon, a few have their outcome revised); one in twenty
// experiments is matched by an innovation recorded and linked to ended
// experiments (now and then unlinked). A few hundred experiments are
// open at any time, so that one aggregate's events are spread over the
// stream as they are in use. Event times run over two years from
// 2024-01-01. The same seed gives the same history.
func generate(n, experiments int, seed uint64, emit func(subject string, env *events.Envelope) error) (history, error) {
	g := newGenerator(n, experiments, seed, emit)
	if err := g.lineage(); err != nil {
		return history{}, err
	}
	for g.emitted < n {
		if err := g.step(); err != nil {
			return history{}, err
		}
	}
	h := history{
		events: g.emitted, lineageInnovation: g.lineageInnovation,
		from: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, x := range g.all {
		h.experiments = append(h.experiments, x.id)
	}
	return h, nil
}

// genExperiment is an experiment of the generated history and what is
// left of its plan.
type genExperiment struct {
	id, team   string
	status     string
	revisions  int // revisions left while planned
	learnings  int // learnings left to record
	abandon    bool
	reviseNext bool // the outcome is revised next
}

type generator struct {
	rng     *rand.Rand
	entropy *ulid.MonotonicEntropy
	at      time.Time
	gap     time.Duration
	emit    func(string, *events.Envelope) error
	n       int
	emitted int

	experiments int // how many to register in all
	window      int // how many are open at once
	learnings   float64
	innovations int // how many to record in all
	pInnovation float64

	all, open, ended []*genExperiment
	innovs           []string
	innovTeam        map[string]string
	links            map[string][]string

	lineageInnovation string
}

func newGenerator(n, experiments int, seed uint64, emit func(string, *events.Envelope) error) *generator {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(key)
	g := &generator{
		rng: rand.New(src), entropy: ulid.Monotonic(src, 0),
		at:   time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		gap:  2 * 365 * 24 * time.Hour / time.Duration(max(n, 1)),
		emit: emit, n: n, experiments: max(experiments, lineageSize),
		innovTeam: map[string]string{}, links: map[string][]string{},
	}
	g.window = min(500, g.experiments/10+1)
	g.innovations = max(1, g.experiments/20)
	// Events per experiment besides learnings: registered, 0.1 revised,
	// started or abandoned, concluded or abandoned, 0.05 outcome revised;
	// and per innovation a record, four links and a third of an unlink.
	innovationEvents := float64(g.innovations) * (1 + 4 + 0.3)
	g.pInnovation = innovationEvents / float64(max(n, 1))
	perExperiment := float64(n)/float64(g.experiments) - 3.1 - innovationEvents/float64(g.experiments)
	g.learnings = max(perExperiment, 0)
	return g
}

func (g *generator) newID() string {
	return ulid.MustNew(ulid.Timestamp(g.at), g.entropy).String()
}

func (g *generator) put(name, id, team string, payload any) error {
	if g.emitted >= g.n {
		return nil
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	g.at = g.at.Add(g.gap/2 + time.Duration(g.rng.Int64N(int64(g.gap)+1)))
	env := events.Envelope{
		SpecVersion: events.SpecVersion, ID: g.newID(), Source: events.Source,
		Type: events.TypeOf(name), Subject: id, Time: g.at,
		DataContentType: "application/json", DataSchema: events.SchemaOf(name),
		Team: team, Actor: "bench-" + team, CorrelationID: g.newID(), Data: data,
	}
	g.emitted++
	return g.emit(events.Subject(name, id), &env)
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// register emits a new experiment building on buildsOn. An experiment
// of the general mix (mix set) builds on a random earlier one a third of
// the time, and gets a plan of what happens to it next.
func (g *generator) register(buildsOn []string, mix bool) (*genExperiment, error) {
	team := pick(g.rng, teams)
	x := &genExperiment{id: g.newID(), team: team, status: "planned"}
	if mix && len(g.all) > 0 && g.rng.IntN(3) == 0 {
		buildsOn = []string{pick(g.rng, g.all).id}
	}
	if mix {
		if g.rng.IntN(10) == 0 {
			x.revisions = 1
		}
		x.abandon = g.rng.IntN(10) == 0
		x.learnings = int(g.learnings*2*g.rng.Float64() + 0.5)
	}
	w1, w2 := pick(g.rng, words), pick(g.rng, words)
	err := g.put(events.ExperimentRegistered, x.id, team, events.ExperimentRegisteredV1{
		Team: team, Title: fmt.Sprintf("%s %s experiment %d", w1, w2, len(g.all)+1), Kind: pick(g.rng, kinds),
		Hypothesis:    fmt.Sprintf("If we change the %s, more people will use the %s", w1, w2),
		SuccessMetric: "conversion", SuccessCriteria: "+2% in two weeks", Owner: "owner-" + team,
		Tags: []string{pick(g.rng, tags[:4]), pick(g.rng, tags[4:])}, BuildsOn: buildsOn, Visibility: "org",
		Cost: &events.Cost{PersonDays: float64(g.rng.IntN(20)), Spend: float64(g.rng.IntN(5000))},
	})
	g.all = append(g.all, x)
	return x, err
}

// lineage emits lineageChains chains of experiments, each building on the
// one before it, all concluded, and an innovation linked to the last of
// each chain: an innovation with lineageSize experiments upstream.
func (g *generator) lineage() error {
	var tails []string
	for range lineageChains {
		var prev []string
		for range lineageSize / lineageChains {
			x, err := g.register(prev, false)
			if err != nil {
				return err
			}
			if err := g.start(x); err != nil {
				return err
			}
			if err := g.conclude(x); err != nil {
				return err
			}
			prev = []string{x.id}
		}
		tails = append(tails, prev[0])
	}
	id, err := g.recordInnovation()
	if err != nil {
		return err
	}
	g.lineageInnovation = id
	for _, t := range tails {
		if err := g.link(id, t); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) start(x *genExperiment) error {
	x.status = "running"
	return g.put(events.ExperimentStarted, x.id, x.team, events.ExperimentStartedV1{StartedAt: g.at})
}

func (g *generator) conclude(x *genExperiment) error {
	x.status = "concluded"
	g.ended = append(g.ended, x)
	outcome := pick(g.rng, []string{"succeeded", "failed", "failed", "inconclusive"})
	x.reviseNext = g.rng.IntN(18) == 0
	return g.put(events.ExperimentConcluded, x.id, x.team, events.ExperimentConcludedV1{
		Outcome: outcome, Decision: pick(g.rng, []string{"persevere", "pivot", "iterate", "stop", "scale"}),
		Summary: "It did what it did", FailureReasons: []string{"too small an effect"}, ConcludedAt: g.at,
	})
}

func (g *generator) learning(x *genExperiment) error {
	return g.put(events.ExperimentLearningRecorded, x.id, x.team, events.ExperimentLearningRecordedV1{
		LearningID: g.newID(), Text: fmt.Sprintf("People ignored the %s", pick(g.rng, words)),
		Skills: []string{pick(g.rng, skills)},
	})
}

func (g *generator) recordInnovation() (string, error) {
	team := pick(g.rng, teams)
	id := g.newID()
	g.innovs = append(g.innovs, id)
	g.innovTeam[id] = team
	return id, g.put(events.InnovationRecorded, id, team, events.InnovationRecordedV1{
		Team: team, Title: "Innovation " + id[20:], Description: "Shipped", LaunchedAt: g.at,
	})
}

func (g *generator) link(innovation, experiment string) error {
	g.links[innovation] = append(g.links[innovation], experiment)
	return g.put(events.InnovationLinked, innovation, g.innovTeam[innovation], events.InnovationLinkedV1{
		ExperimentID: experiment, Note: "it taught us",
	})
}

// step emits the next event of the history.
func (g *generator) step() error {
	switch {
	case len(g.ended) > 0 && g.rng.Float64() < g.pInnovation:
		return g.innovationStep()
	case len(g.all) < g.experiments && len(g.open) < g.window:
		x, err := g.register(nil, true)
		g.open = append(g.open, x)
		return err
	case len(g.open) > 0:
		i := g.rng.IntN(len(g.open))
		done, err := g.advance(g.open[i])
		if done {
			g.open = slices.Delete(g.open, i, i+1)
		}
		return err
	case len(g.all) < g.experiments:
		x, err := g.register(nil, true)
		g.open = append(g.open, x)
		return err
	}
	// Every experiment has run its course: the rest are learnings
	// recorded late, which any status allows.
	return g.learning(pick(g.rng, g.all))
}

// advance emits the next event of x's plan and reports whether x has
// none left.
func (g *generator) advance(x *genExperiment) (bool, error) {
	switch {
	case x.status == "planned" && x.revisions > 0:
		x.revisions--
		title := "Revised " + pick(g.rng, words) + " experiment"
		return false, g.put(events.ExperimentRevised, x.id, x.team, events.ExperimentRevisedV1{Title: &title})
	case x.status == "planned" && x.abandon && g.rng.IntN(2) == 0:
		x.status = "abandoned"
		g.ended = append(g.ended, x)
		return x.learnings == 0, g.put(events.ExperimentAbandoned, x.id, x.team, events.ExperimentAbandonedV1{Reason: "priorities changed", AbandonedAt: g.at})
	case x.status == "planned":
		return false, g.start(x)
	case x.status == "running" && x.learnings > 0 && g.rng.IntN(3) > 0:
		x.learnings--
		return false, g.learning(x)
	case x.status == "running" && x.abandon:
		x.status = "abandoned"
		g.ended = append(g.ended, x)
		return x.learnings == 0, g.put(events.ExperimentAbandoned, x.id, x.team, events.ExperimentAbandonedV1{Reason: "out of budget", AbandonedAt: g.at})
	case x.status == "running":
		err := g.conclude(x)
		return x.learnings == 0 && !x.reviseNext, err
	case x.reviseNext:
		x.reviseNext = false
		return x.learnings == 0, g.put(events.ExperimentOutcomeRevised, x.id, x.team, events.ExperimentOutcomeRevisedV1{
			Outcome: "inconclusive", PreviousOutcome: "failed", Reason: "sample ratio mismatch",
		})
	case x.learnings > 0:
		x.learnings--
		return x.learnings == 0, g.learning(x)
	}
	return true, nil
}

// innovationStep records an innovation, links one to an ended experiment,
// or now and then undoes a link.
func (g *generator) innovationStep() error {
	if len(g.innovs) < 2 || (len(g.innovs) < g.innovations && g.rng.IntN(5) == 0) {
		_, err := g.recordInnovation()
		return err
	}
	in := pick(g.rng, g.innovs[1:]) // the lineage innovation keeps its links
	if l := g.links[in]; len(l) > 0 && g.rng.IntN(15) == 0 {
		g.links[in] = l[1:]
		return g.put(events.InnovationUnlinked, in, g.innovTeam[in], events.InnovationUnlinkedV1{ExperimentID: l[0], Reason: "wrong link"})
	}
	x := pick(g.rng, g.ended)
	if slices.Contains(g.links[in], x.id) {
		return g.learning(x) // linking twice appends nothing in the product either
	}
	return g.link(in, x.id)
}

// dataset is the generated history, published on its own broker, which
// the replay, query and rebuild scenarios share.
type dataset struct {
	history
	broker *broker
	// last is the stream sequence of the last event.
	last uint64
}

// dataset generates and publishes the shared history on first use.
func (b *bench) dataset(ctx context.Context) (*dataset, error) {
	if b.data != nil || b.dataErr != nil {
		return b.data, b.dataErr
	}
	br, err := startBroker(ctx, b.dir)
	if err != nil {
		b.dataErr = fmt.Errorf("generated history: %w", err)
		return nil, b.dataErr
	}
	start := time.Now()
	h, last, err := publishHistory(ctx, br, b.opts.scale.events, b.opts.scale.experiments)
	if err != nil {
		br.close()
		// Every scenario that needs the history fails with this, rather
		// than generate it again.
		b.dataErr = fmt.Errorf("generated history: %w", err)
		return nil, b.dataErr
	}
	took := time.Since(start)
	b.rep.notef("data", "%s events about %s experiments generated and published in %.1fs (%s/s), async, window %d",
		thousands(float64(h.events)), thousands(float64(len(h.experiments))), took.Seconds(),
		thousands(float64(h.events)/took.Seconds()), publishWindow)
	b.data = &dataset{history: h, broker: br, last: last}
	return b.data, nil
}

func (b *bench) closeData() {
	if b.data != nil {
		b.data.broker.close()
	}
}

// publishWindow is how many publishes may await their ack at once.
const publishWindow = 4096

// publishHistory generates a history and publishes it to the broker's
// stream, pipelined, without expected-sequence headers: the history is
// valid by construction, and this is how a long stream is written fast.
func publishHistory(ctx context.Context, br *broker, n, experiments int) (history, uint64, error) {
	var failed atomic.Int64
	var firstErr atomic.Value
	js, err := jetstream.New(br.nc,
		jetstream.WithPublishAsyncMaxPending(publishWindow),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}))
	if err != nil {
		return history{}, 0, err
	}
	h, err := generate(n, experiments, 42, func(subject string, env *events.Envelope) error {
		m, err := env.EncodeMsg(subject)
		if err != nil {
			return err
		}
		// The server falls behind now and then (it flushes to disk):
		// wait for it rather than give up after the default 200ms.
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			return fmt.Errorf("publish event %s: %w", env.ID, err)
		}
		return ctx.Err()
	})
	if err != nil {
		return history{}, 0, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return history{}, 0, fmt.Errorf("publishing: %d acks still missing after two minutes", js.PublishAsyncPending())
	case <-ctx.Done():
		return history{}, 0, ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return history{}, 0, fmt.Errorf("%d publishes failed, the first with %v", n, firstErr.Load())
	}
	st, err := js.Stream(ctx, events.DefaultStream)
	if err != nil {
		return history{}, 0, err
	}
	last := st.CachedInfo().State.LastSeq
	if last != uint64(h.events) {
		return history{}, 0, fmt.Errorf("stream holds %d events, want %d", last, h.events)
	}
	return h, last, nil
}
