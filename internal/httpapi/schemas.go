package httpapi

import (
	"net/http"
	"strings"

	"github.com/failforward/failforward/schema"
)

// handleEventSchema serves the JSON Schemas of the event contract, the
// files of schema/events embedded in the binary, so that a consumer can
// fetch the schema an event's dataschema names: the $id
// urn:failforward:schema:events:<name> is served at
// /schema/events/<name>.json. The schemas are public: the route needs no
// token, as it is outside /v1/.
func (s *Server) handleEventSchema(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	name, isJSON := strings.CutSuffix(file, ".json")
	got, ok := schema.EventSchemaFile(schema.EventSchemaIDPrefix + name)
	if !isJSON || !ok || got != file {
		writeJSON(w, http.StatusNotFound, errorBody{errorDetail{Code: codeMethodMissing,
			Message: "no event schema " + file + ": the names are those of schema/events, such as experiment.concluded.v1.json"}})
		return
	}
	b, err := schema.Events.ReadFile("events/" + file)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	// The files change only with a new binary; a day's caching spares
	// consumers that validate every event from asking each time.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b)
}
