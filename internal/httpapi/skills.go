package httpapi

import (
	"net/http"
	"net/url"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

func (s *Server) handleSkills(w http.ResponseWriter, r *http.Request) {
	query(s, w, r, func(v readmodel.Viewer) (readmodel.SkillReport, error) {
		f, err := outcomeFilter(r.URL.Query())
		if err != nil {
			return readmodel.SkillReport{}, err
		}
		return s.queries.Skills(r.Context(), v, f)
	})
}

// outcomeFilter reads the filter of the outcome dashboard and the skills
// report: team, from, to and bucket.
func outcomeFilter(q url.Values) (readmodel.OutcomeFilter, error) {
	from, err := timeParam(q, "from")
	if err != nil {
		return readmodel.OutcomeFilter{}, err
	}
	to, err := timeParam(q, "to")
	if err != nil {
		return readmodel.OutcomeFilter{}, err
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return readmodel.OutcomeFilter{}, badRequest(string(experiments.CodeInvalid), "to", "must be after from")
	}
	bucket, err := oneOfParam(q, "bucket", []string{"month", "quarter"})
	if err != nil {
		return readmodel.OutcomeFilter{}, err
	}
	return readmodel.OutcomeFilter{Team: q.Get("team"), From: from, To: to, Bucket: bucket}, nil
}
