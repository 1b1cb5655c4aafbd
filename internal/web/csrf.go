package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// csrfCookie holds a random nonce; a form's token is the HMAC of that
// nonce under the process's key. A page on another site can neither read
// the cookie nor compute the token, and SameSite=Strict keeps the browser
// from sending the cookie with a cross-site form post in the first place.
// The sign-in's session cookie (signin.go) is set the same way.
const (
	csrfCookie = "ff_csrf"
	csrfField  = "csrf_token"
	nonceBytes = 18
)

type csrf struct {
	key []byte
}

type nonceKey struct{}

// ensure gives the request a nonce: the cookie's when it has a well-formed
// one, else a new one that is set as the cookie. It returns the request
// with the nonce in its context, so that the page rendered for it can
// carry a token before the browser has stored the cookie.
func (c csrf) ensure(w http.ResponseWriter, r *http.Request) *http.Request {
	if ck, err := r.Cookie(csrfCookie); err == nil && validNonce(ck.Value) {
		return r.WithContext(context.WithValue(r.Context(), nonceKey{}, ck.Value))
	}
	b := make([]byte, nonceBytes)
	if _, err := rand.Read(b); err != nil {
		return r // no nonce, no token: forms then fail their check, safely
	}
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: nonce, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil,
	})
	return r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce))
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == nonceBytes
}

func (c csrf) sign(nonce string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// token returns the form token for the request's nonce, or "" without one.
func (c csrf) token(r *http.Request) string {
	nonce, _ := r.Context().Value(nonceKey{}).(string)
	if nonce == "" {
		return ""
	}
	return c.sign(nonce)
}

// check reports whether a posted form carries the token of the nonce in
// the request's own cookie (not one ensure just made up).
func (c csrf) check(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || !validNonce(ck.Value) {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(c.sign(ck.Value)))
}
