package demo

import "github.com/failforward/failforward/internal/experiments"

// chapter is one experiment of a story.
type chapter struct {
	title, kind, hypothesis, metric, crit string
	outcome, decision, summary, observed  string
	reasons                               []string
	learning                              string
	skills                                []string
	days                                  int // how long it ran
	confidential                          bool
}

// story is a chain of follow-ups, each building on the one before,
// that starts with a failure and ends in an innovation: the history the
// lineage pages and the failure yield exist to show.
type story struct {
	team, owner      string
	startDay         int
	tags             []string
	chapters         []chapter
	innovation, desc string
}

var stories = []story{
	{team: "growth", owner: "amara", startDay: 40, tags: []string{"pricing", "checkout"},
		innovation: "Annual plan at the monthly price for the first quarter",
		desc:       "New subscribers can take the annual plan at the monthly price for three months.",
		chapters: []chapter{
			{title: "Annual plan nudge at checkout", kind: "ab_test", hypothesis: "A reminder of the annual saving at checkout lifts the share of annual plans",
				metric: "share of annual plans", crit: "+2 points over two weeks", outcome: "failed", decision: "pivot",
				summary: "No lift: +0.3 points, inside the noise", observed: "+0.3 points (95% CI -0.4 to +1.0)", reasons: []string{"price, not timing, was the blocker"},
				learning: "People know about the saving; the up-front price is what holds them back", skills: []string{"pricing", "experiment design"}, days: 21},
			{title: "Interviews with monthly subscribers about annual plans", kind: "interview", hypothesis: "Monthly subscribers would commit for a year if the first payment were smaller",
				metric: "interviewees who would switch", crit: "at least 6 of 12", outcome: "succeeded", decision: "iterate",
				summary: "8 of 12 would switch at a lower first payment", observed: "8 of 12",
				learning: "A smaller first payment matters more than the yearly total", skills: []string{"interviewing", "pricing"}, days: 14},
			{title: "Fake door: annual plan, first quarter at the monthly price", kind: "fake_door", hypothesis: "Visitors click an annual offer with a monthly-priced first quarter",
				metric: "click-through on the offer", crit: "> 4% of checkout visitors", outcome: "succeeded", decision: "persevere",
				summary: "6.1% clicked the offer", observed: "6.1%",
				learning: "The offer is understood without a long explanation", skills: []string{"copywriting"}, days: 10},
			{title: "Pilot of the introductory annual price in two markets", kind: "pilot", hypothesis: "The introductory price lifts annual plans without hurting revenue per subscriber",
				metric: "annual share and revenue per subscriber", crit: "+3 points annual, revenue within 2%", outcome: "succeeded", decision: "scale",
				summary: "+4.2 points annual, revenue -0.8%", observed: "+4.2 points; -0.8% revenue",
				learning: "Churn in the first quarter is the figure to watch after launch", skills: []string{"analytics", "pricing"}, days: 45},
		}},
	{team: "onboarding", owner: "bo", startDay: 90, tags: []string{"activation"},
		innovation: "Sample project on first sign-in",
		desc:       "Every new workspace opens with a sample project that walks through the first three tasks.",
		chapters: []chapter{
			{title: "Product tour video on the welcome screen", kind: "ab_test", hypothesis: "A two-minute tour video raises day-7 activation",
				metric: "day-7 activation", crit: "+5% relative", outcome: "failed", decision: "pivot",
				summary: "Activation flat; 11% watched the video", observed: "-0.5% relative", reasons: []string{"nobody watches a video before trying"},
				learning: "New users want to do something, not watch something", skills: []string{"onboarding", "ux"}, days: 28},
			{title: "Checklist of first tasks", kind: "prototype", hypothesis: "A checklist of three first tasks gets people to their first result faster",
				metric: "time to first result", crit: "-20%", outcome: "inconclusive", decision: "iterate",
				summary: "Faster for those who used it, but few did", observed: "-18% for users; 30% used it",
				learning: "A checklist over an empty workspace still leaves people staring at nothing", skills: []string{"ux"}, days: 21},
			{title: "Prefilled sample project, prototype", kind: "prototype", hypothesis: "A sample project to edit beats an empty workspace",
				metric: "first-session tasks done", crit: "2 or more for half of users", outcome: "succeeded", decision: "persevere",
				summary: "61% did two tasks or more", observed: "61%",
				learning: "Editing something that exists is the easiest first step", skills: []string{"onboarding", "prototyping"}, days: 14},
			{title: "Sample project for all new workspaces, pilot", kind: "pilot", hypothesis: "The sample project raises day-7 activation at scale",
				metric: "day-7 activation", crit: "+8% relative", outcome: "succeeded", decision: "scale",
				summary: "+12% relative activation", observed: "+12%",
				learning: "Teams delete the sample once they start their own work; that is fine", skills: []string{"analytics"}, days: 30},
		}},
	{team: "search", owner: "chen", startDay: 150, tags: []string{"relevance"},
		innovation: "Synonyms from support tickets",
		desc:       "Search expands queries with synonyms mined from the words customers use in support tickets.",
		chapters: []chapter{
			{title: "Learning-to-rank model for search results", kind: "ab_test", hypothesis: "A learned ranking raises clicks on the first three results",
				metric: "clicks in the top three", crit: "+5%", outcome: "failed", decision: "stop",
				summary: "No change in clicks; many queries found nothing at all", observed: "+0.4%", reasons: []string{"zero-result queries, not ranking, were the problem"},
				learning: "A third of failed searches return nothing: ranking cannot fix recall", skills: []string{"search", "analytics"}, days: 35},
			{title: "Zero-result queries, read by hand", kind: "other", hypothesis: "Zero-result queries use words our catalogue does not",
				metric: "queries explained by vocabulary", crit: "more than half", outcome: "succeeded", decision: "iterate",
				summary: "64% used customers' words for things we name differently", observed: "64% of 500",
				learning: "Customers say 'invoice' where we say 'billing document'", skills: []string{"research", "search"}, days: 10},
			{title: "Synonym list from support tickets, prototype", kind: "prototype", hypothesis: "Synonyms mined from tickets cut zero-result searches",
				metric: "zero-result rate", crit: "-30%", outcome: "succeeded", decision: "persevere",
				summary: "Zero-result rate down 41%", observed: "-41%",
				learning: "Ticket language is the best source of synonyms we have", skills: []string{"data engineering", "search"}, days: 21, confidential: true},
			{title: "Synonym expansion for all searches", kind: "ab_test", hypothesis: "Synonym expansion raises search conversion",
				metric: "searches ending in an order", crit: "+3%", outcome: "succeeded", decision: "scale",
				summary: "+5.5% conversion from search", observed: "+5.5%",
				learning: "Keep a person reviewing new synonyms: a few were wrong and embarrassing", skills: []string{"search"}, days: 28},
		}},
	{team: "payments", owner: "dara", startDay: 300, tags: []string{"checkout", "retries"},
		innovation: "Smart retry of declined card payments",
		desc:       "Declined renewals are retried at the hour the customer's bank most often approves.",
		chapters: []chapter{
			{title: "Dunning emails with a pay-now link", kind: "ab_test", hypothesis: "A direct pay-now link recovers more failed renewals",
				metric: "recovered renewals", crit: "+10% relative", outcome: "failed", decision: "pivot",
				summary: "Recovery flat: most failures were soft declines that needed no action", observed: "+1%", reasons: []string{"soft declines recover on their own if retried well"},
				learning: "Most failed renewals are soft declines: the customer never needs to act", skills: []string{"payments", "analytics"}, days: 30},
			{title: "Decline codes by bank and hour, analysis", kind: "other", hypothesis: "Approval of a retried payment depends on when it is retried",
				metric: "variance explained by retry hour", crit: "a clear pattern per bank", outcome: "succeeded", decision: "iterate",
				summary: "Retries at the bank's batch hour succeed twice as often", observed: "2.1x",
				learning: "Banks approve retries best just after their nightly batch", skills: []string{"data engineering", "payments"}, days: 14},
			{title: "Retry schedule per bank, pilot", kind: "pilot", hypothesis: "Retrying at each bank's best hour recovers more renewals",
				metric: "recovered renewals", crit: "+15% relative", outcome: "succeeded", decision: "scale",
				summary: "+22% recovered renewals", observed: "+22%",
				learning: "Cap retries at four: beyond that banks start to flag us", skills: []string{"payments"}, days: 40},
		}},
}

// addStory adds s's chapters, each registered after the previous one
// concluded and building on it, and the innovation the last one made
// possible. The innovation credits the last chapter only: the failure the
// story started from gets its credit through the chain of builds_on.
func (p *plan) addStory(s story) {
	at := p.day(s.startDay)
	var prev = -1
	for _, c := range s.chapters {
		e := &expPlan{
			team: s.team, owner: s.owner, title: c.title, topic: s.tags[0], kind: c.kind, hypothesis: c.hypothesis, metric: c.metric,
			crit: c.crit, tags: s.tags, visibility: "org", registered: at,
			outcome: c.outcome, decision: c.decision, summary: c.summary, observed: c.observed, reasons: c.reasons,
			learnings: []experiments.NewLearning{{Text: c.learning, Skills: c.skills}},
		}
		if c.confidential {
			e.visibility = "team"
		}
		if prev >= 0 {
			e.buildsOn = []int{prev}
		}
		e.started = p.after(at, 2, 6)
		e.ended = e.started.AddDate(0, 0, c.days)
		p.addExperiment(e)
		prev = e.idx
		at = p.after(e.ended, 4, 12)
	}
	p.addInnovation(&innPlan{
		team: s.team, title: s.innovation, description: s.desc, launched: p.after(p.exps[prev].ended, 20, 45),
		informedBy: []int{prev}, laterLink: -1, unlinkAfter: -1,
	})
}
