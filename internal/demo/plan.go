package demo

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// expPlan is one experiment of the history, with every date of its life.
// A zero started or ended means it had not got that far by the end.
type expPlan struct {
	idx                        int
	team, owner, title, kind   string
	topic                      string // what it is about, in a few words
	hypothesis, metric, crit   string
	tags                       []string
	buildsOn                   []int
	visibility                 string
	reviseTitle                string // a revision while planned, when set
	registered, started, ended time.Time
	abandonReason              string // abandoned instead of concluded, when set
	outcome, decision, summary string
	observed                   string
	reasons                    []string
	learnings                  []experiments.NewLearning
	late                       *experiments.NewLearning // recorded a while after the end
	revisedOutcome, revisedWhy string
}

// innPlan is one innovation: launched on the strength of some experiments,
// with, now and then, a link added later and one taken back.
type innPlan struct {
	idx                      int
	team, title, description string
	launched                 time.Time
	informedBy               []int
	laterLink, unlinkAfter   int // plan indexes; -1 for none
}

// plan collects the history's steps as the experiments and innovations
// are made up.
type plan struct {
	r     *rand.Rand
	start time.Time
	exps  []*expPlan
	inns  []*innPlan
	steps []step
}

func newPlan(r *rand.Rand, start time.Time) *plan { return &plan{r: r, start: start} }

// build makes up the whole history: the stories, then the everyday
// experiments around them, then the innovations those fed, then the
// failure stories the leads told.
func (p *plan) build() {
	for _, s := range stories {
		p.addStory(s)
	}
	p.addEveryday(110)
	p.addRecent(4)
	p.addEverydayInnovations(10)
	p.addFailureStories()
}

// day returns the plan's start plus d days, at a working hour.
func (p *plan) day(d int) time.Time {
	return p.start.AddDate(0, 0, d).Truncate(24 * time.Hour).Add(time.Duration(9+p.r.IntN(8))*time.Hour + time.Duration(p.r.IntN(60))*time.Minute)
}

// after returns t plus between lo and hi days, at a working hour.
func (p *plan) after(t time.Time, lo, hi int) time.Time {
	d := lo + p.r.IntN(hi-lo+1)
	return t.AddDate(0, 0, d).Truncate(24 * time.Hour).Add(time.Duration(9+p.r.IntN(8))*time.Hour + time.Duration(p.r.IntN(60))*time.Minute)
}

func (p *plan) add(at time.Time, what string, do func(context.Context, *writer) error) {
	p.steps = append(p.steps, step{at: at, what: what, do: do})
}

// addExperiment records e's commands as steps, each at its date.
func (p *plan) addExperiment(e *expPlan) {
	e.idx = len(p.exps)
	p.exps = append(p.exps, e)
	p.add(e.registered, "register "+e.title, func(ctx context.Context, w *writer) error {
		cmd := experiments.RegisterExperiment{
			Team: e.team, Title: e.title, Kind: e.kind, Hypothesis: e.hypothesis, SuccessMetric: e.metric,
			SuccessCriteria: e.crit, Owner: e.owner, Tags: e.tags, Visibility: e.visibility,
		}
		for _, up := range e.buildsOn {
			cmd.BuildsOn = append(cmd.BuildsOn, w.ids[up])
		}
		x, err := w.svc.RegisterExperiment(ctx, w.meta(e.owner), cmd)
		w.ids[e.idx] = x.ID
		return err
	})
	if e.reviseTitle != "" {
		p.add(e.registered.Add(26*time.Hour), "revise "+e.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.ReviseExperiment(ctx, w.meta(e.owner), w.ids[e.idx], experiments.ReviseExperiment{Title: &e.reviseTitle})
			return err
		})
	}
	if e.started.IsZero() {
		return
	}
	p.add(e.started, "start "+e.title, func(ctx context.Context, w *writer) error {
		_, err := w.svc.StartExperiment(ctx, w.meta(e.owner), w.ids[e.idx], experiments.StartExperiment{})
		return err
	})
	if !e.ended.IsZero() {
		p.addEnd(e)
	}
}

// addEnd records how e ended, and what came after: a learning recorded
// later, a revised outcome.
func (p *plan) addEnd(e *expPlan) {
	if e.abandonReason != "" {
		p.add(e.ended, "abandon "+e.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.AbandonExperiment(ctx, w.meta(e.owner), w.ids[e.idx], experiments.AbandonExperiment{Reason: e.abandonReason})
			return err
		})
	} else {
		p.add(e.ended, "conclude "+e.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.ConcludeExperiment(ctx, w.meta(e.owner), w.ids[e.idx], experiments.ConcludeExperiment{
				Outcome: e.outcome, Decision: e.decision, Summary: e.summary, Observed: e.observed,
				FailureReasons: e.reasons, Learnings: e.learnings,
			})
			return err
		})
	}
	if e.late != nil {
		p.add(p.after(e.ended, 10, 40), "record a learning on "+e.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.RecordLearning(ctx, w.meta(e.owner), w.ids[e.idx], *e.late)
			return err
		})
	}
	if e.revisedOutcome != "" {
		p.add(p.after(e.ended, 7, 30), "revise the outcome of "+e.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.ReviseOutcome(ctx, w.meta(e.owner), w.ids[e.idx], experiments.ReviseOutcome{Outcome: e.revisedOutcome, Reason: e.revisedWhy})
			return err
		})
	}
}

// addInnovation records i's launch, and its later link and unlink.
func (p *plan) addInnovation(i *innPlan) {
	i.idx = len(p.inns)
	p.inns = append(p.inns, i)
	p.add(i.launched, "record "+i.title, func(ctx context.Context, w *writer) error {
		cmd := experiments.RecordInnovation{Team: i.team, Title: i.title, Description: i.description}
		for _, e := range i.informedBy {
			cmd.InformedBy = append(cmd.InformedBy, experiments.LinkInput{ExperimentID: w.ids[e], Note: "learned from " + p.exps[e].title})
		}
		x, err := w.svc.RecordInnovation(ctx, w.meta("lead-"+i.team), cmd)
		w.innovations[i.idx] = x.ID
		return err
	})
	if i.laterLink >= 0 {
		e := i.laterLink
		linked := p.after(maxTime(i.launched, p.exps[e].ended), 5, 20)
		p.add(linked, "link "+i.title, func(ctx context.Context, w *writer) error {
			_, err := w.svc.LinkExperiment(ctx, w.meta("lead-"+i.team), w.innovations[i.idx], experiments.LinkExperiment{
				ExperimentID: w.ids[e], Note: "credited later: " + p.exps[e].title,
			})
			return err
		})
		if i.unlinkAfter == e {
			p.add(p.after(linked, 3, 10), "unlink "+i.title, func(ctx context.Context, w *writer) error {
				_, err := w.svc.UnlinkExperiment(ctx, w.meta("lead-"+i.team), w.innovations[i.idx], w.ids[e])
				return err
			})
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
