package history

import (
	"fmt"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// register emits a new experiment building on buildsOn. An experiment of
// the general mix (mix set) builds on a random earlier one a third of
// the time, is confidential to its team one time in twelve, and gets a
// plan of what happens to it next.
func (g *Generator) register(buildsOn []string, mix bool) (*experiment, error) {
	team := pick(g.rng, Teams())
	x := &experiment{id: g.newID(), team: team, status: "planned"}
	visibility := "org"
	if mix {
		if len(g.all) > 0 && g.rng.IntN(3) == 0 {
			buildsOn = []string{pick(g.rng, g.all).id}
		}
		if g.rng.IntN(12) == 0 {
			visibility = "team"
		}
		if g.rng.IntN(10) == 0 {
			x.revisions = 1
		}
		x.abandon = g.rng.IntN(10) == 0
		x.learnings = int(g.learnings*2*g.rng.Float64() + 0.5)
	}
	words, tags := Words(), Tags()
	w1, w2 := pick(g.rng, words), pick(g.rng, words)
	err := g.put(events.ExperimentRegistered, x.id, team, events.ExperimentRegisteredV1{
		Team: team, Title: fmt.Sprintf("%s %s experiment %d", w1, w2, len(g.all)+1), Kind: pick(g.rng, kinds),
		Hypothesis:    fmt.Sprintf("If we change the %s, more people will use the %s", w1, w2),
		SuccessMetric: "conversion", SuccessCriteria: "+2% in two weeks", Owner: "owner-" + team,
		Tags: []string{pick(g.rng, tags[:4]), pick(g.rng, tags[4:])}, BuildsOn: nonNil(buildsOn), Visibility: visibility,
		Cost: &events.Cost{PersonDays: float64(g.rng.IntN(20)), Spend: float64(g.rng.IntN(5000))},
	})
	x.since = g.at
	g.all = append(g.all, x)
	return x, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// lineage emits LineageChains chains of experiments, each building on
// the one before it, all concluded, and an innovation linked to the last
// of each chain: an innovation with Config.Lineage experiments upstream.
func (g *Generator) lineage() error {
	var tails []string
	for range LineageChains {
		var prev []string
		for range g.cfg.Lineage / LineageChains {
			x, err := g.register(prev, false)
			if err == nil {
				err = g.start(x)
			}
			if err == nil {
				err = g.conclude(x)
			}
			if err != nil {
				return err
			}
			prev = []string{x.id}
		}
		tails = append(tails, prev...)
	}
	id, err := g.recordInnovation()
	if err != nil {
		return err
	}
	g.lineageInnovation = id
	for _, t := range tails {
		if err := g.link(id, t); err != nil {
			return err
		}
	}
	return nil
}

func (g *Generator) start(x *experiment) error {
	x.status = "running"
	at := g.backdated(x.since)
	x.since = at
	return g.put(events.ExperimentStarted, x.id, x.team, events.ExperimentStartedV1{StartedAt: at})
}

func (g *Generator) conclude(x *experiment) error {
	x.status = "concluded"
	g.ended = append(g.ended, x)
	x.outcome = pick(g.rng, outcomes)
	x.reviseNext = g.rng.IntN(18) == 0
	c := events.ExperimentConcludedV1{
		Outcome: x.outcome, Decision: pick(g.rng, decisions), Summary: "It did what it did",
		ConcludedAt: g.backdated(x.since),
	}
	if x.outcome == "failed" {
		c.Summary, c.Observed = "No lift", "+0.3% against +2% wanted"
		c.FailureReasons = []string{pick(g.rng, []string{"too small an effect", "wrong audience", "nobody noticed the " + pick(g.rng, Words())})}
	}
	return g.put(events.ExperimentConcluded, x.id, x.team, c)
}

func (g *Generator) abandonExperiment(x *experiment, reason string) (bool, error) {
	x.status = "abandoned"
	g.ended = append(g.ended, x)
	return x.learnings == 0, g.put(events.ExperimentAbandoned, x.id, x.team, events.ExperimentAbandonedV1{
		Reason: reason, AbandonedAt: g.backdated(x.since),
	})
}

func (g *Generator) learning(x *experiment) error {
	learned := []string{pick(g.rng, skills)}
	if g.rng.IntN(3) == 0 {
		learned = append(learned, pick(g.rng, skills))
	}
	return g.put(events.ExperimentLearningRecorded, x.id, x.team, events.ExperimentLearningRecordedV1{
		LearningID: g.newID(), Text: fmt.Sprintf("People ignored the %s", pick(g.rng, Words())),
		Skills: slices.Compact(learned),
	})
}

func (g *Generator) recordInnovation() (string, error) {
	team := pick(g.rng, Teams())
	id := g.newID()
	g.innovs = append(g.innovs, id)
	g.innovTeam[id] = team
	// Launches are often recorded weeks after the fact.
	launched := g.at.Add(-time.Duration(g.rng.IntN(30)) * 24 * time.Hour)
	if launched.Before(start) {
		launched = start
	}
	return id, g.put(events.InnovationRecorded, id, team, events.InnovationRecordedV1{
		Team: team, Title: "Innovation " + id[20:], Description: "Shipped", LaunchedAt: launched,
	})
}

func (g *Generator) link(innovation, experiment string) error {
	g.links[innovation] = append(g.links[innovation], experiment)
	return g.put(events.InnovationLinked, innovation, g.innovTeam[innovation], events.InnovationLinkedV1{
		ExperimentID: experiment, Note: "it taught us",
	})
}
