package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// Projection folds events into the read-model tables. It holds no state
// between batches but the text of its statements: everything it needs is
// in the database, so a batch may follow a crash, a restart or another
// instance's batches. It is safe for concurrent use.
type Projection struct {
	dialect readstore.Dialect
	tables  projectionTables
	texts   *sqlTexts
}

// NewProjection returns a projection for a read store of dialect. The SQL
// is the same for both dialects (the read store's bulk insert is where
// they differ); the dialect is checked so that a caller with an unsupported store learns it here and
// not mid-stream.
func NewProjection(dialect readstore.Dialect) (*Projection, error) {
	if dialect != readstore.Postgres && dialect != readstore.SQLite {
		return nil, fmt.Errorf("new projection: unsupported read store dialect %q", dialect)
	}
	return &Projection{dialect: dialect, tables: newProjectionTables(), texts: newSQLTexts(dialect)}, nil
}

// ApplyBatch applies evs — contiguous in stream order, already decoded
// envelopes — inside tx, with set-based SQL. It does not write the
// checkpoint: the caller does, in the same transaction. An event that
// cannot be applied (undecodable payload, unknown type, an aggregate the
// read model has never seen, a duplicate registration) changes nothing and
// is returned in the skipped list with its reason; the rest of the batch
// still applies. An error means the transaction must be rolled back.
//
// Each event must be applied once, which the caller's checkpoint sees
// to. Events applied a second time make the batch fail on the history
// rows they wrote the first time; they are never silently applied twice.
func (p *Projection) ApplyBatch(ctx context.Context, tx *readstore.Tx, evs []events.Recorded) ([]readstore.Skipped, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Sequence <= evs[i-1].Sequence {
			return nil, fmt.Errorf("apply batch: event at position %d follows position %d: batch is not in stream order",
				evs[i].Sequence, evs[i-1].Sequence)
		}
	}
	decoded := make([]decodedEvent, len(evs))
	for i := range evs {
		decoded[i] = decode(&evs[i])
	}
	btx := &batchTx{tx: tx, texts: p.texts, dialect: p.dialect}
	b, err := p.load(ctx, btx, decoded)
	if err != nil {
		return nil, fmt.Errorf("apply batch at %d..%d: %w", evs[0].Sequence, evs[len(evs)-1].Sequence, err)
	}
	before := snapshotFigures(b)
	var skipped []readstore.Skipped
	for _, d := range decoded {
		reason := d.skip
		if reason == "" {
			reason = b.apply(d)
		}
		if reason != "" {
			skipped = append(skipped, readstore.Skipped{
				Position: d.ev.Sequence, EventID: d.ev.ID, EventType: d.ev.Type, Reason: reason,
			})
		}
	}
	if err := p.writeIndexed(ctx, btx, b); err != nil {
		return nil, fmt.Errorf("apply batch at %d..%d: %w", evs[0].Sequence, evs[len(evs)-1].Sequence, err)
	}
	if err := p.writeFigures(ctx, btx, before, b); err != nil {
		return nil, fmt.Errorf("apply batch at %d..%d: figures: %w", evs[0].Sequence, evs[len(evs)-1].Sequence, err)
	}
	return skipped, nil
}

// decodedEvent is an event with its payload decoded, or the reason it
// cannot be.
type decodedEvent struct {
	ev      *events.Recorded
	name    string
	payload any
	skip    string
	// ignored is set for the events of aggregates the read model does
	// not project: they apply as nothing, and leave no history.
	ignored bool
}

func decode(ev *events.Recorded) decodedEvent {
	d := decodedEvent{ev: ev}
	name, _, err := events.ParseType(ev.Type)
	switch {
	case err != nil || !slices.Contains(events.Names, name):
		d.skip = fmt.Sprintf("unknown event type %q", ev.Type)
		return d
	case ev.Subject == "":
		d.skip = "event has no subject (aggregate id)"
		return d
	case ignored(name):
		d.ignored = true
		return d
	}
	name, payload, err := events.Payload(&ev.Envelope)
	if err != nil {
		d.skip = "undecodable payload: " + err.Error()
		return d
	}
	d.name, d.payload = name, payload
	return d
}

// batch is the in-memory state of one batch: the current rows of every
// aggregate it touches, with the events folded onto them so far, and the
// set of rows to write back.
type batch struct {
	experiments    map[string]*experimentRow
	innovations    map[string]*innovationRow
	links          map[linkKey]*linkRow
	linksOf        map[string][]linkKey // every link row of an innovation
	knownLearnings map[string]bool

	dirtyExperiments map[string]bool
	retagged         map[string]bool
	dirtyInnovations map[string]bool
	dirtyLinks       map[linkKey]bool
	edges            map[edgeKey]bool
	learnings        []*learningRow
	history          []historyRow

	// The rows that were in the read store before the batch.
	storedExperiments, storedInnovations map[string]bool
	storedLinks                          map[linkKey]bool

	stories *storyBatch
}

type linkKey struct{ innovation, experiment string }

type edgeKey struct{ experiment, buildsOn string }

func newBatch() *batch {
	return &batch{
		experiments:       map[string]*experimentRow{},
		innovations:       map[string]*innovationRow{},
		links:             map[linkKey]*linkRow{},
		linksOf:           map[string][]linkKey{},
		knownLearnings:    map[string]bool{},
		storedExperiments: map[string]bool{},
		storedInnovations: map[string]bool{},
		storedLinks:       map[linkKey]bool{},
		dirtyExperiments:  map[string]bool{},
		retagged:          map[string]bool{},
		dirtyInnovations:  map[string]bool{},
		dirtyLinks:        map[linkKey]bool{},
		edges:             map[edgeKey]bool{},
		stories:           newStoryBatch(),
	}
}

// apply folds one decoded event onto the batch state and returns why it
// was skipped, or "" when it applied. The state changes themselves are
// the domain's (Experiment.Apply, Innovation.Apply); the batch checks
// what only the read model can see (an aggregate it never saw, a
// duplicate, a link to an unknown experiment) before folding, and
// derives the rows of other tables from the folded state and the event.
func (b *batch) apply(d decodedEvent) string {
	ev := d.ev
	if d.ignored {
		return ""
	}
	var reason string
	switch p := d.payload.(type) {
	case *events.ExperimentRegisteredV1:
		reason = b.registerExperiment(ev, p)
	case *events.ExperimentRevisedV1:
		if _, reason = b.foldExperiment(ev, p); reason == "" && p.Tags != nil {
			b.retagged[ev.Subject] = true
		}
	case *events.ExperimentStartedV1, *events.ExperimentConcludedV1, *events.ExperimentOutcomeRevisedV1,
		*events.ExperimentAbandonedV1:
		_, reason = b.foldExperiment(ev, p)
	case *events.ExperimentLearningRecordedV1:
		reason = b.recordLearning(ev, p)
	case *events.InnovationRecordedV1:
		reason = b.recordInnovation(ev, p)
	case *events.InnovationLinkedV1:
		reason = b.changeLink(ev, p, "link to", p.ExperimentID)
	case *events.InnovationUnlinkedV1:
		reason = b.changeLink(ev, p, "unlink from", p.ExperimentID)
	case *events.StoryPublishedV1, *events.StoryRevisedV1, *events.StoryRetractedV1, *events.StoryHelpedV1:
		reason = b.stories.apply(ev, p)
	default:
		reason = fmt.Sprintf("no projection for event type %q", ev.Type)
	}
	if reason == "" {
		aggregate, _, _ := strings.Cut(d.name, ".")
		b.history = append(b.history, historyRow{
			Position: ev.Sequence, Aggregate: aggregate, AggregateID: ev.Subject, EventID: ev.ID, EventType: ev.Type,
			Team: ev.Team, Actor: ev.Actor, OccurredAt: dbTime(ev.Time), Data: string(ev.Data),
		})
	}
	return reason
}

func (b *batch) registerExperiment(ev *events.Recorded, p *events.ExperimentRegisteredV1) string {
	id := ev.Subject
	if _, ok := b.experiments[id]; ok {
		return fmt.Sprintf("duplicate registration: experiment %s is already registered", id)
	}
	var x experiments.Experiment
	if err := x.Apply(ev, p); err != nil {
		return err.Error()
	}
	row := &experimentRow{}
	row.setState(&x)
	b.experiments[id] = row
	b.dirtyExperiments[id] = true
	b.retagged[id] = true
	for _, up := range x.BuildsOn {
		if up != "" && up != id {
			b.edges[edgeKey{id, up}] = true
		}
	}
	return ""
}

// foldExperiment folds the event into a known experiment and returns the
// experiment's state after it, as the fold left it.
func (b *batch) foldExperiment(ev *events.Recorded, p any) (experiments.Experiment, string) {
	row, ok := b.experiments[ev.Subject]
	if !ok {
		return experiments.Experiment{}, unknownExperiment(ev.Subject)
	}
	// The row keeps no learnings, so the state starts with none and ends
	// with the one this event recorded, if any.
	x := row.experiment()
	if err := x.Apply(ev, p); err != nil {
		return experiments.Experiment{}, err.Error()
	}
	row.setState(&x)
	b.dirtyExperiments[row.ID] = true
	return x, ""
}

func unknownExperiment(id string) string {
	return fmt.Sprintf("unknown experiment %s: never registered", id)
}

func (b *batch) recordLearning(ev *events.Recorded, p *events.ExperimentLearningRecordedV1) string {
	row, ok := b.experiments[ev.Subject]
	switch {
	case !ok:
		return unknownExperiment(ev.Subject)
	case p.LearningID == "":
		return "learning has no learning_id"
	case b.knownLearnings[p.LearningID]:
		return fmt.Sprintf("duplicate learning %s", p.LearningID)
	}
	x, reason := b.foldExperiment(ev, p)
	if reason != "" {
		return reason
	}
	for _, l := range x.Learnings {
		b.knownLearnings[l.ID] = true
		b.learnings = append(b.learnings, newLearningRow(l, x.Team, ev.Sequence))
		row.LearningCount++
	}
	return ""
}

func (b *batch) recordInnovation(ev *events.Recorded, p *events.InnovationRecordedV1) string {
	id := ev.Subject
	if _, ok := b.innovations[id]; ok {
		return fmt.Sprintf("duplicate recording: innovation %s is already recorded", id)
	}
	var n experiments.Innovation
	if err := n.Apply(ev, p); err != nil {
		return err.Error()
	}
	row := &innovationRow{}
	row.setState(&n)
	b.innovations[id] = row
	b.dirtyInnovations[id] = true
	return ""
}

// changeLink folds a link or unlink into a known innovation, with every
// link it has, and writes back the link rows the fold changed. A link
// that is no longer active keeps its row, inactive, so that a later link
// revives it in place. verb names the change in a skip reason.
func (b *batch) changeLink(ev *events.Recorded, p any, verb, experimentID string) string {
	row, ok := b.innovations[ev.Subject]
	if !ok {
		return fmt.Sprintf("unknown innovation %s: never recorded", ev.Subject)
	}
	if _, ok := b.experiments[experimentID]; !ok {
		return fmt.Sprintf("%s unknown experiment %q", verb, experimentID)
	}
	n := row.innovation()
	for _, k := range b.linksOf[n.ID] {
		if l := b.links[k]; l.Active {
			n.InformedBy = append(n.InformedBy, l.link())
		}
	}
	if err := n.Apply(ev, p); err != nil {
		return err.Error()
	}
	row.setState(&n)
	b.dirtyInnovations[n.ID] = true
	b.syncLinks(&n)
	return ""
}

// syncLinks makes the link rows of n say what its state says: every link
// of n active, with its note and time, and every other link inactive.
func (b *batch) syncLinks(n *experiments.Innovation) {
	active := make(map[linkKey]bool, len(n.InformedBy))
	for _, l := range n.InformedBy {
		k := linkKey{n.ID, l.ExperimentID}
		active[k] = true
		want := newLinkRow(n.ID, l)
		if have, ok := b.links[k]; ok && have.same(want) {
			continue
		} else if !ok {
			b.linksOf[n.ID] = append(b.linksOf[n.ID], k)
		}
		b.links[k] = want
		b.dirtyLinks[k] = true
	}
	for _, k := range b.linksOf[n.ID] {
		if l := b.links[k]; l.Active && !active[k] {
			l.Active = false
			b.dirtyLinks[k] = true
		}
	}
}
