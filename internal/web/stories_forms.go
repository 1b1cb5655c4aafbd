package web

import (
	"net/http"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
)

// storyFields are the form fields of a story, in the order errors are
// shown.
var storyFields = []string{"team", "title", "tried", "went_wrong", "learned", "differently", "experiment_ids", "visibility"}

// storyVisibilities are the choices of a story's visibility; the empty one
// lets the service choose the widest the experiments allow.
var storyVisibilities = []option{
	{"", "As wide as its experiments allow"},
	{experiments.VisibilityOrg, "Whole organisation"},
	{experiments.VisibilityTeam, "Team only (with leads and admins)"},
}

type storyFormData struct {
	Form *form
	// Story is the story revised; nil on the publish form.
	Story        *experiments.Story
	Candidates   []experiments.Experiment
	Visibilities []option
}

func (h *Handler) showPublishStory(w http.ResponseWriter, r *http.Request) {
	p := h.principal(r)
	if !writesStories(p) {
		h.fail(w, r, notAllowed(p, "publish failure stories"))
		return
	}
	f := withKey(newForm(nil))
	want := r.URL.Query()["experiment_id"]
	cands, err := h.linkCandidates(r, want)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	team := ""
	for _, c := range cands {
		if len(want) > 0 && c.ID == want[0] {
			f.Values.Add("experiment_ids", c.ID)
			team = c.Team
		}
	}
	f.Values.Set("team", teamFor(p, team, p.CanPublishStory))
	h.renderStoryForm(w, r, http.StatusOK, storyFormData{Form: f, Candidates: cands})
}

func (h *Handler) postPublishStory(w http.ResponseWriter, r *http.Request) {
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		cmd := experiments.PublishStory{
			Team: strings.TrimSpace(f.Value("team")), Title: f.Value("title"), Tried: f.Value("tried"),
			WentWrong: f.Value("went_wrong"), Learned: f.Value("learned"), Differently: f.Value("differently"),
			ExperimentIDs: f.Values["experiment_ids"], Visibility: f.Value("visibility"),
		}
		var done bool
		done, status = h.submit(w, r, f, storyFields, func() (string, uint64, error) {
			s, err := h.svc.PublishStory(r.Context(), f.meta, cmd)
			return "/stories/" + s.ID, s.Position, err
		})
		if done {
			return
		}
	}
	cands, err := h.linkCandidates(r, f.Values["experiment_ids"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderStoryForm(w, r, status, storyFormData{Form: withKey(f), Candidates: cands})
}

// revisable loads the story of the request for its revise form, refused
// as Story.Permits refuses the revision.
func (h *Handler) revisable(r *http.Request) (experiments.Story, error) {
	id, err := pathID(r)
	if err != nil {
		return experiments.Story{}, err
	}
	s, err := h.queries.Story(r.Context(), h.viewer(r), id)
	if err != nil {
		return experiments.Story{}, err
	}
	p := h.principal(r)
	return s, s.Permits(p, actorOf(r, p), experiments.StoryRevise)
}

func (h *Handler) showReviseStory(w http.ResponseWriter, r *http.Request) {
	s, err := h.revisable(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := withKey(newForm(nil))
	for k, v := range map[string]string{"title": s.Title, "tried": s.Tried, "went_wrong": s.WentWrong,
		"learned": s.Learned, "differently": s.Differently, "visibility": s.Visibility} {
		f.Values.Set(k, v)
	}
	h.renderStoryForm(w, r, http.StatusOK, storyFormData{Form: f, Story: &s})
}

func (h *Handler) postReviseStory(w http.ResponseWriter, r *http.Request) {
	s, err := h.revisable(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		text := func(name string) *string { v := f.Value(name); return &v }
		cmd := experiments.ReviseStory{Title: text("title"), Tried: text("tried"), WentWrong: text("went_wrong"),
			Learned: text("learned"), Differently: text("differently")}
		if v := f.Value("visibility"); v != "" {
			cmd.Visibility = &v
		}
		var done bool
		done, status = h.submit(w, r, f, storyFields, func() (string, uint64, error) {
			out, err := h.svc.ReviseStory(r.Context(), f.meta, s.ID, cmd)
			return "/stories/" + s.ID, out.Position, err
		})
		if done {
			return
		}
	}
	h.renderStoryForm(w, r, status, storyFormData{Form: withKey(f), Story: &s})
}

func (h *Handler) renderStoryForm(w http.ResponseWriter, r *http.Request, status int, d storyFormData) {
	d.Visibilities = storyVisibilities
	title := "Tell the story of a failure"
	if d.Story != nil {
		title = "Revise " + d.Story.Title
		d.Visibilities = storyVisibilities[1:]
	}
	h.render(w, r, status, "story_new", page{Title: title, Nav: "stories", Data: d})
}
