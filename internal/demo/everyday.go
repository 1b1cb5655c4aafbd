package demo

import (
	"fmt"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// The everyday experiments are made up from these pools.
var (
	teams   = []string{"growth", "onboarding", "search", "payments", "platform"}
	owners  = map[string][]string{"growth": {"amara", "felix"}, "onboarding": {"bo", "greta"}, "search": {"chen", "hana"}, "payments": {"dara", "ivo"}, "platform": {"emil", "jun"}}
	subject = map[string][]string{
		"growth":     {"referral credit", "pricing page layout", "free-trial length", "win-back email", "upgrade banner", "team plan bundle", "exit survey offer", "student discount"},
		"onboarding": {"signup form length", "welcome email", "invite-your-team step", "empty-state hints", "template gallery", "setup call offer", "progress bar", "mobile first run"},
		"search":     {"typo tolerance", "filters on mobile", "recent searches", "result snippets", "category suggestions", "search-as-you-type", "no-results page", "saved searches"},
		"payments":   {"wallet payments", "invoice reminders", "currency display", "one-click upgrade", "card updater", "tax-inclusive prices", "payment page trust badges", "bank transfer option"},
		"platform":   {"API rate-limit headers", "status page", "webhook retries", "self-serve data export", "SSO setup wizard", "audit log search", "sandbox accounts", "CLI installer"},
	}
	kindTitle = map[string]string{
		"ab_test": "A/B test of %s", "prototype": "Prototype: %s", "interview": "Customer interviews on %s",
		"fake_door": "Fake door: %s", "pilot": "Pilot of %s", "other": "Analysis of %s",
	}
	shipped = map[string][]string{
		"growth":     {"Referral credit for both sides", "Two-week trial with a mid-trial check-in", "Win-back offer in the exit survey"},
		"onboarding": {"Invite-your-team step after the first result", "Template gallery on the empty state", "Setup call for large workspaces"},
		"search":     {"Typo-tolerant search", "Filters that stay open on mobile", "Saved searches with alerts"},
		"payments":   {"Wallet payments at checkout", "Prices shown with tax where the law expects it", "Automatic card updater"},
		"platform":   {"Self-serve data export", "SSO setup wizard", "Sandbox accounts for integrators"},
	}
	skills  = []string{"research", "pricing", "copywriting", "analytics", "experiment design", "ux", "interviewing", "data engineering", "accessibility", "sales"}
	reasons = []string{"effect smaller than expected", "wrong audience", "novelty wore off", "instrumentation broke", "seasonal traffic", "confusing copy", "slower page"}
)

// pick returns a random element of s.
func pick[T any](p *plan, s []T) T { return s[p.r.IntN(len(s))] }

// addEveryday adds n experiments spread over the two years: of every
// kind and team, most concluded, some abandoned, some still planned or
// running at the end, a quarter following up an earlier one of the team.
func (p *plan) addEveryday(n int) {
	end := p.start.AddDate(2, 0, 0)
	span := int(end.Sub(p.start).Hours()/24) - 5
	for i := range n {
		team := teams[i%len(teams)]
		kind := experiments.Kinds[i%len(experiments.Kinds)]
		topic := pick(p, subject[team])
		e := &expPlan{
			team: team, owner: pick(p, owners[team]), kind: kind, topic: topic, title: fmt.Sprintf(kindTitle[kind], topic),
			hypothesis: fmt.Sprintf("Changing the %s moves %s's main metric", topic, team),
			metric:     "conversion", crit: fmt.Sprintf("+%d%% relative", 2+p.r.IntN(8)), tags: []string{team, topic},
			visibility: "org", registered: p.day(p.r.IntN(span)),
		}
		if p.r.IntN(14) == 0 {
			e.visibility = "team"
		}
		if p.r.IntN(8) == 0 {
			e.reviseTitle = e.title + " (revised scope)"
		}
		if up := p.earlierEnded(team, e.registered); up >= 0 && p.r.IntN(4) == 0 {
			e.buildsOn = []int{up}
			e.title = "Follow-up: " + e.title
		}
		e.started = p.after(e.registered, 2, 12)
		e.ended = p.after(e.started, 10, 60)
		if e.started.After(end) || p.r.IntN(20) == 0 {
			e.started, e.ended = time.Time{}, time.Time{} // still planned
		} else if e.ended.After(end) {
			e.ended = time.Time{} // still running
		}
		p.decideEnd(e)
		p.addExperiment(e)
	}
}

// addRecent adds n experiments that ended in the history's last month,
// before its end, so that the overview's current month has results even
// on its first day.
func (p *plan) addRecent(n int) {
	end := p.start.AddDate(2, 0, 0)
	month := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		team := teams[i%len(teams)]
		kind := experiments.Kinds[(i+2)%len(experiments.Kinds)]
		topic := pick(p, subject[team])
		e := &expPlan{
			team: team, owner: pick(p, owners[team]), kind: kind, topic: topic, title: fmt.Sprintf(kindTitle[kind], topic),
			hypothesis: fmt.Sprintf("Changing the %s moves %s's main metric", topic, team),
			metric:     "conversion", crit: fmt.Sprintf("+%d%% relative", 2+p.r.IntN(8)), tags: []string{team, topic},
			visibility: "org", registered: end.AddDate(0, 0, -45+i),
		}
		e.started = e.registered.AddDate(0, 0, 5)
		e.ended = month.Add(end.Sub(month) * time.Duration(i+1) / time.Duration(n+1))
		p.decideEnd(e)
		if e.abandonReason != "" {
			e.abandonReason = ""
			e.outcome, e.decision, e.summary = experiments.OutcomeFailed, "iterate", "Missed its criterion"
			e.reasons = []string{pick(p, reasons)}
		}
		p.addExperiment(e)
	}
}

// decideEnd makes up how e ends: succeeded, failed, inconclusive or
// abandoned, with learnings, and now and then a revised outcome.
func (p *plan) decideEnd(e *expPlan) {
	switch roll := p.r.IntN(100); {
	case roll < 10:
		e.abandonReason = "deprioritised for " + pick(p, teams) + " work"
		return
	case roll < 42:
		e.outcome, e.decision, e.summary = experiments.OutcomeSucceeded, pick(p, []string{"persevere", "scale"}), "Met its criterion"
	case roll < 82:
		e.outcome, e.decision, e.summary = experiments.OutcomeFailed, pick(p, []string{"pivot", "stop", "iterate"}), "Missed its criterion"
		e.reasons = []string{pick(p, reasons)}
	default:
		e.outcome, e.decision, e.summary = experiments.OutcomeInconclusive, "iterate", "Too little traffic to tell"
	}
	e.observed = fmt.Sprintf("%+.1f%%", p.r.Float64()*12-4)
	// Most experiments record what they taught; a few failures do not,
	// which the openness of a team shows.
	if p.r.IntN(10) < 8 {
		e.learnings = []experiments.NewLearning{p.learning(e)}
	}
	if p.r.IntN(6) == 0 {
		l := p.learning(e)
		e.late = &l
	}
	if p.r.IntN(12) == 0 {
		e.revisedOutcome = experiments.OutcomeInconclusive
		if e.outcome == experiments.OutcomeInconclusive {
			e.revisedOutcome = experiments.OutcomeFailed
		}
		e.revisedWhy = "a tracking bug inflated the first figures"
	}
}

func (p *plan) learning(e *expPlan) experiments.NewLearning {
	a, b := pick(p, skills), pick(p, skills)
	ss := []string{a}
	if b != a && p.r.IntN(2) == 0 {
		ss = append(ss, b)
	}
	return experiments.NewLearning{Text: fmt.Sprintf("What the %s taught us about %s", e.topic, ss[0]), Skills: ss}
}

// earlierEnded returns a random experiment of team that ended before t,
// or -1.
func (p *plan) earlierEnded(team string, t time.Time) int {
	var ok []int
	for _, e := range p.exps {
		if e.team == team && !e.ended.IsZero() && e.ended.Before(t) {
			ok = append(ok, e.idx)
		}
	}
	if len(ok) == 0 {
		return -1
	}
	return pick(p, ok)
}

// addEverydayInnovations adds n innovations, each crediting one to three
// ended experiments of the everyday history, some of them failures, and
// a few crediting another one later (and one taking that credit back).
func (p *plan) addEverydayInnovations(n int) {
	var ended []int
	for _, e := range p.exps {
		if !e.ended.IsZero() && len(e.learnings) > 0 {
			ended = append(ended, e.idx)
		}
	}
	for i := range n {
		var from []int
		for range 1 + p.r.IntN(3) {
			if x := pick(p, ended); !slices.Contains(from, x) {
				from = append(from, x)
			}
		}
		last := p.exps[from[0]].ended
		for _, x := range from {
			last = maxTime(last, p.exps[x].ended)
		}
		team := p.exps[from[0]].team
		inn := &innPlan{
			team: team, title: shipped[team][(i/len(teams))%len(shipped[team])],
			description: "Built on what the credited experiments found.", launched: p.after(last, 15, 90),
			informedBy: from, laterLink: -1, unlinkAfter: -1,
		}
		if i%3 == 0 {
			inn.laterLink = pick(p, ended)
			if slices.Contains(from, inn.laterLink) {
				inn.laterLink = -1
			}
		}
		if i == 0 {
			inn.unlinkAfter = inn.laterLink
		}
		p.addInnovation(inn)
	}
}
