package history

import (
	"slices"

	"github.com/failforward/failforward/internal/events"
)

// step emits the next event of the history. A few hundred experiments
// are open at any time, so that one aggregate's events are spread over
// the stream as they are in use.
func (g *Generator) step() error {
	switch {
	case len(g.ended) > 0 && g.rng.Float64() < g.pInnovation:
		return g.innovationStep()
	case len(g.all) < g.cfg.Experiments && len(g.open) < g.window:
		x, err := g.register(nil, true)
		g.open = append(g.open, x)
		return err
	case len(g.open) > 0:
		i := g.rng.IntN(len(g.open))
		done, err := g.advance(g.open[i])
		if done {
			g.open = slices.Delete(g.open, i, i+1)
		}
		return err
	case len(g.all) < g.cfg.Experiments:
		x, err := g.register(nil, true)
		g.open = append(g.open, x)
		return err
	}
	// Every experiment has run its course: the rest are learnings
	// recorded late, which any status allows.
	return g.learning(pick(g.rng, g.all))
}

// advance emits the next event of x's plan and reports whether x has
// none left.
func (g *Generator) advance(x *experiment) (bool, error) {
	switch {
	case x.status == "planned" && x.revisions > 0:
		x.revisions--
		title := "Revised " + pick(g.rng, Words()) + " experiment"
		return false, g.put(events.ExperimentRevised, x.id, x.team, events.ExperimentRevisedV1{Title: &title})
	case x.status == "planned" && x.abandon && g.rng.IntN(2) == 0:
		return g.abandonExperiment(x, "priorities changed")
	case x.status == "planned":
		return false, g.start(x)
	case x.status == "running" && x.learnings > 0 && g.rng.IntN(3) > 0:
		x.learnings--
		return false, g.learning(x)
	case x.status == "running" && x.abandon:
		return g.abandonExperiment(x, "out of budget")
	case x.status == "running":
		err := g.conclude(x)
		return x.learnings == 0 && !x.reviseNext, err
	case x.reviseNext:
		x.reviseNext = false
		revised := pick(g.rng, slices.DeleteFunc(slices.Clone(outcomes), func(o string) bool { return o == x.outcome }))
		previous := x.outcome
		x.outcome = revised
		return x.learnings == 0, g.put(events.ExperimentOutcomeRevised, x.id, x.team, events.ExperimentOutcomeRevisedV1{
			Outcome: revised, PreviousOutcome: previous, Reason: "sample ratio mismatch",
		})
	case x.learnings > 0:
		x.learnings--
		return x.learnings == 0, g.learning(x)
	}
	return true, nil
}

// innovationStep records an innovation, links one to an ended experiment,
// or now and then undoes a link.
func (g *Generator) innovationStep() error {
	linkable := g.linkable()
	if len(linkable) == 0 || (len(g.innovs) < g.innovations && g.rng.IntN(5) == 0) {
		_, err := g.recordInnovation()
		return err
	}
	in := pick(g.rng, linkable)
	if l := g.links[in]; len(l) > 0 && g.rng.IntN(15) == 0 {
		g.links[in] = l[1:]
		return g.put(events.InnovationUnlinked, in, g.innovTeam[in], events.InnovationUnlinkedV1{ExperimentID: l[0], Reason: "wrong link"})
	}
	x := pick(g.rng, g.ended)
	if slices.Contains(g.links[in], x.id) {
		return g.learning(x) // linking twice appends nothing in the product either
	}
	return g.link(in, x.id)
}
