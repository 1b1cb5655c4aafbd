package web

import (
	"net/http"
	"strings"
)

// routes registers every path of the UI; this is the one list of them.
// Forms post to the UI's own paths, not to /v1, so that their errors come
// back as HTML beside the fields.
func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /{$}", h.handleOverview)
	m.HandleFunc("GET /backlog", h.handleBacklog)
	m.HandleFunc("GET /learnings", h.handleLearnings)
	m.HandleFunc("GET /skills", h.handleSkills)

	m.HandleFunc("GET /experiments", h.handleExperiments)
	m.HandleFunc("GET /experiments/new", h.showRegister)
	m.HandleFunc("POST /experiments/new", h.postRegister)
	m.HandleFunc("GET /experiments/similar", h.handleSimilar)
	m.HandleFunc("GET /experiments/{id}", h.handleExperiment)
	for _, c := range experimentCommands {
		m.HandleFunc("GET /experiments/{id}/"+c.path, h.showExperimentCommand(c))
		m.HandleFunc("POST /experiments/{id}/"+c.path, h.postExperimentCommand(c))
	}

	m.HandleFunc("GET /innovations", h.handleInnovations)
	m.HandleFunc("GET /innovations/new", h.showRecordInnovation)
	m.HandleFunc("POST /innovations/new", h.postRecordInnovation)
	m.HandleFunc("GET /innovations/{id}", h.handleInnovation)
	m.HandleFunc("POST /innovations/{id}/links", h.postLink)
	m.HandleFunc("POST /innovations/{id}/links/{experiment_id}/remove", h.postUnlink)

	m.HandleFunc("GET /webhooks", h.handleWebhooks)
	m.HandleFunc("GET /webhooks/new", h.showNewWebhook)
	m.HandleFunc("POST /webhooks/new", h.postNewWebhook)
	m.HandleFunc("GET /webhooks/{id}", h.handleWebhook)
	m.HandleFunc("POST /webhooks/{id}/pause", h.webhookCommand(h.postPauseWebhook))
	m.HandleFunc("POST /webhooks/{id}/resume", h.webhookCommand(h.postResumeWebhook))
	m.HandleFunc("POST /webhooks/{id}/delete", h.webhookCommand(h.postDeleteWebhook))
	m.HandleFunc("POST /webhooks/{id}/replay", h.webhookCommand(h.postReplayWebhook))
	m.HandleFunc("POST /webhooks/{id}/rotate", h.postRotateWebhook)
	m.HandleFunc("GET /stories", h.handleStories)
	m.HandleFunc("GET /stories/new", h.showPublishStory)
	m.HandleFunc("POST /stories/new", h.postPublishStory)
	m.HandleFunc("GET /stories/{id}", h.handleStory)
	m.HandleFunc("GET /stories/{id}/revise", h.showReviseStory)
	m.HandleFunc("POST /stories/{id}/revise", h.postReviseStory)
	m.HandleFunc("POST /stories/{id}/helped", h.postStoryHelped)
	m.HandleFunc("POST /stories/{id}/retract", h.postRetractStory)

	m.HandleFunc("GET /export/figures.csv", h.handleExportFigures)
	m.HandleFunc("GET /export/experiments.csv", h.handleExportExperiments)
	m.HandleFunc("GET /ui/live", h.handleLive)
	m.HandleFunc("GET /signin", h.showSignIn)
	m.HandleFunc("POST /signin", h.postSignIn)
	m.HandleFunc("POST /signout", h.postSignOut)
	m.HandleFunc("GET /static/", h.handleStatic)
	m.HandleFunc("GET /favicon.ico", h.handleFavicon)
	m.HandleFunc("/", h.handleNotFound)
}

// withNonce wraps the mux so that every page gets a CSRF nonce; static
// files and the live stream do not need one.
func (h *Handler) withNonce(w http.ResponseWriter, r *http.Request) *http.Request {
	if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/ui/live" || strings.HasPrefix(r.URL.Path, "/export/") {
		return r
	}
	return h.csrf.ensure(w, r)
}
