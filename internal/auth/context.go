package auth

import (
	"context"

	"github.com/failforward/failforward/internal/experiments"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, p *experiments.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries, or nil: the
// unrestricted local user of a server without AUTH_FILE.
func PrincipalFrom(ctx context.Context) *experiments.Principal {
	p, _ := ctx.Value(principalKey{}).(*experiments.Principal)
	return p
}

// CookieName is the browser session cookie that carries a token.
const CookieName = "failforward_token"
