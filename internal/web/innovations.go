package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

type innovationsData struct {
	Team  string
	Items []experiments.Innovation
	// CanRecord offers the form to record an innovation.
	CanRecord bool
}

func (h *Handler) handleInnovations(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	team := r.URL.Query().Get("team")
	items, err := h.queries.ListInnovations(r.Context(), h.viewer(r), team)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "innovations", page{Title: "Innovations", Nav: "innovations", Live: true, Position: pos,
		Data: innovationsData{Team: team, Items: items, CanRecord: writesInnovations(h.principal(r))}})
}

type linkView struct {
	experiments.Link
	Title, Team, Outcome string
	Failed               bool
}

type innovationData struct {
	I       experiments.Innovation
	Links   []linkView
	Lineage readmodel.InnovationLineage
	Graph   graph
	History []historyRow
	Failed  int
	// CanWrite offers the link form and the unlink buttons.
	CanWrite bool
	// Form is the link form; Candidates the experiments it offers.
	Form       *form
	Candidates []option
}

func (h *Handler) handleInnovation(w http.ResponseWriter, r *http.Request) {
	h.showInnovation(w, r, http.StatusOK, withKey(newForm(nil)))
}

func (h *Handler) showInnovation(w http.ResponseWriter, r *http.Request, status int, f *form) {
	pos := h.position(r.Context())
	id, err := pathID(r)
	v := h.viewer(r)
	var lin readmodel.InnovationLineage
	if err == nil {
		lin, err = h.queries.InnovationLineage(r.Context(), v, id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := innovationData{I: lin.Innovation, Lineage: lin, Graph: innovationGraph(lin), Form: f,
		CanWrite: h.principal(r).CanWriteInnovation(lin.Innovation.Team)}
	nodes := map[string]readmodel.LineageNode{}
	for _, n := range lin.Upstream {
		nodes[n.ID] = n
		if n.Failed {
			d.Failed++
		}
	}
	linked := map[string]bool{}
	for _, l := range lin.Innovation.InformedBy {
		n := nodes[l.ExperimentID]
		d.Links = append(d.Links, linkView{Link: l, Title: cmp.Or(n.Title, l.ExperimentID), Team: n.Team, Outcome: n.Outcome, Failed: n.Failed})
		linked[l.ExperimentID] = true
	}
	hist, err := h.queries.History(r.Context(), v, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.History = historyRows(hist)
	var cands []experiments.Experiment
	if d.CanWrite {
		if cands, err = h.linkCandidates(r, nil); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	for _, c := range cands {
		if !linked[c.ID] {
			d.Candidates = append(d.Candidates, option{Value: c.ID, Label: candidateLabel(c)})
		}
	}
	h.render(w, r, status, "innovation", page{Title: lin.Innovation.Title, Nav: "innovations", Live: true, Position: pos, Data: d})
}

func candidateLabel(x experiments.Experiment) string {
	state := label(x.Status)
	if x.Outcome != "" {
		state = label(x.Outcome)
	}
	return x.Title + " (" + x.Team + ", " + strings.ToLower(state) + ")"
}

// linkCandidates are the experiments an innovation can be linked to:
// those that have ended, the most recent first, after the ones named in
// want (such as the experiment a user came from).
func (h *Handler) linkCandidates(r *http.Request, want []string) ([]experiments.Experiment, error) {
	v := h.viewer(r)
	var out []experiments.Experiment
	seen := map[string]bool{}
	for _, id := range want {
		if seen[id] || !experiments.ValidID(id) {
			continue
		}
		if x, err := h.queries.GetExperiment(r.Context(), v, id); err == nil {
			out = append(out, x)
			seen[id] = true
		}
	}
	var recent []experiments.Experiment
	for _, st := range experiments.EndedStatuses {
		page, err := h.queries.ListExperiments(r.Context(), v, readmodel.ExperimentFilter{Status: st, Limit: 100})
		if err != nil {
			return nil, err
		}
		recent = append(recent, page.Items...)
	}
	slices.SortFunc(recent, func(a, b experiments.Experiment) int {
		return cmp.Or(b.RegisteredAt.Compare(a.RegisteredAt), cmp.Compare(b.ID, a.ID))
	})
	for _, x := range recent {
		if !seen[x.ID] {
			out = append(out, x)
			seen[x.ID] = true
		}
	}
	return out, nil
}

type recordInnovationData struct {
	Form       *form
	Candidates []experiments.Experiment
}

var innovationFields = []string{"team", "title", "description", "launched_at", "informed_by", "note"}

func (h *Handler) showRecordInnovation(w http.ResponseWriter, r *http.Request) {
	p := h.principal(r)
	if !writesInnovations(p) {
		h.fail(w, r, notAllowed(p, "record innovations"))
		return
	}
	f := withKey(newForm(nil))
	q := r.URL.Query()
	want := q["informed_by"]
	for _, id := range want {
		f.Values.Add("informed_by", id)
	}
	cands, err := h.linkCandidates(r, want)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(want) > 0 && len(cands) > 0 && cands[0].ID == want[0] {
		f.Values.Set("team", cands[0].Team)
	}
	// An experiment the read models do not have yet (or that has not
	// ended) gets no checkbox; keep its id in the free field rather than
	// drop it, and let the command say what is wrong with it.
	listed := map[string]bool{}
	for _, c := range cands {
		listed[c.ID] = true
	}
	var other []string
	for _, id := range want {
		if !listed[id] {
			other = append(other, id)
		}
	}
	f.Values.Set("informed_by_other", strings.Join(other, ", "))
	if t := q.Get("team"); t != "" {
		f.Values.Set("team", t)
	}
	f.Values.Set("team", teamFor(p, f.Value("team"), p.CanWriteInnovation))
	h.render(w, r, http.StatusOK, "innovation_new", page{Title: "Record an innovation", Nav: "innovations",
		Data: recordInnovationData{Form: f, Candidates: cands}})
}

func (h *Handler) postRecordInnovation(w http.ResponseWriter, r *http.Request) {
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		cmd := experiments.RecordInnovation{
			Team: strings.TrimSpace(f.Value("team")), Title: f.Value("title"), Description: f.Value("description"),
			LaunchedAt: h.parseDate(f, "launched_at"),
		}
		ids := append(slices.Clone(f.Values["informed_by"]), splitList(f.Value("informed_by_other"), ", \n")...)
		for _, id := range ids {
			cmd.InformedBy = append(cmd.InformedBy, experiments.LinkInput{ExperimentID: strings.TrimSpace(id), Note: f.Value("note")})
		}
		var done bool
		done, status = h.submit(w, r, f, innovationFields, func() (string, uint64, error) {
			inn, err := h.svc.RecordInnovation(r.Context(), f.meta, cmd)
			return "/innovations/" + inn.ID, inn.Position, err
		})
		if done {
			return
		}
	}
	cands, err := h.linkCandidates(r, f.Values["informed_by"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	withKey(f)
	h.render(w, r, status, "innovation_new", page{Title: "Record an innovation", Nav: "innovations",
		Data: recordInnovationData{Form: f, Candidates: cands}})
}

func (h *Handler) postLink(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		inn, err := h.svc.LinkExperiment(r.Context(), f.meta, id, experiments.LinkExperiment{
			ExperimentID: f.Value("experiment_id"), Note: f.Value("note"),
		})
		if err == nil {
			h.redirectAfter(w, r, "/innovations/"+inn.ID, inn.Position)
			return
		}
		if experiments.ErrorCode(err) == experiments.CodeNotFound { // the innovation itself
			h.fail(w, r, err)
			return
		}
		status = h.failCommand(r, f, []string{"experiment_id", "note"}, err)
	}
	withKey(f)
	h.showInnovation(w, r, status, f)
}

func (h *Handler) postUnlink(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		var done bool
		done, status = h.submit(w, r, f, nil, func() (string, uint64, error) {
			inn, err := h.svc.UnlinkExperiment(r.Context(), f.meta, id, r.PathValue("experiment_id"))
			return "/innovations/" + inn.ID, inn.Position, err
		})
		if done {
			return
		}
	}
	// The unlink buttons carry no idempotency key: one key shared by
	// several buttons would make the second unlink answer as the first.
	f.Values.Del("experiment_id")
	h.showInnovation(w, r, status, withKey(f))
}
