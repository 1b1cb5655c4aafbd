package readmodel_test

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// naiveFirst is the first learning naming a skill, as the recount finds
// it.
type naiveFirst struct {
	l     naiveLearning
	shown string
	x     *naiveExp
}

// skills recounts the skills report straight from its definition: every
// learning v sees in f's range, once per skill key, by its experiment's
// outcome now; and each skill's first learning among all v sees of the
// team (or of every team the report covers).
func (n *naive) skills(v readmodel.Viewer, f readmodel.OutcomeFilter) readmodel.SkillReport {
	bucket := cmp.Or(f.Bucket, readmodel.BucketMonth)
	counts := map[[2]string]map[string]*readmodel.SkillSplit{}
	firsts := map[[2]string]naiveFirst{}
	for _, id := range n.order {
		x := n.exps[id]
		if !n.sees(v, x) || (f.Team != "" && x.team != f.Team) {
			continue
		}
		for _, l := range x.learnings {
			seen := map[string]bool{}
			for _, s := range l.skills {
				key := experiments.SkillKey(s)
				if key == "" || seen[key] {
					continue
				}
				seen[key] = true
				for _, tm := range []string{x.team, readmodel.AllTeams} {
					if o, ok := firsts[[2]string{tm, key}]; !ok || l.seq < o.l.seq {
						firsts[[2]string{tm, key}] = naiveFirst{l: l, shown: strings.Join(strings.Fields(s), " "), x: x}
					}
					if (!f.From.IsZero() && l.at.Before(f.From)) || (!f.To.IsZero() && !l.at.Before(f.To)) {
						continue
					}
					k := [2]string{periodOf(l.at, bucket), tm}
					if counts[k] == nil {
						counts[k] = map[string]*readmodel.SkillSplit{}
					}
					c := counts[k][key]
					if c == nil {
						c = &readmodel.SkillSplit{Key: key}
						counts[k][key] = c
					}
					c.Learnings++
					switch x.outcome {
					case experiments.OutcomeFailed:
						c.FromFailures++
					case experiments.OutcomeSucceeded:
						c.FromSuccesses++
					default:
						c.FromOthers++
					}
				}
			}
		}
	}
	rep := readmodel.SkillReport{Bucket: bucket, Periods: []readmodel.SkillPeriod{}}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		p := readmodel.SkillPeriod{Period: k[0], Team: k[1]}
		for key, c := range counts[k] {
			first := firsts[[2]string{k[1], key}]
			c.Skill, c.FirstLearningID, c.FirstRecordedAt = first.shown, first.l.id, first.l.at.UTC()
			c.FirstAfterFailure = first.x.outcome == experiments.OutcomeFailed
			p.Skills = append(p.Skills, *c)
		}
		slices.SortFunc(p.Skills, func(a, b readmodel.SkillSplit) int {
			return cmp.Or(cmp.Compare(b.Learnings, a.Learnings), cmp.Compare(a.Key, b.Key))
		})
		rep.Periods = append(rep.Periods, p)
	}
	return rep
}

func compareSkills(t *testing.T, what string, got, want readmodel.SkillReport) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("Skills %s differ from the recount:\n got %s\nwant %s", what, g, w)
	}
}
