package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// learningsLimit is how many learnings the library page lists; a search
// narrows a longer list.
const learningsLimit = 100

type learningsData struct {
	Form     *form
	Outcomes []option
	Items    []learningItem
	// Limited says the list was cut at learningsLimit.
	Limited bool
	// Filtered says any filter is set.
	Filtered bool
	// FromFailures is set when only the lessons of failures are listed;
	// FailuresHref and AllHref switch between them and every outcome,
	// keeping the other filters.
	FromFailures          bool
	FailuresHref, AllHref string
}

// learningItem is one learning of the library, with what it came from.
type learningItem struct {
	readmodel.LearningResult
	// Stories are the failure stories told about the learning's
	// experiment, which the page lists under it. The read models hold no
	// stories yet: until they do this stays empty, and filling it here is
	// all the page needs.
	Stories []ref
}

// learningOutcomeOptions are the choices of the library's outcome filter.
var learningOutcomeOptions = options(readmodel.LearningOutcomes)

// learningFilter reads the library's filters from the query; an unknown
// outcome is dropped rather than refused, since it comes from the form's
// own choices.
func learningFilter(q url.Values) readmodel.LearningFilter {
	f := readmodel.LearningFilter{Q: q.Get("q"), Skill: q.Get("skill"), Team: q.Get("team"), Limit: learningsLimit}
	if o := q.Get("outcome"); slices.Contains(readmodel.LearningOutcomes, o) {
		f.Outcome = o
	}
	return f
}

// learningsQuery is the page's address for f with outcome set as given.
func learningsQuery(f readmodel.LearningFilter, outcome string) string {
	v := url.Values{}
	for k, s := range map[string]string{"q": f.Q, "skill": f.Skill, "team": f.Team, "outcome": outcome} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return "/learnings"
	}
	return "/learnings?" + v.Encode()
}

// handleLearnings is the learnings library: every learning the viewer
// may see, searched by text through the index, by skill, by team and by
// the outcome of the experiment that taught it, newest first or best
// match first.
func (h *Handler) handleLearnings(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	q := r.URL.Query()
	filter := learningFilter(q)
	got, err := h.queries.Learnings(r.Context(), h.viewer(r), filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(url.Values{"q": {filter.Q}, "skill": {filter.Skill}, "team": {filter.Team}, "outcome": {filter.Outcome}})
	d := learningsData{Form: f, Outcomes: learningOutcomeOptions, Limited: len(got) == learningsLimit,
		Filtered:     learningsQuery(filter, filter.Outcome) != "/learnings",
		FromFailures: filter.Outcome == experiments.OutcomeFailed,
		FailuresHref: learningsQuery(filter, experiments.OutcomeFailed), AllHref: learningsQuery(filter, "")}
	for _, l := range got {
		d.Items = append(d.Items, learningItem{LearningResult: l})
	}
	h.render(w, r, http.StatusOK, "learnings", page{Title: "Learnings library", Nav: "learnings", Live: true, Position: pos, Data: d})
}
