package web

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/failforward/failforward/internal/auth"
)

// signInData is what the sign-in form renders.
type signInData struct {
	Form *form
	// Next is where a successful sign-in goes.
	Next string
}

// sessionCookie is the cookie that carries a token from the sign-in form
// to every later request. The page's script never needs it (HttpOnly),
// no other site's page can make the browser send it (SameSite=Strict),
// and over TLS it never travels in clear (Secure). maxAge < 0 deletes it.
func (h *Handler) sessionCookie(r *http.Request, token string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: auth.CookieName, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	}
}

func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request) {
	if h.authenticate == nil {
		h.handleNotFound(w, r)
		return
	}
	h.render(w, r, http.StatusOK, "signin", page{Title: "Sign in",
		Data: signInData{Form: newForm(nil), Next: safeNext(r.URL.Query().Get("next"))}})
}

// postSignIn checks the token and, if the server knows it, keeps it in
// the session cookie. The token is never written back into the page, nor
// to the log.
func (h *Handler) postSignIn(w http.ResponseWriter, r *http.Request) {
	if h.authenticate == nil {
		h.handleNotFound(w, r)
		return
	}
	f, status := h.readForm(w, r)
	token := strings.TrimSpace(f.Value("token"))
	f.Values.Del("token")
	next := safeNext(f.Value("next"))
	if status == http.StatusForbidden {
		f.Error = "This form had expired. Paste your token again to sign in."
	}
	if status == http.StatusOK {
		if token == "" {
			f.setField("token", "Enter your token.")
			status = http.StatusUnprocessableEntity
		} else if p, err := h.authenticate(token); err != nil {
			h.log.Info("sign-in refused: unknown token", slog.String("remote", r.RemoteAddr))
			f.setField("token", "This server knows no such token. Check that you pasted all of it, or ask an admin for a new one.")
			w.Header().Set("WWW-Authenticate", `Bearer realm="failforward"`)
			status = http.StatusUnauthorized
		} else {
			http.SetCookie(w, h.sessionCookie(r, token, int(h.signInFor.Seconds())))
			h.log.Info("signed in", slog.String("name", p.Name), slog.String("role", string(p.Role)))
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	h.render(w, r, status, "signin", page{Title: "Sign in", Data: signInData{Form: f, Next: next}})
}

// postSignOut forgets the session cookie. It is a form with a CSRF token,
// so that no other page can sign someone out.
func (h *Handler) postSignOut(w http.ResponseWriter, r *http.Request) {
	if h.authenticate == nil {
		h.handleNotFound(w, r)
		return
	}
	if _, status := h.readForm(w, r); status != http.StatusOK {
		h.render(w, r, status, "error", page{Title: "Still signed in", Data: errorPage{
			Heading: "You are still signed in", Message: "The sign-out form had expired. Use the Sign out button at the top of this page."}})
		return
	}
	http.SetCookie(w, h.sessionCookie(r, "", -1))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
