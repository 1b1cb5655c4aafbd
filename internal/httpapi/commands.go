package httpapi

import (
	"net/http"

	"github.com/failforward/failforward/internal/experiments"
)

// requireBody answers a command whose body is mandatory but empty.
func requireBody(r *http.Request) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return badRequest(codeMalformed, "", "the body is empty; send a JSON object")
	}
	return nil
}

func (s *Server) experimentCommand(w http.ResponseWriter, r *http.Request, status int, bodyRequired bool, run func(experiments.Meta, string) (experiments.Experiment, error)) {
	if bodyRequired {
		if err := requireBody(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	meta, err := s.meta(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := run(meta, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/experiments/"+e.ID)
	}
	writeJSON(w, status, e)
}

func (s *Server) handleRegisterExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.RegisterExperiment
	s.experimentCommand(w, r, http.StatusCreated, true, func(m experiments.Meta, _ string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.RegisterExperiment(r.Context(), m, cmd)
	})
}

func (s *Server) handleReviseExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.ReviseExperiment
	s.experimentCommand(w, r, http.StatusOK, true, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.ReviseExperiment(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleStartExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.StartExperiment
	s.experimentCommand(w, r, http.StatusOK, false, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decodeOptional(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.StartExperiment(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleConcludeExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.ConcludeExperiment
	s.experimentCommand(w, r, http.StatusOK, true, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.ConcludeExperiment(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleReviseOutcome(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.ReviseOutcome
	s.experimentCommand(w, r, http.StatusOK, true, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.ReviseOutcome(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleAbandonExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.AbandonExperiment
	s.experimentCommand(w, r, http.StatusOK, true, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.AbandonExperiment(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleRecordLearning(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.RecordLearning
	s.experimentCommand(w, r, http.StatusCreated, true, func(m experiments.Meta, id string) (experiments.Experiment, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Experiment{}, err
		}
		return s.svc.RecordLearning(r.Context(), m, id, cmd)
	})
}

func (s *Server) innovationCommand(w http.ResponseWriter, r *http.Request, status int, bodyRequired bool, run func(experiments.Meta, string) (experiments.Innovation, error)) {
	if bodyRequired {
		if err := requireBody(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	meta, err := s.meta(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	inn, err := run(meta, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(inn.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/innovations/"+inn.ID)
	}
	writeJSON(w, status, inn)
}

func (s *Server) handleRecordInnovation(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.RecordInnovation
	s.innovationCommand(w, r, http.StatusCreated, true, func(m experiments.Meta, _ string) (experiments.Innovation, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Innovation{}, err
		}
		return s.svc.RecordInnovation(r.Context(), m, cmd)
	})
}

func (s *Server) handleLinkExperiment(w http.ResponseWriter, r *http.Request) {
	var cmd experiments.LinkExperiment
	s.innovationCommand(w, r, http.StatusOK, true, func(m experiments.Meta, id string) (experiments.Innovation, error) {
		if err := decode(w, r, &cmd); err != nil {
			return experiments.Innovation{}, err
		}
		return s.svc.LinkExperiment(r.Context(), m, id, cmd)
	})
}

func (s *Server) handleUnlinkExperiment(w http.ResponseWriter, r *http.Request) {
	s.innovationCommand(w, r, http.StatusOK, false, func(m experiments.Meta, id string) (experiments.Innovation, error) {
		return s.svc.UnlinkExperiment(r.Context(), m, id, r.PathValue("experiment_id"))
	})
}

// decodeOptional decodes a body that the route allows to be empty.
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	return decode(w, r, dst)
}
