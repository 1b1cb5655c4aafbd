package auth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
)

// maxHeaderID bounds the ids a request names in its headers.
const maxHeaderID = 200

// Meta returns the metadata of a command that p sends with r: p and its
// name as the actor ("local" for the nil principal, the local admin),
// the correlation id (X-Correlation-Id), the causation id (X-Request-Id),
// the idempotency key (Idempotency-Key) and the version the client saw
// (If-Match). Without its header, the correlation and the causation id
// are the request's id (RequestIDFrom), so that an event leads back to
// the request's log lines. A header that is too long or malformed is an
// experiments.Invalid error that names it, never silently dropped.
func Meta(r *http.Request, p *experiments.Principal) (experiments.Meta, error) {
	m := experiments.Meta{
		Actor:          "local",
		Principal:      p,
		CorrelationID:  r.Header.Get("X-Correlation-Id"),
		CausationID:    r.Header.Get("X-Request-Id"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	if p != nil {
		m.Actor = p.Name
	}
	for _, h := range []struct{ name, value string }{
		{"Idempotency-Key", m.IdempotencyKey}, {"X-Correlation-Id", m.CorrelationID}, {"X-Request-Id", m.CausationID},
	} {
		if len(h.value) > maxHeaderID {
			return m, experiments.Invalid(h.name, "is longer than %d characters", maxHeaderID)
		}
	}
	id := RequestIDFrom(r.Context())
	if m.CorrelationID == "" {
		m.CorrelationID = id
	}
	if m.CausationID == "" {
		m.CausationID = id
	}
	if v := r.Header.Get("If-Match"); v != "" && v != "*" {
		n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
		if err != nil {
			return m, experiments.Invalid("If-Match", "must be an ETag this API gave out")
		}
		m.IfMatch = &n
	}
	return m, nil
}
