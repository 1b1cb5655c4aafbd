package httpapi

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// Bounds of GET /v1/experiments/similar.
const (
	defaultSimilarLimit = 10
	maxSimilarLimit     = 50
)

// handleSimilar answers "has this been tried?" for a free text, such as
// the title and hypothesis of an experiment being written: the most
// similar experiments the caller may see, failed ones first among them
// (readmodel.Queries.TriedBefore says how), with their learnings.
func (s *Server) handleSimilar(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.TriedBefore, error) {
		q := r.URL.Query()
		text := q.Get("text")
		switch {
		case strings.TrimSpace(text) == "":
			return readmodel.TriedBefore{}, badRequest(string(experiments.CodeInvalid), "text", "is required: the text to find similar experiments for")
		case utf8.RuneCountInString(text) > readmodel.MaxTriedText:
			return readmodel.TriedBefore{}, badRequest(string(experiments.CodeInvalid), "text", "must be at most %d characters", readmodel.MaxTriedText)
		}
		limit, err := intParam(q, "limit", defaultSimilarLimit, maxSimilarLimit)
		if err != nil {
			return readmodel.TriedBefore{}, err
		}
		return s.queries.TriedBefore(r.Context(), v, text, limit)
	})
}
