package readmodel

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/failforward/failforward/internal/experiments"
)

// The skills page's figures (migration 0008): skill_cells counts the
// learnings naming each skill per month, team and visibility, split by
// their experiment's current outcome, and team_skill_first keeps, per
// team, skill and visibility, the first learning that named the skill.
// A batch adds its new learnings, moves the stored learnings of every
// experiment whose outcome or visibility it changed, and recomputes a
// first learning only when the one kept moved to the other visibility.

// The counts of a skill cell, by the outcome of the learning's experiment.
const (
	fromFailures = iota
	fromSuccesses
	fromOthers
	numSkillCounts
)

// skillClass is the count a learning of an experiment with outcome falls
// in: inconclusive, abandoned and not yet concluded are all others.
func skillClass(outcome string) int {
	switch outcome {
	case experiments.OutcomeFailed:
		return fromFailures
	case experiments.OutcomeSucceeded:
		return fromSuccesses
	}
	return fromOthers
}

// namedSkill is a skill as a learning names it: its key, and its name as
// written there first, with surrounding and repeated space dropped.
type namedSkill struct{ key, shown string }

// namedSkills returns the skills of a learning once per key, in the
// order written, leaving out blank ones.
func namedSkills(skills []string) []namedSkill {
	out := make([]namedSkill, 0, len(skills))
	for _, s := range skills {
		k := experiments.SkillKey(s)
		if k != "" && !slices.ContainsFunc(out, func(n namedSkill) bool { return n.key == k }) {
			out = append(out, namedSkill{key: k, shown: strings.Join(strings.Fields(s), " ")})
		}
	}
	return out
}

// skillCellKey names a row of skill_cells.
type skillCellKey struct{ month, team, visibility, key string }

// skillDeltas is what a batch adds to each row of skill_cells.
type skillDeltas map[skillCellKey]*[numSkillCounts]int64

// learning adds sign times l to the cells of its skills, in the
// visibility and by the outcome of its experiment.
func (d skillDeltas) learning(l *skillLearning, visibility, outcome string, sign int64) {
	class := skillClass(outcome)
	for _, s := range namedSkills(l.Skills) {
		k := skillCellKey{l.RecordedMonth, l.Team, visibility, s.key}
		if d[k] == nil {
			d[k] = &[numSkillCounts]int64{}
		}
		d[k][class] += sign
	}
}

// skillLearning is what the skill figures need of a learning.
type skillLearning struct{ learningRow }

const skillLearningColumns = "l.id, l.experiment_id, l.team, l.recorded_month, l.skills, l.position, l.recorded_at"

func scanSkillLearning(rows *sql.Rows, more ...any) (skillLearning, error) {
	var l skillLearning
	var position int64
	err := rows.Scan(append([]any{&l.ID, &l.ExperimentID, &l.Team, &l.RecordedMonth, &l.Skills, &position, &l.RecordedAt},
		more...)...)
	l.Position, l.RecordedAt = uint64(position), l.RecordedAt.UTC()
	return l, err
}

// writeSkillFigures brings skill_cells and team_skill_first up to date
// with a batch that has just been written in tx.
func (p *Projection) writeSkillFigures(ctx context.Context, tx *batchTx, before figuresBefore, b *batch) error {
	d := skillDeltas{}
	firsts := newSkillFirsts()
	fresh := make(map[string]bool, len(b.learnings))
	for _, l := range b.learnings {
		fresh[l.ID] = true
		x := b.experiments[l.ExperimentID]
		sl := &skillLearning{learningRow: *l}
		d.learning(sl, x.Visibility, x.Outcome, 1)
		firsts.offer(sl, x.Visibility)
	}
	var moved []string
	for id := range b.dirtyExperiments {
		old, stored := before[id]
		x := b.experiments[id]
		if stored && old.LearningCount > 0 &&
			(old.Visibility != x.Visibility || skillClass(old.Outcome) != skillClass(x.Outcome)) {
			moved = append(moved, id)
		}
	}
	slices.Sort(moved)
	err := tx.queryIn(ctx, "SELECT "+skillLearningColumns+" FROM learnings l WHERE l.experiment_id IN (%s)", moved,
		func(rows *sql.Rows) error {
			l, err := scanSkillLearning(rows)
			if err != nil || fresh[l.ID] {
				return err
			}
			old, x := before[l.ExperimentID], b.experiments[l.ExperimentID]
			d.learning(&l, old.Visibility, old.Outcome, -1)
			d.learning(&l, x.Visibility, x.Outcome, 1)
			if old.Visibility != x.Visibility {
				firsts.leave(&l, old.Visibility)
				firsts.offer(&l, x.Visibility)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("load learnings of experiments whose outcome or visibility changed: %w", err)
	}
	if err := firsts.write(ctx, tx); err != nil {
		return err
	}
	return writeSkillDeltas(ctx, tx, d)
}

// buildSkillFigures computes the skill figures from the rows, in a read
// store whose figures are being built (see buildFigures).
func (p *Projection) buildSkillFigures(ctx context.Context, tx *batchTx) error {
	for _, stmt := range []string{"DELETE FROM skill_cells", "DELETE FROM team_skill_first"} {
		if _, err := tx.tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("build skill figures: %w", err)
		}
	}
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+skillLearningColumns+", e.visibility, e.outcome"+
		" FROM learnings l JOIN experiments e ON e.id = l.experiment_id ORDER BY l.position")
	if err != nil {
		return fmt.Errorf("build skill figures: %w", err)
	}
	defer rows.Close()
	d := skillDeltas{}
	firsts := newSkillFirsts()
	for rows.Next() {
		var visibility, outcome string
		l, err := scanSkillLearning(rows, &visibility, &outcome)
		if err != nil {
			return fmt.Errorf("build skill figures: %w", err)
		}
		d.learning(&l, visibility, outcome, 1)
		firsts.offer(&l, visibility)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("build skill figures: %w", err)
	}
	rows.Close()
	if err := firsts.write(ctx, tx); err != nil {
		return err
	}
	return writeSkillDeltas(ctx, tx, d)
}

// skillCellColumns lists skill_cells in the order of appendSkillCell.
const skillCellColumns = "month, team, visibility, skill_key, from_failures, from_successes, from_others"

var skillCellTable = newTableSpec("skill_cells", columnList(skillCellColumns), "month")

// writeSkillDeltas adds d to skill_cells, rewriting every month it
// changes, as writeDeltas does figure_cells.
func writeSkillDeltas(ctx context.Context, tx *batchTx, d skillDeltas) error {
	months := map[string]bool{}
	for k, c := range d {
		if *c != [numSkillCounts]int64{} {
			months[k.month] = true
		}
	}
	if len(months) == 0 {
		return nil
	}
	cells := skillDeltas{}
	err := tx.queryIn(ctx, "SELECT "+skillCellColumns+" FROM skill_cells WHERE month IN (%s)", sortedKeys(months),
		func(rows *sql.Rows) error {
			var k skillCellKey
			var c [numSkillCounts]int64
			if err := rows.Scan(&k.month, &k.team, &k.visibility, &k.key, &c[0], &c[1], &c[2]); err != nil {
				return err
			}
			cells[k] = &c
			return nil
		})
	if err != nil {
		return fmt.Errorf("load skill cells: %w", err)
	}
	for k, delta := range d {
		if months[k.month] {
			if cells[k] == nil {
				cells[k] = &[numSkillCounts]int64{}
			}
			for i, n := range delta {
				cells[k][i] += n
			}
		}
	}
	var values []any
	for _, k := range slices.SortedFunc(maps.Keys(cells), compareSkillCellKeys) {
		if c := cells[k]; *c != [numSkillCounts]int64{} {
			values = append(values, k.month, dbText(k.team), dbText(k.visibility), dbText(k.key), c[0], c[1], c[2])
		}
	}
	if err := tx.replace(ctx, skillCellTable, sortedKeys(months), values); err != nil {
		return fmt.Errorf("write skill cells: %w", err)
	}
	return nil
}

func compareSkillCellKeys(a, b skillCellKey) int {
	return cmp.Or(cmp.Compare(a.month, b.month), cmp.Compare(a.team, b.team), cmp.Compare(a.visibility, b.visibility),
		cmp.Compare(a.key, b.key))
}

// skillFirst is a row of team_skill_first.
type skillFirst struct {
	learningID, experimentID string
	position                 uint64
	shown                    string
	recordedAt               time.Time
}

// firstKey names a row of team_skill_first.
type firstKey struct{ team, key, visibility string }

// skillFirsts is the rows of team_skill_first of the teams a batch
// changes: those it loaded, and what the batch makes of them.
type skillFirsts struct {
	offers map[firstKey]*skillFirst
	// left are the learnings that left a visibility, by the row they may
	// have been the first of.
	left map[firstKey][]string
}

func newSkillFirsts() *skillFirsts {
	return &skillFirsts{offers: map[firstKey]*skillFirst{}, left: map[firstKey][]string{}}
}

// offer makes l the first learning of each of its skills in its team and
// visibility, where it comes before the one kept.
func (f *skillFirsts) offer(l *skillLearning, visibility string) {
	for _, s := range namedSkills(l.Skills) {
		k := firstKey{l.Team, s.key, visibility}
		if o := f.offers[k]; o == nil || l.Position < o.position {
			f.offers[k] = &skillFirst{learningID: l.ID, experimentID: l.ExperimentID, position: l.Position,
				shown: s.shown, recordedAt: l.RecordedAt}
		}
	}
}

// leave records that l is no longer in visibility: where it was the
// first learning of a skill there, the next one must be looked up.
func (f *skillFirsts) leave(l *skillLearning, visibility string) {
	for _, s := range namedSkills(l.Skills) {
		k := firstKey{l.Team, s.key, visibility}
		f.left[k] = append(f.left[k], l.ID)
	}
}

const skillFirstColumns = "team, skill_key, visibility, learning_id, experiment_id, position, shown, recorded_at"

var skillFirstTable = newTableSpec("team_skill_first", columnList(skillFirstColumns), "team")

// write merges the offers into the stored rows of their teams and
// rewrites the rows of the teams that changed: a team has a row or two
// per skill.
func (f *skillFirsts) write(ctx context.Context, tx *batchTx) error {
	teams := map[string]bool{}
	for k := range f.offers {
		teams[k.team] = true
	}
	for k := range f.left {
		teams[k.team] = true
	}
	if len(teams) == 0 {
		return nil
	}
	rows := map[firstKey]*skillFirst{}
	err := tx.queryIn(ctx, "SELECT "+skillFirstColumns+" FROM team_skill_first WHERE team IN (%s)", sortedKeys(teams),
		func(r *sql.Rows) error {
			var k firstKey
			var s skillFirst
			var position int64
			if err := r.Scan(&k.team, &k.key, &k.visibility, &s.learningID, &s.experimentID, &position, &s.shown,
				&s.recordedAt); err != nil {
				return err
			}
			s.position, s.recordedAt = uint64(position), s.recordedAt.UTC()
			rows[k] = &s
			return nil
		})
	if err != nil {
		return fmt.Errorf("load first learnings of skills: %w", err)
	}
	// A row whose learning left its visibility is looked up again, after
	// the batch's learnings are written, which covers the offers too.
	// Only the teams whose rows change are rewritten: most learnings name
	// skills their team has named before.
	changed := map[string]bool{}
	var stale []firstKey
	for k, ids := range f.left {
		if r := rows[k]; r != nil && slices.Contains(ids, r.learningID) {
			stale = append(stale, k)
			changed[k.team] = true
		}
	}
	for k, o := range f.offers {
		if r := rows[k]; r == nil || o.position < r.position {
			rows[k] = o
			changed[k.team] = true
		}
	}
	if err := lookUpFirsts(ctx, tx, stale, rows); err != nil {
		return err
	}
	var values []any
	for _, k := range slices.SortedFunc(maps.Keys(rows), func(a, b firstKey) int {
		return cmp.Or(cmp.Compare(a.team, b.team), cmp.Compare(a.key, b.key), cmp.Compare(a.visibility, b.visibility))
	}) {
		if !changed[k.team] {
			continue
		}
		r := rows[k]
		values = append(values, dbText(k.team), dbText(k.key), dbText(k.visibility), dbText(r.learningID),
			dbText(r.experimentID), int64(r.position), dbText(r.shown), r.recordedAt)
	}
	if err := tx.replace(ctx, skillFirstTable, sortedKeys(changed), values); err != nil {
		return fmt.Errorf("write first learnings of skills: %w", err)
	}
	return nil
}

// lookUpFirsts finds the first learning of each stale row's team, skill
// and visibility in the learnings written, and drops the rows that have
// none left. It walks a team's learnings of one visibility in stream
// order until it has found every skill it looks for, which only a
// visibility revision of an experiment that holds a first learning
// calls for.
func lookUpFirsts(ctx context.Context, tx *batchTx, stale []firstKey, rows map[firstKey]*skillFirst) error {
	want := map[[2]string]map[string]bool{}
	for _, k := range stale {
		delete(rows, k)
		tv := [2]string{k.team, k.visibility}
		if want[tv] == nil {
			want[tv] = map[string]bool{}
		}
		want[tv][k.key] = true
	}
	for _, tv := range slices.SortedFunc(maps.Keys(want), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		if err := lookUpTeamFirsts(ctx, tx, tv[0], tv[1], want[tv], rows); err != nil {
			return fmt.Errorf("look up first learnings of skills of %s: %w", tv[0], err)
		}
	}
	return nil
}

func lookUpTeamFirsts(ctx context.Context, tx *batchTx, team, visibility string, keys map[string]bool,
	rows map[firstKey]*skillFirst) error {
	q := sqlx.Rebind(tx.texts.bindType, "SELECT "+skillLearningColumns+
		" FROM learnings l JOIN experiments e ON e.id = l.experiment_id WHERE l.team = ? AND e.visibility = ? ORDER BY l.position")
	r, err := tx.tx.QueryContext(ctx, q, dbText(team), dbText(visibility))
	if err != nil {
		return err
	}
	defer r.Close()
	for len(keys) > 0 && r.Next() {
		l, err := scanSkillLearning(r)
		if err != nil {
			return err
		}
		for _, s := range namedSkills(l.Skills) {
			if keys[s.key] {
				delete(keys, s.key)
				rows[firstKey{team, s.key, visibility}] = &skillFirst{learningID: l.ID, experimentID: l.ExperimentID,
					position: l.Position, shown: s.shown, recordedAt: l.RecordedAt}
			}
		}
	}
	return r.Err()
}
