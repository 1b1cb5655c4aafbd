package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// The failure stories pages: the feed, one story with its "this helped
// me" button, the publish and revise forms, and the stories about an
// experiment on its page. What a page offers follows Story.Permits, the
// rule the service refuses by.

// writesStories reports whether p may publish a story for some team.
func writesStories(p *experiments.Principal) bool {
	return p == nil || p.Role == experiments.RoleAdmin || p.Role == experiments.RoleLead ||
		slices.ContainsFunc(p.Teams, p.CanPublishStory)
}

// actorOf is the actor p's commands are recorded with, as auth.Meta
// names it.
func actorOf(r *http.Request, p *experiments.Principal) string {
	m, _ := auth.Meta(r, p) // the actor is set before any header is checked
	return m.Actor
}

// toldAbout reports whether x is a failure a story can be told of: it
// failed, or it was abandoned.
func toldAbout(x experiments.Experiment) bool {
	return x.Outcome == experiments.OutcomeFailed || x.Status == experiments.StatusAbandoned
}

type storiesData struct {
	Form     *form
	Items    []experiments.Story
	Next     string
	Filtered bool
	// CanPublish offers the publish form.
	CanPublish bool
}

// storyFilter reads the feed's filters from the query.
func storyFilter(q url.Values) readmodel.StoryFilter {
	return readmodel.StoryFilter{Team: strings.TrimSpace(q.Get("team")), ByLeads: q.Get("by_leads") == "true",
		Skill: strings.TrimSpace(q.Get("skill")), Cursor: q.Get("cursor")}
}

func (f *form) storyQuery(extra ...string) string {
	return f.queryOf([]string{"team", "by_leads", "skill"}, extra...)
}

// queryOf is the query string of a list page: the form's non-empty
// values of keys, then extra's key and value pairs.
func (f *form) queryOf(keys []string, extra ...string) string {
	v := url.Values{}
	for _, k := range keys {
		if s := f.Value(k); s != "" {
			v.Set(k, s)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func (h *Handler) handleStories(w http.ResponseWriter, r *http.Request) {
	pos := h.position(r.Context())
	q := r.URL.Query()
	filter := storyFilter(q)
	filter.Limit = 50
	list, err := h.queries.Stories(r.Context(), h.viewer(r), filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(q)
	d := storiesData{Form: f, Items: list.Items, Filtered: f.storyQuery() != "", CanPublish: writesStories(h.principal(r))}
	if list.NextCursor != "" {
		d.Next = "/stories?" + f.storyQuery("cursor", list.NextCursor)
	}
	h.render(w, r, http.StatusOK, "stories", page{Title: "Failure stories", Nav: "stories", Live: true, Position: pos, Data: d})
}

type storyData struct {
	S experiments.Story
	// Revisions are the story's earlier versions the reader may see,
	// oldest first.
	Revisions []readmodel.StoryVersion
	// Linked are the experiments the story is about.
	Linked []ref
	// Helped is set when the reader has marked the story already.
	Helped bool
	// CanHelp, CanRevise and CanRetract offer what Story.Permits allows.
	CanHelp, CanRevise, CanRetract bool
	// Form is the retraction form; HelpKey makes a double click mark once.
	Form    *form
	HelpKey string
}

func (h *Handler) handleStory(w http.ResponseWriter, r *http.Request) {
	h.showStory(w, r, http.StatusOK, withKey(newForm(nil)))
}

func (h *Handler) showStory(w http.ResponseWriter, r *http.Request, status int, f *form) {
	pos := h.position(r.Context())
	id, err := pathID(r)
	v := h.viewer(r)
	var detail readmodel.StoryDetail
	if err == nil {
		detail, err = h.queries.StoryWithRevisions(r.Context(), v, id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s := detail.Story
	p := h.principal(r)
	actor := actorOf(r, p)
	d := storyData{S: s, Revisions: detail.Revisions, Form: f, HelpKey: newKey()}
	if d.Helped, err = h.queries.StoryHelped(r.Context(), id, actor); err != nil {
		h.fail(w, r, err)
		return
	}
	d.CanHelp = !d.Helped && s.Permits(p, actor, experiments.StoryHelped) == nil
	d.CanRevise = s.Permits(p, actor, experiments.StoryRevise) == nil
	d.CanRetract = s.Permits(p, actor, experiments.StoryRetract) == nil
	d.Linked = h.experimentRefs(r, v, s.ExperimentIDs)
	h.render(w, r, status, "story", page{Title: s.Title, Nav: "stories", Live: true, Position: pos, Data: d})
}

// experimentRefs names the experiments ids, among those v may see.
func (h *Handler) experimentRefs(r *http.Request, v readmodel.Viewer, ids []string) []ref {
	var out []ref
	for _, id := range ids {
		if x, err := h.queries.GetExperiment(r.Context(), v, id); err == nil {
			out = append(out, ref{ID: x.ID, Title: x.Title})
		}
	}
	return out
}

func (h *Handler) postStoryHelped(w http.ResponseWriter, r *http.Request) {
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		var done bool
		done, status = h.submit(w, r, f, nil, func() (string, uint64, error) {
			s, err := h.svc.MarkStoryHelped(r.Context(), f.meta, r.PathValue("id"))
			return "/stories/" + s.ID, s.Position, err
		})
		if done {
			return
		}
	}
	h.showStory(w, r, status, withKey(f))
}

func (h *Handler) postRetractStory(w http.ResponseWriter, r *http.Request) {
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		var done bool
		done, status = h.submit(w, r, f, []string{"reason"}, func() (string, uint64, error) {
			s, err := h.svc.RetractStory(r.Context(), f.meta, r.PathValue("id"), experiments.RetractStory{Reason: f.Value("reason")})
			return "/stories", s.Position, err
		})
		if done {
			return
		}
	}
	h.showStory(w, r, status, withKey(f))
}

// storySection is the experiment page's "stories about this failure".
type storySection struct {
	Items []experiments.Story
	// Tell links to the publish form about the experiment, for a failure
	// and a reader who may publish.
	Tell string
	// Shown is set when the section has anything to show.
	Shown bool
}

// experimentStories returns the stories about x that r's viewer may see.
func (h *Handler) experimentStories(r *http.Request, p *experiments.Principal, x experiments.Experiment) (storySection, error) {
	page, err := h.queries.Stories(r.Context(), h.viewer(r), readmodel.StoryFilter{ExperimentID: x.ID})
	if err != nil {
		return storySection{}, err
	}
	s := storySection{Items: page.Items}
	if toldAbout(x) && writesStories(p) {
		s.Tell = "/stories/new?experiment_id=" + x.ID
	}
	s.Shown = s.Tell != "" || len(s.Items) > 0
	return s, nil
}
