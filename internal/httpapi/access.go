package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/readmodel"
)

// Unauthorized answers a request to the API whose bearer token is
// missing or unknown: auth.Middleware refuses with it.
func Unauthorized(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusUnauthorized, errorBody{errorDetail{Code: "unauthorized", Message: "send Authorization: Bearer <token> with a token from AUTH_FILE"}})
}

// limiter allows each token a steady rate of writes with some burst.
type limiter struct {
	mu     sync.Mutex
	every  rate.Limit
	burst  int
	tokens map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{every: rate.Limit(perSecond), burst: burst, tokens: map[string]*rate.Limiter{}}
}

// allow reports whether name may write now, and if not, when to retry.
func (l *limiter) allow(name string) (bool, time.Duration) {
	l.mu.Lock()
	lim, ok := l.tokens[name]
	if !ok {
		lim = rate.NewLimiter(l.every, l.burst)
		l.tokens[name] = lim
	}
	l.mu.Unlock()
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}

// rateLimited answers 429 when the request is a write over its token's
// rate. Reads and the unauthenticated local user are not limited.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request) bool {
	p := auth.PrincipalFrom(r.Context())
	if p == nil || s.limits == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	ok, wait := s.limits.allow(p.Name)
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, errorBody{errorDetail{Code: "rate_limited", Message: "too many writes with this token; retry after the time in Retry-After"}})
	return true
}

// LimitWrites serves h with the API's limit on each token's writes, for
// the browser pages' forms, which write through the same tokens.
func (s *Server) LimitWrites(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.rateLimited(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

// viewerOf says what the request may see.
func viewerOf(r *http.Request) readmodel.Viewer {
	return readmodel.ViewerOf(auth.PrincipalFrom(r.Context()))
}
