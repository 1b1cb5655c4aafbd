package readmodel

import (
	"context"
	"fmt"
	"slices"

	"github.com/failforward/failforward/internal/experiments"
)

// MaxTriedText is the longest text, in characters, that the API takes to
// find what was tried before: a title and a hypothesis fit many times
// over, and a longer text only ranks more of everything.
const MaxTriedText = 2000

// TriedBefore is what has been tried that resembles a text: the answer
// to "has this been tried?" while a team writes down a new experiment.
type TriedBefore struct {
	// Items are the most similar experiments the viewer may see, failures
	// first (see TriedBefore), each with its learnings.
	Items []experiments.Experiment `json:"items"`
}

// TriedBefore returns the limit experiments v may see that are most
// similar to text (as SimilarExperiments ranks them), with their
// learnings in recorded order, reordered so that failures come first:
// the top limit by rank are taken, then those whose outcome is failed
// are put before the others, each group keeping its rank order. A
// failure is what a team most needs to read before it tries the same
// thing again, but a weak match is not promoted over a strong one from
// outside the top limit.
func (q *Queries) TriedBefore(ctx context.Context, v Viewer, text string, limit int) (TriedBefore, error) {
	xs, err := q.SimilarExperiments(ctx, v, text, limit)
	if err != nil {
		return TriedBefore{}, err
	}
	ids := make([]string, len(xs))
	for i := range xs {
		ids[i] = xs[i].ID
	}
	byExp, err := q.learningsOf(ctx, ids)
	if err != nil {
		return TriedBefore{}, fmt.Errorf("tried before: %w", err)
	}
	for i := range xs {
		xs[i].Learnings = nonNil(byExp[xs[i].ID])
	}
	failedFirst(xs)
	return TriedBefore{Items: xs}, nil
}

// failedFirst moves the failed experiments of xs before the others,
// keeping the order within each group.
func failedFirst(xs []experiments.Experiment) {
	slices.SortStableFunc(xs, func(a, b experiments.Experiment) int {
		af, bf := a.Outcome == experiments.OutcomeFailed, b.Outcome == experiments.OutcomeFailed
		switch {
		case af == bf:
			return 0
		case af:
			return -1
		}
		return 1
	})
}

// TriedBefore is Queries.TriedBefore, retried.
func (r *Retrying) TriedBefore(ctx context.Context, v Viewer, text string, limit int) (TriedBefore, error) {
	return retry(ctx, func() (TriedBefore, error) { return r.q.TriedBefore(ctx, v, text, limit) })
}
