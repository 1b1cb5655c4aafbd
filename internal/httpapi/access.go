package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// authenticate resolves the request's principal from its bearer token or
// session cookie. Without tokens configured every request is the local
// admin. It answers 401 itself when a token is wrong, or missing on an
// API route; browser pages handle their own sign-in.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if s.tokens == nil {
		return r, true
	}
	token, err := auth.ParseBearer(r.Header.Get("Authorization"))
	if errors.Is(err, auth.ErrNoToken) {
		if c, cerr := r.Cookie(auth.CookieName); cerr == nil {
			token, err = c.Value, nil
		}
	}
	var p *experiments.Principal
	if err == nil {
		p, err = s.tokens.Authenticate(token)
	}
	switch {
	case err == nil:
		return r.WithContext(auth.WithPrincipal(r.Context(), p)), true
	case errors.Is(err, auth.ErrNoToken) && !strings.HasPrefix(r.URL.Path, "/v1/"):
		return r, true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="failforward"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{errorDetail{Code: "unauthorized", Message: "send Authorization: Bearer <token> with a token from AUTH_FILE"}})
	return r, false
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

// actorOf names who sent the request, as recorded in its events.
func actorOf(r *http.Request) string {
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		return p.Name
	}
	return "local"
}

// viewerOf says what the request may see.
func viewerOf(r *http.Request) readmodel.Viewer {
	p := auth.PrincipalFrom(r.Context())
	return readmodel.Viewer{All: p.SeesEverything(), Teams: teamsOf(p)}
}

func teamsOf(p *experiments.Principal) []string {
	if p == nil {
		return nil
	}
	return p.Teams
}
