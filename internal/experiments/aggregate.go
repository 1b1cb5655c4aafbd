package experiments

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// change is an event a command decided on, before it has an envelope.
type change struct {
	name    string
	payload any
}

// history is what every aggregate keeps besides its state: how many
// events it has, where its last one is in the stream, and which
// idempotency keys it has seen (so that a retry after the broker's
// duplicate window still returns the first result).
type history struct {
	version  uint64
	position uint64
	keys     map[string]uint64 // idempotency key → position of its last event
}

func (h *history) record(r *events.Recorded) {
	h.version++
	h.position = r.Sequence
	if r.IdempotencyKey != "" {
		if h.keys == nil {
			h.keys = make(map[string]uint64)
		}
		h.keys[r.IdempotencyKey] = r.Sequence
	}
}

// state is an aggregate's state with its fold: Experiment, Innovation or
// Story.
type state interface {
	Apply(r *events.Recorded, payload any) error
}

// fold decodes r, folds it into st and counts it in the history. what
// names the aggregate in an error.
func (h *history) fold(st state, what string, r *events.Recorded) error {
	_, p, err := events.Payload(&r.Envelope)
	if err != nil {
		return fmt.Errorf("%s %s event %d: %w", what, r.Subject, r.Sequence, err)
	}
	if err := st.Apply(r, p); err != nil {
		return err
	}
	h.record(r)
	return nil
}

// experimentAggregate is an experiment's state folded from its events.
type experimentAggregate struct {
	history
	state Experiment
}

func (a *experimentAggregate) exists() bool { return a.version > 0 }

// apply folds one event into the state with Experiment.Apply, and counts
// it in the aggregate's history.
func (a *experimentAggregate) apply(r *events.Recorded) error {
	return a.fold(&a.state, "experiment", r)
}

func (a *experimentAggregate) register(cmd RegisterExperiment) []change {
	return []change{{events.ExperimentRegistered, &events.ExperimentRegisteredV1{
		Team: cmd.Team, Title: cmd.Title, Kind: orDefault(cmd.Kind, "other"), Hypothesis: cmd.Hypothesis,
		SuccessMetric: cmd.SuccessMetric, SuccessCriteria: cmd.SuccessCriteria, Owner: cmd.Owner,
		Tags: nonNil(dedupe(cmd.Tags)), BuildsOn: nonNil(dedupe(cmd.BuildsOn)),
		Visibility: orDefault(cmd.Visibility, VisibilityOrg), Cost: cmd.Cost,
	}}}
}

// revise keeps pre-registration sealed: once an experiment has started,
// its hypothesis and criteria can no longer move to fit the results.
func (a *experimentAggregate) revise(cmd ReviseExperiment) ([]change, error) {
	if err := a.state.checkAllows(CommandRevise); err != nil {
		return nil, err
	}
	tags := cmd.Tags
	if tags != nil {
		// As on registration: the list names each tag once.
		d := nonNil(dedupe(*tags))
		tags = &d
	}
	return []change{{events.ExperimentRevised, &events.ExperimentRevisedV1{
		Title: cmd.Title, Kind: cmd.Kind, Hypothesis: cmd.Hypothesis, SuccessMetric: cmd.SuccessMetric,
		SuccessCriteria: cmd.SuccessCriteria, Owner: cmd.Owner, Tags: tags, Visibility: cmd.Visibility, Cost: cmd.Cost,
	}}}, nil
}

func (a *experimentAggregate) start(cmd StartExperiment, now time.Time) ([]change, error) {
	if err := a.state.checkAllows(CommandStart); err != nil {
		return nil, err
	}
	at := now
	if cmd.StartedAt != nil {
		at = *cmd.StartedAt
	}
	return []change{{events.ExperimentStarted, &events.ExperimentStartedV1{StartedAt: at.UTC()}}}, nil
}

func (a *experimentAggregate) conclude(cmd ConcludeExperiment, now time.Time, newID func() string) ([]change, error) {
	if err := a.state.checkAllows(CommandConclude); err != nil {
		return nil, err
	}
	at := now
	if cmd.ConcludedAt != nil {
		at = *cmd.ConcludedAt
	}
	if a.state.StartedAt != nil && at.Before(*a.state.StartedAt) {
		return nil, Invalid("concluded_at", "is before the experiment started (%s)", a.state.StartedAt.Format(time.RFC3339))
	}
	out := []change{{events.ExperimentConcluded, &events.ExperimentConcludedV1{
		Outcome: cmd.Outcome, Decision: cmd.Decision, Summary: cmd.Summary, Observed: cmd.Observed,
		FailureReasons: cmd.FailureReasons, ConcludedAt: at.UTC(),
	}}}
	for _, l := range cmd.Learnings {
		out = append(out, a.learning(l, newID)...)
	}
	return out, nil
}

func (a *experimentAggregate) reviseOutcome(cmd ReviseOutcome) ([]change, error) {
	if err := a.state.checkAllows(CommandReviseOutcome); err != nil {
		return nil, err
	}
	if cmd.Outcome == a.state.Outcome {
		return nil, conflict("experiment %s already has outcome %s", a.state.ID, cmd.Outcome)
	}
	return []change{{events.ExperimentOutcomeRevised, &events.ExperimentOutcomeRevisedV1{
		Outcome: cmd.Outcome, PreviousOutcome: a.state.Outcome, Reason: cmd.Reason,
	}}}, nil
}

func (a *experimentAggregate) abandon(cmd AbandonExperiment, now time.Time) ([]change, error) {
	if err := a.state.checkAllows(CommandAbandon); err != nil {
		return nil, err
	}
	at := now
	if cmd.AbandonedAt != nil {
		at = *cmd.AbandonedAt
	}
	return []change{{events.ExperimentAbandoned, &events.ExperimentAbandonedV1{Reason: cmd.Reason, AbandonedAt: at.UTC()}}}, nil
}

func (a *experimentAggregate) learning(cmd NewLearning, newID func() string) []change {
	return []change{{events.ExperimentLearningRecorded, &events.ExperimentLearningRecordedV1{
		LearningID: newID(), Text: cmd.Text, Skills: nonNil(dedupe(cmd.Skills)),
	}}}
}

// innovationAggregate is an innovation's state folded from its events.
type innovationAggregate struct {
	history
	state Innovation
}

func (a *innovationAggregate) exists() bool { return a.version > 0 }

// apply folds one event into the state with Innovation.Apply, and counts
// it in the aggregate's history.
func (a *innovationAggregate) apply(r *events.Recorded) error {
	return a.fold(&a.state, "innovation", r)
}

func (a *innovationAggregate) linked(experimentID string) bool {
	return a.state.informedBy(experimentID)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func ptr[T any](v T) *T { return &v }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// clone returns a copy that shares nothing mutable with a, so that a
// cached state can be read while a command works on its successor.
func (a *experimentAggregate) clone() *experimentAggregate {
	c := *a
	c.keys = maps.Clone(a.keys)
	c.state.Tags = slices.Clone(a.state.Tags)
	c.state.BuildsOn = slices.Clone(a.state.BuildsOn)
	c.state.FailureReasons = slices.Clone(a.state.FailureReasons)
	c.state.Learnings = slices.Clone(a.state.Learnings)
	return &c
}

func (a *innovationAggregate) clone() *innovationAggregate {
	c := *a
	c.keys = maps.Clone(a.keys)
	c.state.InformedBy = slices.Clone(a.state.InformedBy)
	return &c
}
