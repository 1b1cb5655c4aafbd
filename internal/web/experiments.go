package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

type experimentsData struct {
	Form        *form
	Statuses    []option
	Outcomes    []option
	Items       []experiments.Experiment
	Next        string
	First       string
	ExportQuery string
	Filtered    bool
}

// experimentFilter reads the list's filters from the query; unknown
// statuses and outcomes are dropped rather than refused, since they come
// from a form's own choices.
func experimentFilter(q url.Values) readmodel.ExperimentFilter {
	f := readmodel.ExperimentFilter{Team: q.Get("team"), Tag: q.Get("tag"), Q: q.Get("q"), Cursor: q.Get("cursor")}
	if s := q.Get("status"); slices.ContainsFunc(statusOptions, func(o option) bool { return o.Value == s }) {
		f.Status = s
	}
	if o := q.Get("outcome"); slices.Contains(experiments.Outcomes, o) {
		f.Outcome = o
	}
	return f
}

func (f *form) filterQuery(extra ...string) string {
	return f.queryOf([]string{"q", "team", "status", "outcome", "tag"}, extra...)
}

func (h *Handler) handleExperiments(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	q := r.URL.Query()
	filter := experimentFilter(q)
	filter.Limit = 50
	list, err := h.queries.ListExperiments(r.Context(), h.viewer(r), filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(q)
	d := experimentsData{Form: f, Statuses: statusOptions, Outcomes: outcomeOptions, Items: list.Items,
		ExportQuery: f.filterQuery(), Filtered: f.filterQuery() != ""}
	if list.NextCursor != "" {
		d.Next = "/experiments?" + f.filterQuery("cursor", list.NextCursor)
	}
	if filter.Cursor != "" {
		d.First = "/experiments?" + f.filterQuery()
	}
	h.render(w, r, http.StatusOK, "experiments", page{Title: "Experiments", Nav: "experiments", Live: true, Position: pos, Data: d})
}

// historyRow is one event of an aggregate's history, in words.
type historyRow struct {
	readmodel.HistoryEntry
	Label   string
	Details []detail
}

type detail struct {
	Key, Value string
}

// eventLabels names each event for people.
var eventLabels = map[string]string{
	events.ExperimentRegistered: "Registered", events.ExperimentRevised: "Revised",
	events.ExperimentStarted: "Started", events.ExperimentConcluded: "Concluded",
	events.ExperimentOutcomeRevised: "Outcome revised", events.ExperimentAbandoned: "Abandoned",
	events.ExperimentLearningRecorded: "Learning recorded", events.InnovationRecorded: "Innovation recorded",
	events.InnovationLinked: "Experiment linked", events.InnovationUnlinked: "Experiment unlinked",
}

// historyRows renders every field of every event, so that the page shows
// the full record, in the order the JSON has them sorted by key.
func historyRows(hs []readmodel.HistoryEntry) []historyRow {
	out := make([]historyRow, 0, len(hs))
	for _, e := range hs {
		row := historyRow{HistoryEntry: e, Label: e.Type}
		if name, _, err := events.ParseType(e.Type); err == nil && eventLabels[name] != "" {
			row.Label = eventLabels[name]
		}
		var m map[string]any
		if json.Unmarshal(e.Data, &m) == nil {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if v := detailValue(m[k]); v != "" {
					row.Details = append(row.Details, detail{Key: strings.ReplaceAll(k, "_", " "), Value: v})
				}
			}
		}
		out = append(out, row)
	}
	return out
}

func detailValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			if s := detailValue(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		b, _ := json.Marshal(v)
		if string(b) == "{}" {
			return ""
		}
		return string(b)
	case float64:
		return trimFloat(v, 2)
	}
	return fmt.Sprint(v)
}

// action is a command the experiment's status allows, as a link to its
// form.
type action struct {
	Href, Label string
	Primary     bool
}

type ref struct {
	ID, Title string
}

type experimentData struct {
	X        experiments.Experiment
	BuildsOn []ref
	Lineage  readmodel.ExperimentLineage
	Graph    graph
	History  []historyRow
	Actions  []action
	// CanWrite offers the links to commands on the experiment.
	CanWrite bool
	// Start is set when the experiment can start with one click; StartKey
	// makes a double click start it once.
	Start    bool
	StartKey string
	// Stories are the stories told about the experiment.
	Stories storySection
}

func (h *Handler) handleExperiment(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	id, err := pathID(r)
	v := h.viewer(r)
	var x experiments.Experiment
	if err == nil {
		x, err = h.queries.GetExperiment(r.Context(), v, id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := experimentData{X: x}
	for _, up := range x.BuildsOn {
		title := up
		if e, err := h.queries.GetExperiment(r.Context(), v, up); err == nil {
			title = e.Title
		}
		d.BuildsOn = append(d.BuildsOn, ref{ID: up, Title: title})
	}
	if d.Lineage, err = h.queries.ExperimentLineage(r.Context(), v, id); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Graph = experimentGraph(d.Lineage)
	hist, err := h.queries.History(r.Context(), v, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.History = historyRows(hist)
	p := h.principal(r)
	d.CanWrite = p.CanWriteExperiment(x.Team)
	d.Start, d.Actions = experimentActions(p, x)
	if d.Stories, err = h.experimentStories(r, p, x); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Start {
		d.StartKey = newKey()
	}
	h.render(w, r, http.StatusOK, "experiment", page{Title: x.Title, Nav: "experiments", Live: true, Position: pos, Data: d})
}

// experimentActions are the commands x's status allows and p may send,
// and whether it can start with one click.
func experimentActions(p *experiments.Principal, x experiments.Experiment) (start bool, out []action) {
	if p.CanWriteExperiment(x.Team) {
		start = x.Allows(experiments.CommandStart)
		for _, c := range experimentCommands {
			if c.label != "" && x.Allows(c.cmd) {
				out = append(out, action{"/experiments/" + x.ID + "/" + c.path, c.label, c.primary})
			}
		}
	}
	if x.CanInform() && writesInnovations(p) {
		out = append(out, action{"/innovations/new?informed_by=" + x.ID, "Record an innovation it informed", false})
	}
	if writesExperiments(p) {
		out = append(out, action{"/experiments/new?builds_on=" + x.ID, "Register a follow-up experiment", false})
	}
	return start, out
}
