package web

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/failforward/failforward/internal/readmodel"
)

// skillsPeriods is how many periods the skills page shows, newest first.
const skillsPeriods = 12

type skillsData struct {
	Team    string
	Bucket  string
	Teams   []string
	Buckets []option
	// Periods are newest first, each with a section per team.
	Periods []skillsPeriod
}

type skillsPeriod struct {
	Name  string
	Teams []skillsTeam
}

type skillsTeam struct {
	Team   string
	Skills []skillLink
}

// skillLink is a skill with the address of the learnings that name it.
type skillLink struct {
	readmodel.SkillSplit
	Learnings string
}

// handleSkills shows the skills each team named in learnings, per period,
// split by whether the learning came from a failure or a success, with
// the skills that first appeared after a failure marked.
func (h *Handler) handleSkills(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	q := r.URL.Query()
	d := skillsData{Team: q.Get("team"), Bucket: q.Get("bucket"),
		Buckets: []option{{readmodel.BucketMonth, "Month"}, {readmodel.BucketQuarter, "Quarter"}}}
	if d.Bucket != readmodel.BucketQuarter {
		d.Bucket = readmodel.BucketMonth
	}
	rep, err := h.queries.Skills(r.Context(), h.viewer(r), readmodel.OutcomeFilter{Bucket: d.Bucket})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	teams := map[string]bool{}
	byPeriod := map[string][]skillsTeam{}
	for _, p := range rep.Periods {
		if p.Team == readmodel.AllTeams {
			continue
		}
		teams[p.Team] = true
		if d.Team == "" || p.Team == d.Team {
			byPeriod[p.Period] = append(byPeriod[p.Period], skillsTeam{Team: p.Team, Skills: skillLinks(p)})
		}
	}
	if d.Team != "" {
		teams[d.Team] = true
	}
	d.Teams = slices.Sorted(maps.Keys(teams))
	periods := slices.Sorted(maps.Keys(byPeriod))
	slices.Reverse(periods)
	for _, p := range periods[:min(len(periods), skillsPeriods)] {
		d.Periods = append(d.Periods, skillsPeriod{Name: periodName(p, d.Bucket), Teams: byPeriod[p]})
	}
	h.render(w, r, http.StatusOK, "skills", page{Title: "Skills", Nav: "skills", Live: true, Position: pos, Data: d})
}

// skillLinks links each skill of p to the learnings library, filtered by
// the skill and the team.
func skillLinks(p readmodel.SkillPeriod) []skillLink {
	out := make([]skillLink, 0, len(p.Skills))
	for _, s := range p.Skills {
		v := url.Values{"skill": {cmp.Or(s.Skill, s.Key)}, "team": {p.Team}}
		out = append(out, skillLink{SkillSplit: s, Learnings: "/learnings?" + v.Encode()})
	}
	return out
}
