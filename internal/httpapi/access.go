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
// admin. On an API route it answers 401 itself when the token is missing
// or wrong. Any other route is the browser UI's, which does its own
// sign-in: a request there without a token, or whose session cookie no
// longer holds a known one, goes on without a principal, and the UI sends
// it to the sign-in form. A wrong bearer token is a client's mistake,
// not a browser's, and is refused everywhere.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if s.tokens == nil {
		return r, true
	}
	api := strings.HasPrefix(r.URL.Path, "/v1/")
	token, err := auth.ParseBearer(r.Header.Get("Authorization"))
	fromCookie := false
	// The session cookie signs in browser pages only: the JSON API takes
	// bearer tokens, so a page elsewhere on the same site cannot make a
	// signed-in browser call it (the pages have CSRF tokens; the API has
	// none).
	if errors.Is(err, auth.ErrNoToken) && !api {
		if c, cerr := r.Cookie(auth.CookieName); cerr == nil {
			token, err, fromCookie = c.Value, nil, true
		}
	}
	var p *experiments.Principal
	if err == nil {
		p, err = s.tokens.Authenticate(token)
	}
	switch {
	case err == nil:
		return r.WithContext(auth.WithPrincipal(r.Context(), p)), true
	case !api && (errors.Is(err, auth.ErrNoToken) || fromCookie):
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
