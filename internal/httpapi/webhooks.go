package httpapi

import (
	"net/http"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// The /v1/webhooks routes expose the webhook engine (internal/webhooks),
// which validates every command and decides who sees which subscription:
// admins every one, members and leads those of their own teams (another
// team's is not found). Viewers manage none, and are refused before the
// engine is asked, so that they do not even list their team's targets: a
// target URL can be a credential. Replays are for admins only, as they
// deliver history again to a receiver.

// errWebhooksOff answers the webhook routes of a server without a
// webhook engine.
var errWebhooksOff = &apiError{http.StatusServiceUnavailable, errorDetail{Code: codeUnavailable,
	Message: "webhooks are not enabled on this server: set WEBHOOK_KEY"}}

// webhookManager returns the engine for a request that may use it: 503
// without one, 403 for a viewer.
func (s *Server) webhookManager(r *http.Request) (*webhooks.Manager, error) {
	if s.webhooks == nil {
		return nil, errWebhooksOff
	}
	if p := auth.PrincipalFrom(r.Context()); p != nil && p.Role == experiments.RoleViewer {
		return nil, &experiments.Error{Code: experiments.CodeForbidden, Message: p.Name + " (viewer) may not manage webhooks"}
	}
	return s.webhooks, nil
}

func webhookAt(res webhooks.Result) (string, uint64) {
	return "/v1/webhooks/" + res.ID, res.Version
}

func subscriptionAt(sub webhooks.Subscription) (string, uint64) {
	return "/v1/webhooks/" + sub.ID, sub.Version
}

// webhookCommand runs one command route on the webhook engine, as
// command runs the experiments' routes.
func webhookCommand[C, R any](s *Server, w http.ResponseWriter, r *http.Request, status int, b body,
	locate func(R) (string, uint64), do func(wh *webhooks.Manager, m experiments.Meta, id string, in C) (R, error),
) {
	command(s, w, r, status, b, locate, func(m experiments.Meta, id string, in C) (R, error) {
		wh, err := s.webhookManager(r)
		if err != nil {
			var zero R
			return zero, err
		}
		return do(wh, m, id, in)
	})
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	webhookCommand(s, w, r, http.StatusCreated, bodyRequired, webhookAt,
		func(wh *webhooks.Manager, m experiments.Meta, _ string, in webhooks.CreateInput) (webhooks.Result, error) {
			return wh.Create(r.Context(), m, in)
		})
}

func (s *Server) handleChangeWebhook(w http.ResponseWriter, r *http.Request) {
	webhookCommand(s, w, r, http.StatusOK, bodyRequired, webhookAt,
		func(wh *webhooks.Manager, m experiments.Meta, id string, in webhooks.PatchInput) (webhooks.Result, error) {
			return wh.Patch(r.Context(), m, id, in)
		})
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	webhookCommand(s, w, r, http.StatusOK, bodyNone, subscriptionAt,
		func(wh *webhooks.Manager, m experiments.Meta, id string, _ struct{}) (webhooks.Subscription, error) {
			return wh.Delete(r.Context(), m, id)
		})
}

func (s *Server) handleReplayWebhook(w http.ResponseWriter, r *http.Request) {
	webhookCommand(s, w, r, http.StatusOK, bodyRequired, subscriptionAt,
		func(wh *webhooks.Manager, m experiments.Meta, id string, in webhooks.ReplayInput) (webhooks.Subscription, error) {
			return wh.Replay(r.Context(), m, id, in)
		})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	wh, err := s.webhookManager(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wh.List(r.Context(), auth.PrincipalFrom(r.Context())))
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.webhookManager(r)
	var sub webhooks.Subscription
	if err == nil {
		sub, err = wh.Get(r.Context(), auth.PrincipalFrom(r.Context()), r.PathValue("id"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(sub.Version))
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r.URL.Query(), "limit", 100, 1000)
	var attempts []webhooks.Attempt
	if err == nil {
		var wh *webhooks.Manager
		if wh, err = s.webhookManager(r); err == nil {
			attempts, err = wh.Attempts(r.Context(), auth.PrincipalFrom(r.Context()), r.PathValue("id"), limit)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, attempts)
}
