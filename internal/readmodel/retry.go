package readmodel

import (
	"context"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// readAttempts bounds how often a read that lost a deadlock is run.
const readAttempts = 3

// Retrying answers every query of Queries, running a read again when
// Postgres chose it as the victim of a deadlock or serialization failure,
// as a rebuild's table swap can: run again, it reads the swapped tables.
// The JSON API and the browser pages both read through it, so that the
// two retry alike.
type Retrying struct {
	q *Queries
}

// NewRetrying returns q's queries, each retried as Retrying says.
func NewRetrying(q *Queries) *Retrying { return &Retrying{q: q} }

func retry[T any](ctx context.Context, read func() (T, error)) (T, error) {
	v, err := read()
	for attempt := 1; attempt < readAttempts && readstore.Retryable(err) && ctx.Err() == nil; attempt++ {
		v, err = read()
	}
	return v, err
}

// ListExperiments is Queries.ListExperiments, retried.
func (r *Retrying) ListExperiments(ctx context.Context, v Viewer, f ExperimentFilter) (ExperimentPage, error) {
	return retry(ctx, func() (ExperimentPage, error) { return r.q.ListExperiments(ctx, v, f) })
}

// GetExperiment is Queries.GetExperiment, retried.
func (r *Retrying) GetExperiment(ctx context.Context, v Viewer, id string) (experiments.Experiment, error) {
	return retry(ctx, func() (experiments.Experiment, error) { return r.q.GetExperiment(ctx, v, id) })
}

// History is Queries.History, retried.
func (r *Retrying) History(ctx context.Context, v Viewer, id string) ([]HistoryEntry, error) {
	return retry(ctx, func() ([]HistoryEntry, error) { return r.q.History(ctx, v, id) })
}

// ExperimentLineage is Queries.ExperimentLineage, retried.
func (r *Retrying) ExperimentLineage(ctx context.Context, v Viewer, id string) (ExperimentLineage, error) {
	return retry(ctx, func() (ExperimentLineage, error) { return r.q.ExperimentLineage(ctx, v, id) })
}

// ListInnovations is Queries.ListInnovations, retried.
func (r *Retrying) ListInnovations(ctx context.Context, v Viewer, team string) ([]experiments.Innovation, error) {
	return retry(ctx, func() ([]experiments.Innovation, error) { return r.q.ListInnovations(ctx, v, team) })
}

// GetInnovation is Queries.GetInnovation, retried.
func (r *Retrying) GetInnovation(ctx context.Context, v Viewer, id string) (experiments.Innovation, error) {
	return retry(ctx, func() (experiments.Innovation, error) { return r.q.GetInnovation(ctx, v, id) })
}

// InnovationLineage is Queries.InnovationLineage, retried.
func (r *Retrying) InnovationLineage(ctx context.Context, v Viewer, id string) (InnovationLineage, error) {
	return retry(ctx, func() (InnovationLineage, error) { return r.q.InnovationLineage(ctx, v, id) })
}

// Learnings is Queries.Learnings, retried.
func (r *Retrying) Learnings(ctx context.Context, v Viewer, f LearningFilter) ([]LearningResult, error) {
	return retry(ctx, func() ([]LearningResult, error) { return r.q.Learnings(ctx, v, f) })
}

// Activity is Queries.Activity, retried.
func (r *Retrying) Activity(ctx context.Context, v Viewer) (Activity, error) {
	return retry(ctx, func() (Activity, error) { return r.q.Activity(ctx, v) })
}

// Outcomes is Queries.Outcomes, retried.
func (r *Retrying) Outcomes(ctx context.Context, v Viewer, f OutcomeFilter) (OutcomeReport, error) {
	return retry(ctx, func() (OutcomeReport, error) { return r.q.Outcomes(ctx, v, f) })
}

// FailureBacklog is Queries.FailureBacklog, retried.
func (r *Retrying) FailureBacklog(ctx context.Context, v Viewer, f BacklogFilter) (BacklogPage, error) {
	return retry(ctx, func() (BacklogPage, error) { return r.q.FailureBacklog(ctx, v, f) })
}

// Access is Queries.Access, retried.
func (r *Retrying) Access(ctx context.Context, ids []string) (map[string]ExperimentAccess, error) {
	return retry(ctx, func() (map[string]ExperimentAccess, error) { return r.q.Access(ctx, ids) })
}
