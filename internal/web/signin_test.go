package web_test

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/web"
)

// TestSignInOverTLS checks that over TLS the session cookie is Secure, so
// that the browser never sends the token in clear. The end-to-end tests
// of sign-in, with the real server in front, are in cmd/api.
func TestSignInOverTLS(t *testing.T) {
	const good = "ff_good"
	e := newEnv(t, readstore.SQLite, testNow, func(c *web.Config) {
		c.Authenticate = func(token string) (*experiments.Principal, error) {
			if token != good {
				return nil, errors.New("unknown token")
			}
			return &experiments.Principal{Name: "ada", Role: experiments.RoleMember, Teams: []string{"growth"}}, nil
		}
	})
	srv := httptest.NewTLSServer(e.h)
	t.Cleanup(srv.Close)
	c := &client{tb: t, srv: srv, c: srv.Client()}
	c.c.Jar, _ = cookiejar.New(nil)
	c.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// Nothing in front of the handler signs requests in here, so every
	// page but the public ones sends the browser to sign in.
	if status, h, _ := c.get("/experiments"); status != http.StatusSeeOther || h.Get("Location") != "/signin?next=%2Fexperiments" {
		t.Errorf("GET /experiments without a principal = %d to %q, want 303 to sign in", status, h.Get("Location"))
	}
	_, _, page := c.get("/signin")
	status, h, _ := c.post("/signin", url.Values{"csrf_token": {token(t, page)}, "token": {good}, "next": {"/backlog"}})
	if status != http.StatusSeeOther || h.Get("Location") != "/backlog" {
		t.Fatalf("sign in = %d to %q, want 303 to /backlog", status, h.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range (&http.Response{Header: h}).Cookies() {
		if k.Name == auth.CookieName {
			ck = k
		}
	}
	if ck == nil || ck.Value != good || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge != 12*3600 {
		t.Errorf("session cookie over TLS = %+v, want Secure, HttpOnly, SameSite=Strict, Path=/ for 12h", ck)
	}
}

// TestNoSignInWithoutAuthenticate checks that without Authenticate the
// UI is the local admin's, with no sign-in pages and no sign-out button.
func TestNoSignInWithoutAuthenticate(t *testing.T) {
	e := newEnv(t, readstore.SQLite, testNow)
	c := newClient(t, e.h)
	if status, _, _ := c.get("/signin"); status != http.StatusNotFound {
		t.Errorf("GET /signin without Authenticate = %d, want 404", status)
	}
	status, _, page := c.get("/experiments")
	if status != http.StatusOK || strings.Contains(page, "/signout") || !strings.Contains(page, `href="/experiments/new"`) {
		t.Errorf("GET /experiments without Authenticate = %d, want the local admin's page", status)
	}
}
