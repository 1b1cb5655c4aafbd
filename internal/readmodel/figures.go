package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// The figures of figure_counts. Counts have the detail ""; the day
// histograms have the whole number of days; skills have the skill.
const (
	figRegistered       = "registered"
	figStarted          = "started"
	figConcluded        = "concluded"
	figSucceeded        = "succeeded"
	figFailed           = "failed"
	figInconclusive     = "inconclusive"
	figAbandoned        = "abandoned"
	figOutcomeRevisions = "outcome_revisions"
	figLearnings        = "learnings"
	figSkill            = "skill"
	figCycleDays        = "cycle_days"
	figFailuresFed      = "failures_fed"
	figLatencyDays      = "latency_days"
)

// figureKey names one row of figure_counts: a figure of a (month, team,
// visibility) cell.
type figureKey struct {
	month, team, visibility, figure, detail string
}

// figureDeltas is what a batch adds to each row of figure_counts. The
// projection takes every changed experiment's old contribution out and
// puts its new one in, so that a revision moves an experiment between
// cells, and the sums stay what a recount would give.
type figureDeltas map[figureKey]int64

func (d figureDeltas) add(month, team, visibility, figure, detail string, n int64) {
	if n != 0 {
		d[figureKey{month, team, visibility, figure, detail}] += n
	}
}

// experiment adds sign times x's contribution: each count in the month of
// its own date, as Outcomes reports them.
func (d figureDeltas) experiment(x *experimentRow, sign int64) {
	add := func(month, figure, detail string, n int64) {
		d.add(month, x.Team, x.Visibility, figure, detail, sign*n)
	}
	add(x.RegisteredMonth, figRegistered, "", 1)
	if x.StartedAt != nil {
		add(x.StartedMonth, figStarted, "", 1)
	}
	if x.AbandonedAt != nil {
		add(x.AbandonedMonth, figAbandoned, "", 1)
	}
	if x.ConcludedAt == nil {
		return
	}
	add(x.ConcludedMonth, figConcluded, "", 1)
	add(x.ConcludedMonth, figOutcomeRevisions, "", int64(x.OutcomeRevisions))
	switch x.Outcome {
	case experiments.OutcomeSucceeded:
		add(x.ConcludedMonth, figSucceeded, "", 1)
	case experiments.OutcomeFailed:
		add(x.ConcludedMonth, figFailed, "", 1)
	case experiments.OutcomeInconclusive:
		add(x.ConcludedMonth, figInconclusive, "", 1)
	}
	if x.StartedAt != nil {
		add(x.ConcludedMonth, figCycleDays, strconv.Itoa(wholeDays(*x.StartedAt, *x.ConcludedAt)), 1)
	}
}

// learning adds sign times one learning, counted in its team and month
// and in the visibility of its experiment, with each skill it names once.
func (d figureDeltas) learning(team, month, visibility string, skills []string, sign int64) {
	d.add(month, team, visibility, figLearnings, "", sign)
	for _, s := range distinct(skills) {
		d.add(month, team, visibility, figSkill, s, sign)
	}
}

// fedFailure adds sign times a failure that fed an innovation whatever
// the viewer, with its learning latency.
func (d figureDeltas) fedFailure(f *failureFigure, sign int64) {
	if f == nil || f.depends {
		return
	}
	d.add(f.month, f.team, f.visibility, figFailuresFed, "", sign)
	d.add(f.month, f.team, f.visibility, figLatencyDays, strconv.Itoa(wholeDays(f.concludedAt, *f.openLaunchedAt)), sign)
}

// wholeDays is the number of calendar days (UTC) from a to b: 0 on the
// same date, negative when b is on an earlier date. The medians are
// taken over whole days so that a cell can keep them as a histogram.
func wholeDays(a, b time.Time) int {
	return int(dayNumber(b) - dayNumber(a))
}

// dayNumber counts days from 1970-01-01 to t's UTC date, rounding down
// for dates before it.
func dayNumber(t time.Time) int64 {
	s := t.UTC().Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// figuresBefore is the experiments of a batch as they were stored before
// it, which their contribution to the figures is taken out as.
type figuresBefore map[string]experimentRow

// snapshotFigures copies the stored experiments a batch loaded, before
// the batch folds its events onto them.
func snapshotFigures(b *batch) figuresBefore {
	out := make(figuresBefore, len(b.storedExperiments))
	for id := range b.storedExperiments {
		out[id] = *b.experiments[id]
	}
	return out
}

// writeFigures brings the figure tables up to date with a batch that has
// just been written in tx: the cells of every experiment and learning the
// batch changed, and the failure feeds of every failure upstream of what
// it changed.
func (p *Projection) writeFigures(ctx context.Context, tx *batchTx, before figuresBefore, b *batch) error {
	d := figureDeltas{}
	touched := map[string]bool{}
	var moved []string
	for id := range b.dirtyExperiments {
		x := b.experiments[id]
		old, stored := before[id]
		if stored {
			d.experiment(&old, -1)
			if old.Visibility != x.Visibility {
				moved = append(moved, id)
			}
		}
		d.experiment(x, 1)
		if !stored || feedsMayChange(&old, x) {
			touched[id] = true
		}
	}
	fresh := make(map[string]bool, len(b.learnings))
	for _, l := range b.learnings {
		fresh[l.ID] = true
		d.learning(l.Team, l.RecordedMonth, b.experiments[l.ExperimentID].Visibility, l.Skills, 1)
	}
	if err := p.moveLearnings(ctx, tx, moved, before, b, fresh, d); err != nil {
		return err
	}
	for k := range b.dirtyLinks {
		touched[k.experiment] = true
	}
	for e := range b.edges {
		touched[e.buildsOn] = true
	}
	if err := p.updateFeeds(ctx, tx, touched, d); err != nil {
		return err
	}
	return p.writeDeltas(ctx, tx, d)
}

// feedsMayChange reports whether a change to an experiment can change
// which innovations a failure fed through it, or whether it is a failure.
func feedsMayChange(old, x *experimentRow) bool {
	return old.Visibility != x.Visibility || old.Team != x.Team || old.Outcome != x.Outcome ||
		old.Status != x.Status || !equalTimes(old.ConcludedAt, x.ConcludedAt)
}

func equalTimes(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

const loadLearningCells = "SELECT id, experiment_id, team, recorded_month, skills FROM learnings WHERE experiment_id IN (%s)"

// moveLearnings moves the stored learnings of the experiments whose
// visibility the batch changed to the cells of their new visibility. The
// learnings the batch recorded (fresh) are counted already.
func (p *Projection) moveLearnings(ctx context.Context, tx *batchTx, ids []string, before figuresBefore,
	b *batch, fresh map[string]bool, d figureDeltas) error {
	err := tx.queryIn(ctx, loadLearningCells, ids, func(rows *sql.Rows) error {
		var id, exp, team, month string
		var skills stringList
		if err := rows.Scan(&id, &exp, &team, &month, &skills); err != nil {
			return err
		}
		if !fresh[id] {
			d.learning(team, month, before[exp].Visibility, skills, -1)
			d.learning(team, month, b.experiments[exp].Visibility, skills, 1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load learnings of experiments whose visibility changed: %w", err)
	}
	return nil
}
