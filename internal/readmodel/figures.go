package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// The counts of a cell, in the order of their figure_cells columns.
const (
	cRegistered = iota
	cStarted
	cConcluded
	cSucceeded
	cFailed
	cInconclusive
	cAbandoned
	cOutcomeRevisions
	cLearnings
	cFailuresFed
	cLearnedAndDecided
	cFailuresWithLearnings
	cFailuresWithStories
	cStoriesByLeads
	numCounts
)

// cellKey names a cell of figure_cells, or with requires a row of
// requires_cells.
type cellKey struct{ month, team, visibility, requires string }

// cellFigures are the figures of one cell, or what a batch adds to them.
type cellFigures struct {
	counts      [numCounts]int64
	cycleDays   map[int]int64
	latencyDays map[int]int64
	skills      map[string]int64
}

func newCellFigures() *cellFigures {
	return &cellFigures{cycleDays: map[int]int64{}, latencyDays: map[int]int64{}, skills: map[string]int64{}}
}

// add adds o to c, and drops what falls to 0.
func (c *cellFigures) add(o *cellFigures) {
	for i, n := range o.counts {
		c.counts[i] += n
	}
	addCounts(c.cycleDays, o.cycleDays)
	addCounts(c.latencyDays, o.latencyDays)
	addCounts(c.skills, o.skills)
}

func addCounts[K comparable](dst, src map[K]int64) {
	for k, n := range src {
		if dst[k] += n; dst[k] == 0 {
			delete(dst, k)
		}
	}
}

// empty reports whether the cell holds nothing, and need not be stored.
func (c *cellFigures) empty() bool {
	return c.counts == [numCounts]int64{} && len(c.cycleDays) == 0 && len(c.latencyDays) == 0 && len(c.skills) == 0
}

// figureDeltas is what a batch adds to each cell of figure_cells. The
// projection takes every changed experiment's old contribution out and
// puts its new one in, so that a revision moves an experiment between
// cells, and the sums stay what a recount would give.
type figureDeltas map[cellKey]*cellFigures

func (d figureDeltas) at(month, team, visibility string) *cellFigures {
	return d.requiring(month, team, visibility, "")
}

// experiment adds sign times x's contribution: each count in the month of
// its own date, as Outcomes reports them.
func (d figureDeltas) experiment(x *experimentRow, sign int64) {
	at := func(month string) *cellFigures { return d.at(month, x.Team, x.Visibility) }
	at(x.RegisteredMonth).counts[cRegistered] += sign
	if x.StartedAt != nil {
		at(x.StartedMonth).counts[cStarted] += sign
	}
	learned := int64(0)
	if x.LearningCount > 0 {
		learned = sign
	}
	if x.AbandonedAt != nil {
		// An abandonment is the decision to stop.
		a := at(x.AbandonedMonth)
		a.counts[cAbandoned] += sign
		a.counts[cLearnedAndDecided] += learned
	}
	if x.ConcludedAt == nil {
		return
	}
	c := at(x.ConcludedMonth)
	c.counts[cConcluded] += sign
	if x.Decision != "" {
		c.counts[cLearnedAndDecided] += learned
	}
	c.counts[cOutcomeRevisions] += sign * int64(x.OutcomeRevisions)
	switch x.Outcome {
	case experiments.OutcomeSucceeded:
		c.counts[cSucceeded] += sign
	case experiments.OutcomeFailed:
		c.counts[cFailed] += sign
		c.counts[cFailuresWithLearnings] += learned
	case experiments.OutcomeInconclusive:
		c.counts[cInconclusive] += sign
	}
	if x.StartedAt != nil {
		c.cycleDays[wholeDays(*x.StartedAt, *x.ConcludedAt)] += sign
	}
}

// learning adds sign times one learning, counted in its team and month
// and in the visibility of its experiment, with each skill it names once.
func (d figureDeltas) learning(team, month, visibility string, skills []string, sign int64) {
	c := d.at(month, team, visibility)
	c.counts[cLearnings] += sign
	for _, s := range distinct(skills) {
		c.skills[s] += sign
	}
}

// fedFailure adds sign times a failure that fed an innovation, with its
// learning latency: in its cell when it fed first for every viewer, or,
// when that depends on the viewer's teams, as terms over the sets of
// teams of its feeds (rows).
func (d figureDeltas) fedFailure(f *failureFigure, rows []feedRow, sign int64) {
	if f == nil {
		return
	}
	if !f.depends {
		c := d.at(f.month, f.team, f.visibility)
		c.counts[cFailuresFed] += sign
		c.latencyDays[wholeDays(f.concludedAt, *f.openLaunchedAt)] += sign
		return
	}
	for t, n := range launchTerms(f, rows) {
		c := d.requiring(f.month, f.team, f.visibility, t.requires)
		c.counts[cFailuresFed] += sign * n
		c.latencyDays[t.days] += sign * n
	}
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
	var backfill int
	if err := tx.tx.GetContext(ctx, &backfill, "SELECT count(*) FROM figure_backfill"); err != nil {
		return fmt.Errorf("read figure backfill: %w", err)
	}
	if tx.backfill[backfillRequiresCells] {
		// The figures as they stood before the batch, which its changes
		// are taken from.
		if err := p.fillRequiresCells(ctx, tx, 1); err != nil {
			return err
		}
		if err := backfilled(ctx, tx, backfillRequiresCells); err != nil {
			return err
		}
	}
	if backfill > 0 {
		return p.buildFigures(ctx, tx)
	}
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
	// A new edge's experiment is new, and touched already; its upstream
	// end is named too, so that what lies above it is recomputed however
	// the edge came to be.
	for e := range b.edges {
		touched[e.buildsOn] = true
	}
	if err := p.updateFeeds(ctx, tx, touched, d); err != nil {
		return err
	}
	if err := p.writeSkillFigures(ctx, tx, before, b); err != nil {
		return err
	}
	if err := p.writeStoryFigures(ctx, tx, before, b, d); err != nil {
		return err
	}
	return p.writeDeltas(ctx, tx, d)
}

// buildFigures computes every figure from the rows, batch included, in a
// read store whose figures were never built: one migrated with data in
// it.
func (p *Projection) buildFigures(ctx context.Context, tx *batchTx) error {
	d := figureDeltas{}
	visibility := map[string]string{}
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+experimentColumns+" FROM experiments")
	if err != nil {
		return fmt.Errorf("build figures: %w", err)
	}
	defer rows.Close()
	xs := newExperimentScan()
	for rows.Next() {
		x, err := xs.scan(rows)
		if err != nil {
			return fmt.Errorf("build figures: %w", err)
		}
		d.experiment(&x, 1)
		visibility[x.ID] = x.Visibility
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("build figures: %w", err)
	}
	rows.Close()
	learnings, err := tx.tx.QueryContext(ctx, "SELECT "+learningCellColumns+" FROM learnings")
	if err != nil {
		return fmt.Errorf("build figures: %w", err)
	}
	defer learnings.Close()
	for learnings.Next() {
		l, err := scanLearningCell(learnings)
		if err != nil {
			return fmt.Errorf("build figures: %w", err)
		}
		d.learning(l.Team, l.RecordedMonth, visibility[l.ExperimentID], l.Skills, 1)
	}
	if err := learnings.Err(); err != nil {
		return fmt.Errorf("build figures: %w", err)
	}
	learnings.Close()
	ids := sortedKeys(visibility)
	touched := make(map[string]bool, len(ids))
	for _, id := range ids {
		touched[id] = true
	}
	if err := p.updateFeeds(ctx, tx, touched, d); err != nil {
		return err
	}
	if err := p.buildStoryFigures(ctx, tx, ids, d); err != nil {
		return err
	}
	if err := p.writeDeltas(ctx, tx, d); err != nil {
		return err
	}
	if err := p.buildSkillFigures(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM figure_backfill"); err != nil {
		return fmt.Errorf("build figures: %w", err)
	}
	return nil
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

// learningCellColumns are what the figures need of a learning.
const learningCellColumns = "id, experiment_id, team, recorded_month, skills"

const loadLearningCells = "SELECT " + learningCellColumns + " FROM learnings WHERE experiment_id IN (%s)"

func scanLearningCell(rows *sql.Rows) (learningRow, error) {
	var l learningRow
	err := rows.Scan(&l.ID, &l.ExperimentID, &l.Team, &l.RecordedMonth, &l.Skills)
	return l, err
}

// moveLearnings moves the stored learnings of the experiments whose
// visibility the batch changed to the cells of their new visibility. The
// learnings the batch recorded (fresh) are counted already.
func (p *Projection) moveLearnings(ctx context.Context, tx *batchTx, ids []string, before figuresBefore,
	b *batch, fresh map[string]bool, d figureDeltas) error {
	err := tx.queryIn(ctx, loadLearningCells, ids, func(rows *sql.Rows) error {
		l, err := scanLearningCell(rows)
		if err != nil {
			return err
		}
		if !fresh[l.ID] {
			d.learning(l.Team, l.RecordedMonth, before[l.ExperimentID].Visibility, l.Skills, -1)
			d.learning(l.Team, l.RecordedMonth, b.experiments[l.ExperimentID].Visibility, l.Skills, 1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load learnings of experiments whose visibility changed: %w", err)
	}
	return nil
}
