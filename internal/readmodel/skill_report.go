package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// SkillReport is the skills page: the skills each team named in its
// learnings, per period.
type SkillReport struct {
	Bucket string `json:"bucket"`
	// Periods are sorted by period, then team; AllTeams sorts first. A
	// team has a row in a period where its learnings named a skill, and
	// each such period has an AllTeams row over every team.
	Periods []SkillPeriod `json:"periods"`
}

// SkillPeriod is the skills one team, or AllTeams, named in one period.
type SkillPeriod struct {
	// Period is "2026-03" for a month, "2026-Q1" for a quarter (UTC).
	Period string `json:"period"`
	Team   string `json:"team"`
	// Skills are sorted most named first, then by key.
	Skills []SkillSplit `json:"skills"`
}

// SkillSplit is one skill of a team and period: how many of the
// learnings recorded in the period named it, split by the current
// outcome of their experiment, and whether it first appeared after a
// failure.
type SkillSplit struct {
	// Skill is the skill as its first learning wrote it, with
	// surrounding and repeated space dropped; Key is its
	// experiments.SkillKey, by which it is counted and filtered.
	Skill string `json:"skill"`
	Key   string `json:"key"`
	// Learnings is FromFailures + FromSuccesses + FromOthers: learnings
	// of failed experiments, of succeeded ones, and of the rest
	// (inconclusive, abandoned, or not concluded yet).
	Learnings     int `json:"learnings"`
	FromFailures  int `json:"from_failures"`
	FromSuccesses int `json:"from_successes"`
	FromOthers    int `json:"from_others"`
	// FirstAfterFailure is set when the first learning that named the
	// skill in the team (for AllTeams: in any team of the report) came
	// from an experiment whose outcome is failed. That first learning is
	// the first the viewer may see, whatever the report's range.
	FirstAfterFailure bool      `json:"first_after_failure"`
	FirstLearningID   string    `json:"first_learning_id"`
	FirstRecordedAt   time.Time `json:"first_recorded_at"`
}

// skillTally accumulates the counts of a report by (period, team) and
// skill key.
type skillTally struct {
	bucket string
	counts map[[2]string]map[string]*[numSkillCounts]int
}

func (t *skillTally) add(month, team, key string, class, n int) {
	period := month
	if t.bucket == BucketQuarter {
		period = quarterOf(month)
	}
	for _, tm := range []string{team, AllTeams} {
		k := [2]string{period, tm}
		if t.counts[k] == nil {
			t.counts[k] = map[string]*[numSkillCounts]int{}
		}
		c := t.counts[k][key]
		if c == nil {
			c = &[numSkillCounts]int{}
			t.counts[k][key] = c
		}
		c[class] += n
	}
}

// Skills reports the skills named in the learnings v may see, under the
// outcome dashboard's filter (each learning in the period of its
// recorded_at). Whole months come from skill_cells, the part of a month
// that a bound cuts from that part's learnings, and the first learning
// of each skill from team_skill_first.
func (q *Queries) Skills(ctx context.Context, v Viewer, f OutcomeFilter) (SkillReport, error) {
	bucket, err := checkOutcomeFilter(f)
	if err != nil {
		return SkillReport{}, err
	}
	t := &skillTally{bucket: bucket, counts: map[[2]string]map[string]*[numSkillCounts]int{}}
	months, edges := splitRange(f)
	if !months.empty() {
		if err := q.tallySkillCells(ctx, v, f.Team, months, t); err != nil {
			return SkillReport{}, fmt.Errorf("skills: %w", err)
		}
	}
	for _, edge := range edges {
		if err := q.tallyEdgeSkills(ctx, v, edge, t); err != nil {
			return SkillReport{}, fmt.Errorf("skills: %w", err)
		}
	}
	firsts, err := q.skillFirsts(ctx, v, f.Team)
	if err != nil {
		return SkillReport{}, fmt.Errorf("skills: %w", err)
	}
	return SkillReport{Bucket: bucket, Periods: t.report(firsts)}, nil
}

func (q *Queries) tallySkillCells(ctx context.Context, v Viewer, team string, span monthSpan, t *skillTally) error {
	cond, args := cellConds(v, team, span)
	rows, err := q.db.QueryContext(ctx, q.db.Rebind("SELECT c.month, c.team, c.skill_key, c.from_failures,"+
		" c.from_successes, c.from_others FROM skill_cells c WHERE "+cond), args...)
	if err != nil {
		return fmt.Errorf("load skill cells: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var month, team, key string
		var c [numSkillCounts]int
		if err := rows.Scan(&month, &team, &key, &c[0], &c[1], &c[2]); err != nil {
			return fmt.Errorf("load skill cells: %w", err)
		}
		for class, n := range c {
			t.add(month, team, key, class, n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load skill cells: %w", err)
	}
	return nil
}

// tallyEdgeSkills counts the skills of the learnings recorded in f's
// range, which lies within one month.
func (q *Queries) tallyEdgeSkills(ctx context.Context, v Viewer, f OutcomeFilter, t *skillTally) error {
	cond, args := where(v, f, "l", "recorded_at")
	var rows []struct {
		Team    string     `db:"team"`
		Month   string     `db:"recorded_month"`
		Skills  stringList `db:"skills"`
		Outcome string     `db:"outcome"`
	}
	query := "SELECT l.team, l.recorded_month, l.skills, e.outcome FROM learnings l" +
		" JOIN experiments e ON e.id = l.experiment_id WHERE " + cond
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("load learnings: %w", err)
	}
	for _, r := range rows {
		for _, s := range namedSkills(r.Skills) {
			t.add(r.Month, r.Team, s.key, skillClass(r.Outcome), 1)
		}
	}
	return nil
}

// seenFirst is the first learning of a skill that a viewer sees.
type seenFirst struct {
	skillFirst
	outcome string
}

// skillFirsts returns the first learning of every skill of every team v
// may see (of team alone unless ""), by team and key, and across those
// teams under AllTeams: of the rows of team_skill_first v may see, the
// earliest.
func (q *Queries) skillFirsts(ctx context.Context, v Viewer, team string) (map[[2]string]*seenFirst, error) {
	vis, args := v.visible("f")
	conds := []string{vis}
	if team != "" {
		conds, args = append(conds, "f.team = ?"), append(args, team)
	}
	var rows []struct {
		Team       string    `db:"team"`
		Key        string    `db:"skill_key"`
		LearningID string    `db:"learning_id"`
		Position   int64     `db:"position"`
		Shown      string    `db:"shown"`
		RecordedAt time.Time `db:"recorded_at"`
		Outcome    string    `db:"outcome"`
	}
	query := "SELECT f.team, f.skill_key, f.learning_id, f.position, f.shown, f.recorded_at, e.outcome" +
		" FROM team_skill_first f JOIN experiments e ON e.id = f.experiment_id WHERE " + strings.Join(conds, " AND ")
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("load first learnings of skills: %w", err)
	}
	out := map[[2]string]*seenFirst{}
	for _, r := range rows {
		s := &seenFirst{skillFirst: skillFirst{learningID: r.LearningID, position: uint64(r.Position), shown: r.Shown,
			recordedAt: r.RecordedAt.UTC()}, outcome: r.Outcome}
		for _, tm := range []string{r.Team, AllTeams} {
			k := [2]string{tm, r.Key}
			if o := out[k]; o == nil || s.position < o.position {
				out[k] = s
			}
		}
	}
	return out, nil
}

// report turns the counts into rows, with each skill's first learning.
func (t *skillTally) report(firsts map[[2]string]*seenFirst) []SkillPeriod {
	out := make([]SkillPeriod, 0, len(t.counts))
	for _, k := range slices.SortedFunc(maps.Keys(t.counts), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		p := SkillPeriod{Period: k[0], Team: k[1], Skills: []SkillSplit{}}
		for key, c := range t.counts[k] {
			s := SkillSplit{Skill: key, Key: key, FromFailures: c[fromFailures], FromSuccesses: c[fromSuccesses],
				FromOthers: c[fromOthers]}
			s.Learnings = s.FromFailures + s.FromSuccesses + s.FromOthers
			if s.Learnings == 0 {
				continue
			}
			if f := firsts[[2]string{k[1], key}]; f != nil {
				s.Skill, s.FirstLearningID, s.FirstRecordedAt = f.shown, f.learningID, f.recordedAt
				s.FirstAfterFailure = f.outcome == experiments.OutcomeFailed
			}
			p.Skills = append(p.Skills, s)
		}
		if len(p.Skills) == 0 {
			continue
		}
		slices.SortFunc(p.Skills, func(a, b SkillSplit) int {
			return cmp.Or(cmp.Compare(b.Learnings, a.Learnings), cmp.Compare(a.Key, b.Key))
		})
		out = append(out, p)
	}
	return out
}

// Skills is Queries.Skills, retried.
func (r *Retrying) Skills(ctx context.Context, v Viewer, f OutcomeFilter) (SkillReport, error) {
	return retry(ctx, func() (SkillReport, error) { return r.q.Skills(ctx, v, f) })
}
