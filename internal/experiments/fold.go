package experiments

import (
	"fmt"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// The folds below are the only place where an event's meaning for an
// experiment's or an innovation's state is written down. The aggregates
// fold with them to decide commands, and the read model folds with them
// to build its rows, so the state a command answers with and the state a
// query serves are the same state.
//
// Where an event lacks a field, the fold reads it the way the read model
// must, and so both sides read it the same way:
//   - a missing started_at, concluded_at, abandoned_at or launched_at is
//     the envelope's time: the event happened when it was written, and
//     the read model has to place it in a period;
//   - a registration or recording without a team is the envelope's team,
//     which every event carries for routing;
//   - a cost of zero days and zero spend is no cost: a table cannot tell
//     the two apart, and revising a cost to zero is how a cost is removed;
//   - lists are never nil, so that they encode as [] and not null.
//
// Kind and visibility need no default here: events.Payload fills them in
// as the event's schema prescribes.

// Apply folds one recorded event into x. payload is r's data as
// events.Payload decodes it; it is passed in so that a caller that has
// decoded it already does not decode it twice. Apply only changes state:
// every rule was checked when the event was decided. It fails, and
// changes nothing, only when the event is not an experiment's.
func (x *Experiment) Apply(r *events.Recorded, payload any) error {
	switch p := payload.(type) {
	case *events.ExperimentRegisteredV1:
		*x = Experiment{
			ID: r.Subject, Team: orDefault(p.Team, r.Team), Title: p.Title, Kind: p.Kind, Hypothesis: p.Hypothesis,
			SuccessMetric: p.SuccessMetric, SuccessCriteria: p.SuccessCriteria, Owner: p.Owner,
			Tags: nonNil(p.Tags), BuildsOn: nonNil(p.BuildsOn), Visibility: p.Visibility, Cost: costOrNil(p.Cost),
			Status: StatusPlanned, FailureReasons: []string{}, Learnings: []Learning{},
			RegisteredAt: r.Time.UTC(), Version: x.Version,
		}
	case *events.ExperimentRevisedV1:
		x.revise(p)
	case *events.ExperimentStartedV1:
		x.Status = StatusRunning
		x.StartedAt = ptr(orTime(p.StartedAt, r))
	case *events.ExperimentConcludedV1:
		x.Status = StatusConcluded
		x.Outcome, x.Decision, x.Summary, x.Observed = p.Outcome, p.Decision, p.Summary, p.Observed
		x.FailureReasons = nonNil(p.FailureReasons)
		x.ConcludedAt = ptr(orTime(p.ConcludedAt, r))
	case *events.ExperimentOutcomeRevisedV1:
		x.Outcome = p.Outcome
		x.OutcomeRevisions++
	case *events.ExperimentAbandonedV1:
		x.Status = StatusAbandoned
		x.AbandonReason = p.Reason
		x.AbandonedAt = ptr(orTime(p.AbandonedAt, r))
	case *events.ExperimentLearningRecordedV1:
		x.Learnings = append(x.Learnings, Learning{
			ID: p.LearningID, ExperimentID: x.ID, Text: p.Text, Skills: nonNil(p.Skills), RecordedAt: r.Time.UTC(),
		})
	default:
		return fmt.Errorf("experiment %s event %d: %s is not an experiment event", r.Subject, r.Sequence, r.Type)
	}
	x.Version++
	x.Position = r.Sequence
	return nil
}

// revise changes only the fields the revision carries.
func (x *Experiment) revise(p *events.ExperimentRevisedV1) {
	set(&x.Title, p.Title)
	set(&x.Kind, p.Kind)
	set(&x.Hypothesis, p.Hypothesis)
	set(&x.SuccessMetric, p.SuccessMetric)
	set(&x.SuccessCriteria, p.SuccessCriteria)
	set(&x.Owner, p.Owner)
	set(&x.Visibility, p.Visibility)
	if p.Tags != nil {
		x.Tags = nonNil(*p.Tags)
	}
	if p.Cost != nil {
		x.Cost = costOrNil(p.Cost)
	}
}

// Apply folds one recorded event into n, as Experiment.Apply does for an
// experiment. Linking an experiment already linked changes no link (the
// first note and time stand); linking one again after an unlink links it
// anew, with the new note and time.
func (n *Innovation) Apply(r *events.Recorded, payload any) error {
	switch p := payload.(type) {
	case *events.InnovationRecordedV1:
		*n = Innovation{ID: r.Subject, Team: orDefault(p.Team, r.Team), Title: p.Title, Description: p.Description,
			LaunchedAt: orTime(p.LaunchedAt, r), RecordedAt: r.Time.UTC(), InformedBy: []Link{}, Version: n.Version}
	case *events.InnovationLinkedV1:
		if !n.informedBy(p.ExperimentID) {
			n.InformedBy = append(n.InformedBy, Link{ExperimentID: p.ExperimentID, Note: p.Note, LinkedAt: r.Time.UTC()})
		}
	case *events.InnovationUnlinkedV1:
		n.InformedBy = slices.DeleteFunc(n.InformedBy, func(l Link) bool { return l.ExperimentID == p.ExperimentID })
	default:
		return fmt.Errorf("innovation %s event %d: %s is not an innovation event", r.Subject, r.Sequence, r.Type)
	}
	n.Version++
	n.Position = r.Sequence
	return nil
}

// informedBy reports whether n is linked to experiment id.
func (n *Innovation) informedBy(id string) bool {
	return slices.ContainsFunc(n.InformedBy, func(l Link) bool { return l.ExperimentID == id })
}

// orTime is the payload's date, or the envelope's time when an event was
// written without one.
func orTime(t time.Time, r *events.Recorded) time.Time {
	if t.IsZero() {
		return r.Time.UTC()
	}
	return t.UTC()
}

// costOrNil is c, or nil when c is absent or zero.
func costOrNil(c *events.Cost) *events.Cost {
	if c == nil || c.PersonDays == 0 && c.Spend == 0 {
		return nil
	}
	return c
}
