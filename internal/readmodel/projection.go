package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

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
// is the same for both dialects but for one thing, COPY on Postgres where
// SQLite takes a multi-row INSERT (see batchTx.insert); the dialect is
// checked so that a caller with an unsupported store learns it here and
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
func (p *Projection) ApplyBatch(ctx context.Context, tx *sqlx.Tx, evs []events.Recorded) ([]readstore.Skipped, error) {
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
	btx := &batchTx{tx: tx.Tx, dialect: p.dialect, texts: p.texts}
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
	if err := p.write(ctx, btx, b); err != nil {
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
}

type linkKey struct{ innovation, experiment string }

type edgeKey struct{ experiment, buildsOn string }

func newBatch() *batch {
	return &batch{
		experiments:       map[string]*experimentRow{},
		innovations:       map[string]*innovationRow{},
		links:             map[linkKey]*linkRow{},
		knownLearnings:    map[string]bool{},
		storedExperiments: map[string]bool{},
		storedInnovations: map[string]bool{},
		storedLinks:       map[linkKey]bool{},
		dirtyExperiments:  map[string]bool{},
		retagged:          map[string]bool{},
		dirtyInnovations:  map[string]bool{},
		dirtyLinks:        map[linkKey]bool{},
		edges:             map[edgeKey]bool{},
	}
}

// apply folds one decoded event onto the batch state and returns why it
// was skipped, or "" when it applied.
func (b *batch) apply(d decodedEvent) string {
	ev := d.ev
	id := ev.Subject
	var reason string
	switch p := d.payload.(type) {
	case *events.ExperimentRegisteredV1:
		reason = b.registerExperiment(ev, p)
	case *events.ExperimentRevisedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string { return b.reviseExperiment(x, p) })
	case *events.ExperimentStartedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string {
			x.Status = experiments.StatusRunning
			x.StartedAt = dbTimePtr(orTime(p.StartedAt, ev))
			x.StartedMonth = monthOf(*x.StartedAt)
			return ""
		})
	case *events.ExperimentConcludedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string {
			x.Status = experiments.StatusConcluded
			x.Outcome, x.Decision, x.Summary, x.Observed = p.Outcome, p.Decision, p.Summary, p.Observed
			x.FailureReasons = p.FailureReasons
			x.ConcludedAt = dbTimePtr(orTime(p.ConcludedAt, ev))
			x.ConcludedMonth = monthOf(*x.ConcludedAt)
			return ""
		})
	case *events.ExperimentOutcomeRevisedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string {
			x.Outcome = p.Outcome
			x.OutcomeRevisions++
			return ""
		})
	case *events.ExperimentAbandonedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string {
			x.Status = experiments.StatusAbandoned
			x.AbandonReason = p.Reason
			x.AbandonedAt = dbTimePtr(orTime(p.AbandonedAt, ev))
			x.AbandonedMonth = monthOf(*x.AbandonedAt)
			return ""
		})
	case *events.ExperimentLearningRecordedV1:
		reason = b.changeExperiment(ev, func(x *experimentRow) string { return b.recordLearning(ev, x, p) })
	case *events.InnovationRecordedV1:
		reason = b.recordInnovation(ev, p)
	case *events.InnovationLinkedV1:
		reason = b.changeInnovation(ev, func(*innovationRow) string { return b.link(ev, p) })
	case *events.InnovationUnlinkedV1:
		reason = b.changeInnovation(ev, func(*innovationRow) string { return b.unlink(id, p) })
	default:
		reason = fmt.Sprintf("no projection for event type %q", ev.Type)
	}
	if reason == "" {
		aggregate, _, _ := strings.Cut(d.name, ".")
		b.history = append(b.history, historyRow{
			Position: ev.Sequence, Aggregate: aggregate, AggregateID: id, EventID: ev.ID, EventType: ev.Type,
			Team: ev.Team, Actor: ev.Actor, OccurredAt: dbTime(ev.Time), Data: string(ev.Data),
		})
	}
	return reason
}

// orTime is the payload's date, or the envelope's time when an event was
// written without one: the read model must still place it in a period.
func orTime(t time.Time, ev *events.Recorded) time.Time {
	if t.IsZero() {
		return ev.Time
	}
	return t
}

func (b *batch) registerExperiment(ev *events.Recorded, p *events.ExperimentRegisteredV1) string {
	id := ev.Subject
	if _, ok := b.experiments[id]; ok {
		return fmt.Sprintf("duplicate registration: experiment %s is already registered", id)
	}
	x := &experimentRow{
		ID: id, Team: p.Team, Title: p.Title, Kind: p.Kind, Hypothesis: p.Hypothesis,
		SuccessMetric: p.SuccessMetric, SuccessCriteria: p.SuccessCriteria, Owner: p.Owner,
		Tags: p.Tags, BuildsOn: p.BuildsOn, Visibility: p.Visibility, Status: experiments.StatusPlanned,
		RegisteredAt: dbTime(ev.Time), RegisteredMonth: monthOf(ev.Time),
		Version: 1, Position: ev.Sequence,
	}
	if x.Team == "" {
		x.Team = ev.Team
	}
	if x.Visibility == "" {
		x.Visibility = experiments.VisibilityOrg
	}
	if p.Cost != nil {
		x.CostPersonDays, x.CostSpend = p.Cost.PersonDays, p.Cost.Spend
	}
	b.experiments[id] = x
	b.dirtyExperiments[id] = true
	b.retagged[id] = true
	for _, up := range p.BuildsOn {
		if up != "" && up != id {
			b.edges[edgeKey{id, up}] = true
		}
	}
	return ""
}

// changeExperiment applies fn to a known experiment and counts the event
// in its version.
func (b *batch) changeExperiment(ev *events.Recorded, fn func(*experimentRow) string) string {
	x, ok := b.experiments[ev.Subject]
	if !ok {
		return fmt.Sprintf("unknown experiment %s: never registered", ev.Subject)
	}
	if reason := fn(x); reason != "" {
		return reason
	}
	x.Version++
	x.Position = ev.Sequence
	b.dirtyExperiments[x.ID] = true
	return ""
}

// reviseExperiment changes only the fields the revision carries.
func (b *batch) reviseExperiment(x *experimentRow, p *events.ExperimentRevisedV1) string {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&x.Title, p.Title)
	set(&x.Kind, p.Kind)
	set(&x.Hypothesis, p.Hypothesis)
	set(&x.SuccessMetric, p.SuccessMetric)
	set(&x.SuccessCriteria, p.SuccessCriteria)
	set(&x.Owner, p.Owner)
	set(&x.Visibility, p.Visibility)
	if p.Tags != nil {
		x.Tags = *p.Tags
		b.retagged[x.ID] = true
	}
	if p.Cost != nil {
		x.CostPersonDays, x.CostSpend = p.Cost.PersonDays, p.Cost.Spend
	}
	return ""
}

func (b *batch) recordLearning(ev *events.Recorded, x *experimentRow, p *events.ExperimentLearningRecordedV1) string {
	switch {
	case p.LearningID == "":
		return "learning has no learning_id"
	case b.knownLearnings[p.LearningID]:
		return fmt.Sprintf("duplicate learning %s", p.LearningID)
	}
	b.knownLearnings[p.LearningID] = true
	b.learnings = append(b.learnings, &learningRow{
		ID: p.LearningID, ExperimentID: x.ID, Team: x.Team, Text: p.Text, Skills: p.Skills,
		RecordedAt: dbTime(ev.Time), RecordedMonth: monthOf(ev.Time), Position: ev.Sequence,
	})
	x.LearningCount++
	return ""
}

func (b *batch) recordInnovation(ev *events.Recorded, p *events.InnovationRecordedV1) string {
	id := ev.Subject
	if _, ok := b.innovations[id]; ok {
		return fmt.Sprintf("duplicate recording: innovation %s is already recorded", id)
	}
	n := &innovationRow{
		ID: id, Team: p.Team, Title: p.Title, Description: p.Description,
		LaunchedAt: dbTime(orTime(p.LaunchedAt, ev)), RecordedAt: dbTime(ev.Time),
		Version: 1, Position: ev.Sequence,
	}
	if n.Team == "" {
		n.Team = ev.Team
	}
	b.innovations[id] = n
	b.dirtyInnovations[id] = true
	return ""
}

// changeInnovation applies fn to a known innovation and counts the event
// in its version.
func (b *batch) changeInnovation(ev *events.Recorded, fn func(*innovationRow) string) string {
	n, ok := b.innovations[ev.Subject]
	if !ok {
		return fmt.Sprintf("unknown innovation %s: never recorded", ev.Subject)
	}
	if reason := fn(n); reason != "" {
		return reason
	}
	n.Version++
	n.Position = ev.Sequence
	b.dirtyInnovations[n.ID] = true
	return ""
}

// link activates the link. Linking an active link again changes nothing
// (linking is idempotent, so the first note and time stand); linking an
// unlinked one again revives it with the new note and time.
func (b *batch) link(ev *events.Recorded, p *events.InnovationLinkedV1) string {
	if _, ok := b.experiments[p.ExperimentID]; !ok {
		return fmt.Sprintf("link to unknown experiment %q", p.ExperimentID)
	}
	k := linkKey{ev.Subject, p.ExperimentID}
	if l, ok := b.links[k]; ok && l.Active {
		return ""
	}
	b.links[k] = &linkRow{InnovationID: k.innovation, ExperimentID: k.experiment, Note: p.Note,
		Active: true, LinkedAt: dbTime(ev.Time)}
	b.dirtyLinks[k] = true
	return ""
}

// unlink deactivates the link and keeps its row, so that a later link
// revives it in place. Unlinking what is not linked changes no link but
// is still an event of the innovation.
func (b *batch) unlink(innovation string, p *events.InnovationUnlinkedV1) string {
	if _, ok := b.experiments[p.ExperimentID]; !ok {
		return fmt.Sprintf("unlink from unknown experiment %q", p.ExperimentID)
	}
	k := linkKey{innovation, p.ExperimentID}
	if l, ok := b.links[k]; ok && l.Active {
		l.Active = false
		b.dirtyLinks[k] = true
	}
	return ""
}
