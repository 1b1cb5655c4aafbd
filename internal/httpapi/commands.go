package httpapi

import (
	"net/http"

	"github.com/failforward/failforward/internal/experiments"
)

// body says whether a command route takes a JSON body.
type body int

const (
	bodyRequired body = iota
	bodyOptional
	bodyNone
)

// command runs one command route: it reads the body into a C, collects
// the request's metadata, runs do with the {id} path value, and answers
// with the resource, its version as ETag and, for a new resource, its
// Location.
func command[C, R any](s *Server, w http.ResponseWriter, r *http.Request, status int, b body,
	locate func(R) (path string, version uint64),
	do func(m experiments.Meta, id string, cmd C) (R, error),
) {
	var cmd C
	err := func() error {
		empty := r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == ""
		switch {
		case b == bodyRequired && empty:
			return badRequest(codeMalformed, "", "the body is empty; send a JSON object")
		case b != bodyNone && !empty:
			return decode(w, r, &cmd)
		}
		return nil
	}()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	meta, err := s.meta(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := do(meta, r.PathValue("id"), cmd)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	path, version := locate(res)
	w.Header().Set("ETag", etag(version))
	if status == http.StatusCreated {
		w.Header().Set("Location", path)
	}
	writeJSON(w, status, res)
}

func experimentAt(e experiments.Experiment) (string, uint64) {
	return "/v1/experiments/" + e.ID, e.Version
}

func innovationAt(i experiments.Innovation) (string, uint64) {
	return "/v1/innovations/" + i.ID, i.Version
}

func (s *Server) handleRegisterExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusCreated, bodyRequired, experimentAt,
		func(m experiments.Meta, _ string, cmd experiments.RegisterExperiment) (experiments.Experiment, error) {
			return s.svc.RegisterExperiment(r.Context(), m, cmd)
		})
}

func (s *Server) handleReviseExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.ReviseExperiment) (experiments.Experiment, error) {
			return s.svc.ReviseExperiment(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleStartExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyOptional, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.StartExperiment) (experiments.Experiment, error) {
			return s.svc.StartExperiment(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleConcludeExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.ConcludeExperiment) (experiments.Experiment, error) {
			return s.svc.ConcludeExperiment(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleReviseOutcome(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.ReviseOutcome) (experiments.Experiment, error) {
			return s.svc.ReviseOutcome(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleAbandonExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.AbandonExperiment) (experiments.Experiment, error) {
			return s.svc.AbandonExperiment(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleRecordLearning(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusCreated, bodyRequired, experimentAt,
		func(m experiments.Meta, id string, cmd experiments.RecordLearning) (experiments.Experiment, error) {
			return s.svc.RecordLearning(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleRecordInnovation(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusCreated, bodyRequired, innovationAt,
		func(m experiments.Meta, _ string, cmd experiments.RecordInnovation) (experiments.Innovation, error) {
			return s.svc.RecordInnovation(r.Context(), m, cmd)
		})
}

func (s *Server) handleLinkExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyRequired, innovationAt,
		func(m experiments.Meta, id string, cmd experiments.LinkExperiment) (experiments.Innovation, error) {
			return s.svc.LinkExperiment(r.Context(), m, id, cmd)
		})
}

func (s *Server) handleUnlinkExperiment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, http.StatusOK, bodyNone, innovationAt,
		func(m experiments.Meta, id string, _ struct{}) (experiments.Innovation, error) {
			return s.svc.UnlinkExperiment(r.Context(), m, id, r.PathValue("experiment_id"))
		})
}
