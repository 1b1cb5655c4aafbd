package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// With sign-in on (Config.Authenticate set), the principal of a request
// is the one auth.Middleware, in front of the handler, found for its
// session cookie (auth.PrincipalFrom). Every page needs one but the few in
// publicRoutes; ServeHTTP sends anyone else to sign in before any
// handler runs. Without sign-in, every request is the local admin, which
// the domain and the read models spell as a nil principal.

// publicRoutes are the route patterns anyone may reach without signing
// in. They are matched by pattern, not by path, so that no spelling of a
// path can slip past the check.
var publicRoutes = map[string]bool{
	"GET /signin":      true,
	"POST /signin":     true,
	"POST /signout":    true,
	"GET /static/":     true,
	"GET /favicon.ico": true,
}

// signedIn reports whether r may go on to its handler; when not, it has
// answered it: a page is redirected to the sign-in form, anything else is
// refused with 401.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) bool {
	if h.authenticate == nil || auth.PrincipalFrom(r.Context()) != nil {
		return true
	}
	if _, pattern := h.mux.Handler(r); publicRoutes[pattern] {
		return true
	}
	if _, err := r.Cookie(auth.CookieName); err == nil {
		// The middleware in front would have signed the request in with
		// a token it knows, so this one is stale (or was never good).
		http.SetCookie(w, h.sessionCookie(r, "", -1))
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path != "/ui/live" {
		http.Redirect(w, r, signInURL(r.URL.RequestURI()), http.StatusSeeOther)
		return false
	}
	// A form posted after the session ended: send its author back, once
	// signed in, to the page the form was on.
	next := "/"
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		next = ref.RequestURI()
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="failforward"`)
	h.render(w, r, http.StatusUnauthorized, "error", page{Title: "Sign in first", Data: errorPage{
		Heading: "Sign in first",
		Message: "You are not signed in (or your sign-in has ended), so nothing was saved.",
		SignIn:  signInURL(next),
	}})
	return false
}

// signInURL is the sign-in page that returns to next.
func signInURL(next string) string {
	if next = safeNext(next); next == "/" {
		return "/signin"
	}
	return "/signin?next=" + url.QueryEscape(next)
}

// safeNext returns next when it is a path of this site worth returning
// to after signing in, and "/" otherwise, so that a link to the sign-in
// page cannot send anyone to another site (an open redirect): no scheme,
// no host, no "//" or "\" that a browser would read as one, and no
// control character that a browser would drop before reading it.
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	switch u.Path {
	case "/signin", "/signout", "/ui/live":
		return "/"
	}
	return next
}

// principal returns who sent r, for deciding what it may see and do: the
// signed-in principal, or nil, the local admin, when the UI has no
// sign-in.
func (h *Handler) principal(r *http.Request) *experiments.Principal {
	p := auth.PrincipalFrom(r.Context())
	if p == nil && h.authenticate != nil {
		// ServeHTTP lets no such request reach a page. Should one ever
		// get past it, a principal without a role sees only what the
		// whole organisation sees and may change nothing, where nil
		// could do everything.
		return &experiments.Principal{Name: "anonymous"}
	}
	return p
}

// viewer says what r may see.
func (h *Handler) viewer(r *http.Request) readmodel.Viewer {
	return readmodel.ViewerOf(h.principal(r))
}

// The pages hide what the principal cannot do, so that nobody is offered
// a form that can only fail; the domain decides, whatever a page shows.

// writesExperiments reports whether p may register experiments for some
// team.
func writesExperiments(p *experiments.Principal) bool {
	return p == nil || p.Role == experiments.RoleAdmin || slices.ContainsFunc(p.Teams, p.CanWriteExperiment)
}

// writesInnovations reports whether p may record innovations for some
// team.
func writesInnovations(p *experiments.Principal) bool {
	return p == nil || p.Role == experiments.RoleAdmin || p.Role == experiments.RoleLead ||
		slices.ContainsFunc(p.Teams, p.CanWriteInnovation)
}

// teamFor returns the team to offer in a new experiment or innovation
// form: the one the page suggests, unless p may not write for it and has
// exactly one team of its own, which is then the likelier choice.
func teamFor(p *experiments.Principal, suggested string, can func(team string) bool) string {
	if p != nil && len(p.Teams) == 1 && (suggested == "" || !can(suggested)) {
		return p.Teams[0]
	}
	return suggested
}

// notAllowed is the error of a form page that p could only fail to send.
func notAllowed(p *experiments.Principal, what string) error {
	return &experiments.Error{Code: experiments.CodeForbidden, Message: fmt.Sprintf("%s (%s) may not %s", p.Name, p.Role, what)}
}

// notAllowedText words the message of a CodeForbidden error, which names
// who may not do what, for a page or a form.
func notAllowedText(msg string) string {
	return strings.TrimSuffix(msg, ".") + ". Nothing was changed; an admin can give your token that right if you need it."
}
