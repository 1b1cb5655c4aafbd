package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// The failure stories routes: commands through the domain's service,
// reads from the read models.

func storyAt(s experiments.Story) (string, uint64) {
	return "/v1/stories/" + s.ID, s.Version
}

func (s *Server) handlePublishStory(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusCreated, bodyRequired, storyAt,
		func(m experiments.Meta, _ string, cmd experiments.PublishStory) (experiments.Story, error) {
			return s.svc.PublishStory(r.Context(), m, cmd)
		})
}

func (s *Server) handleReviseStory(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, storyAt,
		func(m experiments.Meta, id string, cmd experiments.ReviseStory) (experiments.Story, error) {
			return s.svc.ReviseStory(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleRetractStory(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyOptional, storyAt,
		func(m experiments.Meta, id string, cmd experiments.RetractStory) (experiments.Story, error) {
			return s.svc.RetractStory(r.Context(), m, id, cmd)
		})
}

// handleStoryHelped marks a story helpful for the caller; a second mark
// answers the story as it is and writes nothing.
func (s *Server) handleStoryHelped(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyNone, storyAt,
		func(m experiments.Meta, id string, _ struct{}) (experiments.Story, error) {
			return s.svc.MarkStoryHelped(r.Context(), m, id)
		})
}

func (s *Server) handleListStories(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.StoryPage, error) {
		q := r.URL.Query()
		limit, err := intParam(q, "limit", readmodel.DefaultLimit, readmodel.MaxLimit)
		if err != nil {
			return readmodel.StoryPage{}, err
		}
		byLeads, err := boolParam(q.Get("by_leads"), "by_leads")
		if err != nil {
			return readmodel.StoryPage{}, err
		}
		return s.queries.Stories(r.Context(), v, readmodel.StoryFilter{
			Team: q.Get("team"), ByLeads: byLeads, Skill: q.Get("skill"), ExperimentID: q.Get("experiment_id"),
			Limit: limit, Cursor: q.Get("cursor"),
		})
	})
}

// handleGetStory answers one story the caller may see, with the earlier
// versions the caller may see; a hidden or retracted story is not found.
func (s *Server) handleGetStory(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.StoryDetail, error) {
		id, err := pathID(r, "story")
		if err != nil {
			return readmodel.StoryDetail{}, err
		}
		st, err := s.queries.StoryWithRevisions(r.Context(), v, id)
		if err == nil {
			w.Header().Set("ETag", etag(st.Version))
		}
		return st, err
	})
}

// boolParam reads a query flag: absent is false; true, false, 1 and 0
// are taken, anything else is refused.
func boolParam(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(string(experiments.CodeInvalid), name, "must be true or false")
	}
	return b, nil
}

// storyVisible reports whether the stream's viewer may see story id, as
// the story's page decides, once the read models have applied seq. It
// reads the story's access every time rather than remember it: a
// revision may narrow the story, and so may a change to an experiment it
// is about, and story events are few.
func (a *streamAccess) storyVisible(ctx context.Context, seq uint64, id string) (bool, error) {
	if !experiments.ValidID(id) {
		return false, nil
	}
	if err := a.catchUp(ctx, max(seq, a.head)); err != nil {
		return false, err
	}
	got, err := a.queries.StoryAccess(ctx, readmodel.ViewerOf(a.principal), []string{id})
	if err != nil {
		return false, fmt.Errorf("check visibility of story %s: %w", id, err)
	}
	return got[id], nil
}
