package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// query runs a read: it waits for ?min_position, then answers with what
// get returns.
func query[T any](s *Server, w http.ResponseWriter, r *http.Request, get func(readmodel.Viewer) (T, error)) {
	if err := s.awaitPosition(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := get(viewerOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// pathID returns the {id} path value, or a not-found error when it cannot
// be an id at all.
func pathID(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if !experiments.ValidID(id) {
		return "", &experiments.Error{Code: experiments.CodeNotFound, Message: what + " " + id + " does not exist"}
	}
	return id, nil
}

func intParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest(string(experiments.CodeInvalid), name, "must be a whole number from 1 to %d", max)
	}
	return n, nil
}

func oneOfParam(q url.Values, name string, allowed []string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", badRequest(string(experiments.CodeInvalid), name, "must be one of %v", allowed)
}

func (s *Server) handleListExperiments(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.ExperimentPage, error) {
		q := r.URL.Query()
		limit, err := intParam(q, "limit", 50, 200)
		if err != nil {
			return readmodel.ExperimentPage{}, err
		}
		status, err := oneOfParam(q, "status", experiments.Statuses)
		if err != nil {
			return readmodel.ExperimentPage{}, err
		}
		outcome, err := oneOfParam(q, "outcome", experiments.Outcomes)
		if err != nil {
			return readmodel.ExperimentPage{}, err
		}
		return s.queries.ListExperiments(r.Context(), v, readmodel.ExperimentFilter{
			Team: q.Get("team"), Status: status, Outcome: outcome, Tag: q.Get("tag"), Q: q.Get("q"),
			Limit: limit, Cursor: q.Get("cursor"),
		})
	})
}

func (s *Server) handleGetExperiment(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (experiments.Experiment, error) {
		id, err := pathID(r, "experiment")
		if err != nil {
			return experiments.Experiment{}, err
		}
		e, err := s.queries.GetExperiment(r.Context(), v, id)
		if err == nil {
			w.Header().Set("ETag", etag(e.Version))
		}
		return e, err
	})
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) ([]readmodel.HistoryEntry, error) {
		id, err := pathID(r, "resource")
		if err != nil {
			return nil, err
		}
		return s.queries.History(r.Context(), v, id)
	})
}

func (s *Server) handleExperimentLineage(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.ExperimentLineage, error) {
		id, err := pathID(r, "experiment")
		if err != nil {
			return readmodel.ExperimentLineage{}, err
		}
		return s.queries.ExperimentLineage(r.Context(), v, id)
	})
}

func (s *Server) handleListInnovations(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) ([]experiments.Innovation, error) {
		return s.queries.ListInnovations(r.Context(), v, r.URL.Query().Get("team"))
	})
}

func (s *Server) handleGetInnovation(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (experiments.Innovation, error) {
		id, err := pathID(r, "innovation")
		if err != nil {
			return experiments.Innovation{}, err
		}
		inn, err := s.queries.GetInnovation(r.Context(), v, id)
		if err == nil {
			w.Header().Set("ETag", etag(inn.Version))
		}
		return inn, err
	})
}

func (s *Server) handleInnovationLineage(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.InnovationLineage, error) {
		id, err := pathID(r, "innovation")
		if err != nil {
			return readmodel.InnovationLineage{}, err
		}
		return s.queries.InnovationLineage(r.Context(), v, id)
	})
}

func (s *Server) handleLearnings(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) ([]readmodel.LearningResult, error) {
		q := r.URL.Query()
		limit, err := intParam(q, "limit", 100, 500)
		if err != nil {
			return nil, err
		}
		outcome, err := oneOfParam(q, "outcome", readmodel.LearningOutcomes)
		if err != nil {
			return nil, err
		}
		return s.queries.Learnings(r.Context(), v, readmodel.LearningFilter{Q: q.Get("q"), Skill: q.Get("skill"), Team: q.Get("team"),
			Outcome: outcome, Limit: limit})
	})
}

func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly, "2006-01"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest(string(experiments.CodeInvalid), name, "must be a date (2026-03, 2026-03-01 or RFC 3339)")
}

func (s *Server) handleOutcomes(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.OutcomeReport, error) {
		f, err := outcomeFilter(r.URL.Query())
		if err != nil {
			return readmodel.OutcomeReport{}, err
		}
		return s.queries.Outcomes(r.Context(), v, f)
	})
}

func (s *Server) handleFailures(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.BacklogPage, error) {
		q := r.URL.Query()
		unlinked := false
		if u := q.Get("unlinked"); u != "" {
			b, err := strconv.ParseBool(u)
			if err != nil {
				return readmodel.BacklogPage{}, badRequest(string(experiments.CodeInvalid), "unlinked", "must be true or false")
			}
			unlinked = b
		}
		limit, err := intParam(q, "limit", readmodel.DefaultLimit, readmodel.MaxLimit)
		if err != nil {
			return readmodel.BacklogPage{}, err
		}
		return s.queries.FailureBacklog(r.Context(), v, readmodel.BacklogFilter{
			Unlinked: unlinked, Team: q.Get("team"), Limit: limit, Cursor: q.Get("cursor")})
	})
}
