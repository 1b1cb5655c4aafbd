package web

import (
	"math"
	"net/http"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

type backlogItem struct {
	readmodel.BacklogItem
	// WaitingDays is how long its learnings have waited for an innovation.
	WaitingDays int
}

type backlogData struct {
	Team  string
	Items []backlogItem
	// Next and First link to the next page of the backlog and back to
	// its first, where there are such pages.
	Next, First string
	// CanBuild and CanCredit offer the links to build on a failure and
	// to credit it in an innovation.
	CanBuild, CanCredit bool
	// Unlearned are failures that recorded no learning at all, newest
	// first, which Items cannot list: their lesson is still to be written.
	Unlearned []unlearnedItem
}

// backlogPageSize is how many failures a page of the backlog lists.
const backlogPageSize = 50

// unlearnedLimit bounds the failures with no learning the backlog lists.
const unlearnedLimit = 20

type unlearnedItem struct {
	experiments.Experiment
	// CanRecord offers the form to record what it taught.
	CanRecord bool
}

// handleBacklog lists the failed experiments whose learnings no
// innovation uses yet, oldest first: the longer a lesson waits, the more
// likely it is forgotten.
func (h *Handler) handleBacklog(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	f := newForm(r.URL.Query())
	team := f.Value("team")
	list, err := h.queries.FailureBacklog(r.Context(), h.viewer(r),
		readmodel.BacklogFilter{Unlinked: true, Team: team, Limit: backlogPageSize, Cursor: f.Value("cursor")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.principal(r)
	d := backlogData{Team: team, CanBuild: writesExperiments(p), CanCredit: writesInnovations(p)}
	if list.NextCursor != "" {
		d.Next = "/backlog?" + f.queryOf([]string{"team"}, "cursor", list.NextCursor)
	}
	if f.Value("cursor") != "" {
		d.First = "/backlog?" + f.queryOf([]string{"team"})
	}
	unlearned, err := h.queries.UnlearnedFailures(r.Context(), h.viewer(r), team, unlearnedLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, x := range unlearned {
		d.Unlearned = append(d.Unlearned, unlearnedItem{Experiment: x, CanRecord: p.CanWriteExperiment(x.Team)})
	}
	now := h.now()
	for _, it := range list.Items {
		d.Items = append(d.Items, backlogItem{BacklogItem: it, WaitingDays: int(math.Max(0, now.Sub(it.ConcludedAt).Hours()/24))})
	}
	h.render(w, r, http.StatusOK, "backlog", page{Title: "Learning backlog", Nav: "backlog", Live: true, Position: pos, Data: d})
}
