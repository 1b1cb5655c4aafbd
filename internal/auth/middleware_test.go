package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// TestMiddleware checks who each request is signed in as: bearer tokens
// everywhere, the session cookie on pages only.
func TestMiddleware(t *testing.T) {
	token, entry, err := auth.NewToken("ada", experiments.RoleMember, []string{"growth"})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.New(auth.File{Tokens: []auth.Entry{entry}})
	if err != nil {
		t.Fatal(err)
	}
	unknown, _, err := auth.NewToken("eve", experiments.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	h := auth.Middleware(tokens, refuse, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := auth.PrincipalFrom(r.Context()); p != nil {
			w.Write([]byte(p.Name))
		}
	}))
	for _, tt := range []struct {
		name, path, bearer, cookie string
		status                     int
		who                        string
	}{
		{"API with its token", "/v1/experiments", token, "", http.StatusOK, "ada"},
		{"API without a token", "/v1/experiments", "", "", http.StatusUnauthorized, ""},
		{"API with the session cookie only", "/v1/experiments", "", token, http.StatusUnauthorized, ""},
		{"API with an unknown token", "/v1/experiments", unknown, "", http.StatusUnauthorized, ""},
		{"page with the session cookie", "/experiments", "", token, http.StatusOK, "ada"},
		{"page with a stale cookie", "/experiments", "", unknown, http.StatusOK, ""},
		{"page signed out", "/experiments", "", "", http.StatusOK, ""},
		{"page with a bearer token", "/experiments", token, "", http.StatusOK, "ada"},
		{"page with an unknown bearer token", "/experiments", unknown, token, http.StatusUnauthorized, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.status || rec.Body.String() != tt.who {
				t.Errorf("%s %s = %d as %q, want %d as %q", tt.path, tt.name, rec.Code, rec.Body.String(), tt.status, tt.who)
			}
			if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
		})
	}
}

// TestMeta checks that a command's metadata comes from its headers and
// that a header too long or malformed is refused by name.
func TestMeta(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/experiments", nil)
	r.Header.Set("X-Correlation-Id", "c-1")
	r.Header.Set("X-Request-Id", "r-1")
	r.Header.Set("Idempotency-Key", "k-1")
	r.Header.Set("If-Match", `W/"7"`)
	m, err := auth.Meta(r, &experiments.Principal{Name: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Actor != "ada" || m.CorrelationID != "c-1" || m.CausationID != "r-1" || m.IdempotencyKey != "k-1" || m.IfMatch == nil || *m.IfMatch != 7 {
		t.Errorf("Meta = %+v", m)
	}
	if m, _ := auth.Meta(httptest.NewRequest(http.MethodPost, "/", nil), nil); m.Actor != "local" {
		t.Errorf("the local admin's actor is %q, want local", m.Actor)
	}
	for _, header := range []string{"X-Correlation-Id", "X-Request-Id", "Idempotency-Key", "If-Match"} {
		r := httptest.NewRequest(http.MethodPost, "/v1/experiments", nil)
		r.Header.Set(header, strings.Repeat("x", 201))
		_, err := auth.Meta(r, nil)
		var de *experiments.Error
		if !errors.As(err, &de) || de.Code != experiments.CodeInvalid || de.Field != header {
			t.Errorf("%s of 201 characters: %v, want an invalid error naming it", header, err)
		}
	}
}
