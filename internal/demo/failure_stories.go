package demo

import (
	"context"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// differently is what each team's lead would do differently about the
// failure its chain of experiments began with.
var differently = map[string]string{
	"growth":     "Ask five subscribers why they stay monthly before testing any nudge.",
	"onboarding": "Watch three new users try the product before making anything for them to watch.",
	"search":     "Read a hundred failed searches before touching the ranking.",
	"payments":   "Split declines by code before writing a single email.",
}

// addFailureStories has the lead of each chain's team tell the failure
// the chain began with, a few days after it ended: published, revised
// once, and marked helpful by owners of the other chains. The first
// chain's owner also tells it, and retracts that story once the lead's
// is out.
func (p *plan) addFailureStories() {
	ids := map[string]string{} // who told which failure → story id
	for i, s := range stories {
		first := p.expTitled(s.chapters[0].title)
		if first == nil {
			continue
		}
		lead := &experiments.Principal{Name: "lead-" + s.team, Role: experiments.RoleLead, Teams: []string{s.team}}
		published := p.after(first.ended, 5, 20)
		key := "lead story " + s.team
		p.add(published, "publish the story of "+first.title, func(ctx context.Context, w *writer) error {
			x, err := w.svc.PublishStory(ctx, w.as(lead), experiments.PublishStory{
				Team: s.team, Title: "What " + strings.ToLower(first.title[:1]) + first.title[1:] + " taught us",
				Tried: first.hypothesis, WentWrong: first.summary + ": " + strings.Join(first.reasons, "; "),
				Learned: first.learnings[0].Text, Differently: differently[s.team], ExperimentIDs: []string{w.ids[first.idx]},
			})
			ids[key] = x.ID
			return err
		})
		revised := p.after(published, 2, 6)
		p.add(revised, "revise the story of "+first.title, func(ctx context.Context, w *writer) error {
			more := differently[s.team] + " And share the result with the other teams the same week."
			_, err := w.svc.ReviseStory(ctx, w.as(lead), ids[key], experiments.ReviseStory{Differently: &more})
			return err
		})
		for j, other := range stories {
			if j == i {
				continue
			}
			reader := &experiments.Principal{Name: other.owner, Role: experiments.RoleMember, Teams: []string{other.team}}
			p.add(p.after(revised, 1, 30), other.owner+" marks the story of "+first.title, func(ctx context.Context, w *writer) error {
				_, err := w.svc.MarkStoryHelped(ctx, w.as(reader), ids[key])
				return err
			})
		}
		if i == 0 {
			p.addRetractedStory(s, first, published, ids)
		}
	}
}

// addRetractedStory has s's owner tell first's failure a day before the
// lead does, and retract it once the lead's story is out.
func (p *plan) addRetractedStory(s story, first *expPlan, leads time.Time, ids map[string]string) {
	owner := &experiments.Principal{Name: s.owner, Role: experiments.RoleMember, Teams: []string{s.team}}
	key := "owner story " + s.team
	p.add(leads.Add(-24*time.Hour), "publish a first story of "+first.title, func(ctx context.Context, w *writer) error {
		x, err := w.svc.PublishStory(ctx, w.as(owner), experiments.PublishStory{
			Title: "Notes on " + first.title, Learned: first.learnings[0].Text, ExperimentIDs: []string{w.ids[first.idx]},
		})
		ids[key] = x.ID
		return err
	})
	p.add(leads.Add(2*time.Hour), "retract the first story of "+first.title, func(ctx context.Context, w *writer) error {
		_, err := w.svc.RetractStory(ctx, w.as(owner), ids[key], experiments.RetractStory{Reason: "The lead's story tells it better"})
		return err
	})
}

// as is the metadata of a command p sends: unlike the rest of the demo,
// stories record their author's role, so they name the principal.
func (w *writer) as(p *experiments.Principal) experiments.Meta {
	m := w.meta(p.Name)
	m.Principal = p
	return m
}

// expTitled returns the planned experiment titled title, or nil.
func (p *plan) expTitled(title string) *expPlan {
	for _, e := range p.exps {
		if e.title == title {
			return e
		}
	}
	return nil
}
