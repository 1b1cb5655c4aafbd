// Package history generates plausible event histories of failforward:
// teams registering experiments of every kind (some confidential to their
// team, some building on earlier ones in chains several deep), revising
// them while planned, starting, concluding or abandoning them with
// backdated dates, recording learnings with skills, revising outcomes;
// and innovations recorded, linked to ended experiments and now and then
// unlinked. The benchmark and the projector's tests replay them. The same
// configuration gives the same history.
package history

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
)

// Config sizes a history.
type Config struct {
	// Events is how many events the history has.
	Events int
	// Experiments is how many experiments it registers; 0 means one per
	// ten events.
	Experiments int
	// Seed picks the history: the same seed gives the same events.
	Seed uint64
	// Lineage, when set, opens the history with one innovation that has
	// exactly this many experiments upstream: five chains of Lineage/5
	// experiments, each building on the one before.
	Lineage int
}

// LineageChains is how many chains of experiments the lineage
// innovation links.
const LineageChains = 5

// Event is one event of a history, with the subject it is written to.
type Event struct {
	Subject  string
	Envelope events.Envelope
}

// start is when every history begins; its events then run over two
// years.
var start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Teams returns the teams a history's experiments belong to.
func Teams() []string {
	return []string{"growth", "checkout", "search", "onboarding", "platform", "pricing", "mobile", "retention"}
}

// Words returns the words titles, hypotheses and learnings are made of,
// so that a text search finds some experiments and learnings and not
// all.
func Words() []string {
	return []string{"banner", "checkout", "trial", "discount", "referral", "tooltip", "wizard", "bundle",
		"reminder", "badge", "search", "filter", "pricing", "onboarding", "digest", "widget"}
}

// Tags returns the tags experiments carry: a quarter and a channel each.
func Tags() []string { return []string{"q1", "q2", "q3", "q4", "mobile", "web", "emea", "us"} }

var (
	kinds     = []string{"ab_test", "prototype", "interview", "fake_door", "pilot", "other"}
	skills    = []string{"sql", "ux research", "pricing", "copywriting", "go", "statistics", "interviewing", "analytics"}
	outcomes  = []string{"succeeded", "failed", "failed", "inconclusive"}
	decisions = []string{"persevere", "pivot", "iterate", "stop", "scale"}
)

// experiment is an experiment of the history and what is left of its
// plan.
type experiment struct {
	id, team   string
	status     string
	outcome    string
	since      time.Time // when it was registered, or started once running
	revisions  int       // revisions left while planned
	learnings  int       // learnings left to record
	abandon    bool
	reviseNext bool // the outcome is revised next
}

// Generator emits a history, in stream order.
type Generator struct {
	rng     *rand.Rand
	entropy *ulid.MonotonicEntropy
	at      time.Time
	gap     time.Duration
	cfg     Config
	emit    func(Event) error
	emitted int

	window      int // how many experiments are open at once
	learnings   float64
	innovations int // how many to record in all
	pInnovation float64

	all, open, ended []*experiment
	innovs           []string
	innovTeam        map[string]string
	links            map[string][]string

	lineageDone       bool
	lineageInnovation string
}

// New returns a generator of the history cfg describes.
func New(cfg Config) *Generator {
	if cfg.Experiments <= 0 {
		cfg.Experiments = max(1, cfg.Events/10)
	}
	cfg.Experiments = max(cfg.Experiments, cfg.Lineage)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], cfg.Seed)
	src := rand.NewChaCha8(key)
	n := max(cfg.Events, 1)
	g := &Generator{
		rng: rand.New(src), entropy: ulid.Monotonic(src, 0), at: start,
		gap: 2 * 365 * 24 * time.Hour / time.Duration(n), cfg: cfg,
		innovTeam: map[string]string{}, links: map[string][]string{},
		lineageDone: cfg.Lineage == 0,
	}
	g.window = min(500, cfg.Experiments/10+1)
	g.innovations = max(1, cfg.Experiments/20)
	// Events per experiment besides learnings: registered, 0.1 revised,
	// started or abandoned, concluded or abandoned, 0.05 outcome revised;
	// and per innovation a record, four links and a third of an unlink.
	innovationEvents := float64(g.innovations) * (1 + 4 + 0.3)
	g.pInnovation = innovationEvents / float64(n)
	perExperiment := float64(n)/float64(cfg.Experiments) - 3.1 - innovationEvents/float64(cfg.Experiments)
	g.learnings = max(perExperiment, 0)
	return g
}

// Generate returns the whole history of cfg.
func Generate(cfg Config) []Event {
	out := make([]Event, 0, cfg.Events)
	// emit cannot fail, so neither can Emit.
	_ = New(cfg).Emit(func(ev Event) error {
		out = append(out, ev)
		return nil
	}, nil)
	return out
}

// Emit emits the history's next events to emit, until it has all of them
// or stop, asked before each step, reports true (nil never stops). It
// returns the first error emit returns.
func (g *Generator) Emit(emit func(Event) error, stop func() bool) error {
	g.emit = emit
	if !g.lineageDone {
		g.lineageDone = true
		if err := g.lineage(); err != nil {
			return err
		}
	}
	for !g.Done() && (stop == nil || !stop()) {
		if err := g.step(); err != nil {
			return err
		}
	}
	return nil
}

// Config is the history's configuration, its defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Done reports whether the history has all its events.
func (g *Generator) Done() bool { return g.emitted >= g.cfg.Events }

// Emitted is how many events the generator has emitted.
func (g *Generator) Emitted() int { return g.emitted }

// Registered is how many experiments the events emitted register.
func (g *Generator) Registered() int { return len(g.all) }

// Experiments returns the ids of the experiments registered so far.
func (g *Generator) Experiments() []string {
	ids := make([]string, len(g.all))
	for i, x := range g.all {
		ids[i] = x.id
	}
	return ids
}

// LineageInnovation is the innovation with Config.Lineage experiments
// upstream, or "" when the history has none.
func (g *Generator) LineageInnovation() string { return g.lineageInnovation }

// Span returns when the history began and the time of its last event.
func (g *Generator) Span() (from, to time.Time) { return start, g.at }

func (g *Generator) newID() string {
	return ulid.MustNew(ulid.Timestamp(g.at), g.entropy).String()
}

// put emits one event about aggregate id, and moves the clock on.
func (g *Generator) put(name, id, team string, payload any) error {
	if g.Done() {
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
		Team: team, Actor: "user-" + team, CorrelationID: g.newID(), Data: data,
	}
	g.emitted++
	return g.emit(Event{Subject: events.Subject(name, id), Envelope: env})
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// backdated is a time up to three days before now, never before since:
// a quarter of the dates people enter are of something that happened
// earlier.
func (g *Generator) backdated(since time.Time) time.Time {
	if g.rng.IntN(4) > 0 {
		return g.at
	}
	at := g.at.Add(-time.Duration(g.rng.Int64N(int64(72 * time.Hour))))
	if at.Before(since) {
		return since
	}
	return at
}

// linkable returns the innovations that may gain and lose links at
// random: all but the lineage innovation, which keeps its own.
func (g *Generator) linkable() []string {
	if g.lineageInnovation == "" {
		return g.innovs
	}
	return g.innovs[1:]
}
