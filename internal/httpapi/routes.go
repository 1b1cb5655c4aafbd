package httpapi

import "net/http"

// routes registers every route of the API; this is the one list of them.
func (s *Server) routes(m router) {
	m.HandleFunc("POST /v1/experiments", s.handleRegisterExperiment)
	m.HandleFunc("PATCH /v1/experiments/{id}", s.handleReviseExperiment)
	m.HandleFunc("POST /v1/experiments/{id}/start", s.handleStartExperiment)
	m.HandleFunc("POST /v1/experiments/{id}/conclude", s.handleConcludeExperiment)
	m.HandleFunc("POST /v1/experiments/{id}/outcome", s.handleReviseOutcome)
	m.HandleFunc("POST /v1/experiments/{id}/abandon", s.handleAbandonExperiment)
	m.HandleFunc("POST /v1/experiments/{id}/learnings", s.handleRecordLearning)
	m.HandleFunc("POST /v1/innovations", s.handleRecordInnovation)
	m.HandleFunc("POST /v1/innovations/{id}/links", s.handleLinkExperiment)
	m.HandleFunc("DELETE /v1/innovations/{id}/links/{experiment_id}", s.handleUnlinkExperiment)
	m.HandleFunc("POST /v1/stories", s.handlePublishStory)
	m.HandleFunc("PATCH /v1/stories/{id}", s.handleReviseStory)
	m.HandleFunc("POST /v1/stories/{id}/retract", s.handleRetractStory)
	m.HandleFunc("POST /v1/stories/{id}/helped", s.handleStoryHelped)

	m.HandleFunc("GET /v1/experiments", s.handleListExperiments)
	// Before {id}, to be read first; the mux would pick the literal
	// segment over the wildcard in any order.
	m.HandleFunc("GET /v1/experiments/similar", s.handleSimilar)
	m.HandleFunc("GET /v1/experiments/{id}", s.handleGetExperiment)
	m.HandleFunc("GET /v1/experiments/{id}/history", s.handleHistory)
	m.HandleFunc("GET /v1/experiments/{id}/lineage", s.handleExperimentLineage)
	m.HandleFunc("GET /v1/innovations", s.handleListInnovations)
	m.HandleFunc("GET /v1/innovations/{id}", s.handleGetInnovation)
	m.HandleFunc("GET /v1/innovations/{id}/history", s.handleHistory)
	m.HandleFunc("GET /v1/innovations/{id}/lineage", s.handleInnovationLineage)
	m.HandleFunc("GET /v1/learnings", s.handleLearnings)
	m.HandleFunc("GET /v1/stories", s.handleListStories)
	m.HandleFunc("GET /v1/stories/{id}", s.handleGetStory)
	m.HandleFunc("GET /v1/dashboard/outcomes", s.handleOutcomes)
	m.HandleFunc("GET /v1/dashboard/failures", s.handleFailures)
	m.HandleFunc("GET /v1/skills", s.handleSkills)
	m.HandleFunc("GET /v1/events", s.handleEvents)

	m.HandleFunc("POST /v1/webhooks", s.handleCreateWebhook)
	m.HandleFunc("GET /v1/webhooks", s.handleListWebhooks)
	m.HandleFunc("GET /v1/webhooks/{id}", s.handleGetWebhook)
	m.HandleFunc("PATCH /v1/webhooks/{id}", s.handleChangeWebhook)
	m.HandleFunc("DELETE /v1/webhooks/{id}", s.handleDeleteWebhook)
	m.HandleFunc("POST /v1/webhooks/{id}/replay", s.handleReplayWebhook)
	m.HandleFunc("GET /v1/webhooks/{id}/deliveries", s.handleWebhookDeliveries)

	m.HandleFunc("GET /healthz", s.handleHealthz)
	m.HandleFunc("GET /readyz", s.handleReadyz)
	m.Handle("GET /metrics", s.handleMetrics())
	m.HandleFunc("GET /schema/events/{file}", s.handleEventSchema)
	m.HandleFunc("/v1/", s.handleNotFound)
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, errorBody{errorDetail{Code: codeMethodMissing, Message: "no such route: " + r.Method + " " + r.URL.Path}})
}
