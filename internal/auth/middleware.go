package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
)

// Authenticator returns the principal whose token this is; *Tokens is
// one.
type Authenticator interface {
	Authenticate(token string) (*experiments.Principal, error)
}

var _ Authenticator = (*Tokens)(nil)

// APIPrefix is where the JSON API's routes live. They take bearer tokens
// only; every other path is a browser page, which may also sign in with
// the session cookie.
const APIPrefix = "/v1/"

// Middleware authenticates every request before next sees it and puts
// its principal in the request's context (PrincipalFrom), so that the
// JSON API and the browser pages know who sent a request the same way.
//
// A request to the JSON API must carry a bearer token that tokens knows;
// without one it is answered by refuse (the API's 401). The session
// cookie signs in browser pages only: a page elsewhere on the same site
// cannot make a signed-in browser call the JSON API, which has no CSRF
// tokens. A page request without a token, or whose cookie no longer
// holds a known one, goes on without a principal, and the pages send it
// to the sign-in form. A wrong bearer token is a client's mistake, not a
// browser's, and is refused everywhere.
func Middleware(tokens Authenticator, refuse http.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principalOf(tokens, r)
		switch {
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="failforward"`)
			refuse.ServeHTTP(w, r)
		case p != nil:
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// principalOf returns the principal of r, nil for a page request that
// is not signed in, or an error when r must be refused.
func principalOf(tokens Authenticator, r *http.Request) (*experiments.Principal, error) {
	api := strings.HasPrefix(r.URL.Path, APIPrefix)
	token, err := ParseBearer(r.Header.Get("Authorization"))
	if errors.Is(err, ErrNoToken) && !api {
		c, cerr := r.Cookie(CookieName)
		if cerr != nil {
			return nil, nil
		}
		// A stale cookie is the pages' to clear, with a sign-in form.
		p, _ := tokens.Authenticate(c.Value)
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	return tokens.Authenticate(token)
}
