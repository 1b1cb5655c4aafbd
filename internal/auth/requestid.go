package auth

import (
	"context"
	"net/http"

	"github.com/oklog/ulid/v2"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "" outside a
// request.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID returns the id of request r: the client's own X-Request-Id,
// else its X-Correlation-Id, when that is a valid id, or else a new ULID.
// A client's id is kept so that its logs and ours can be joined on it.
func RequestID(r *http.Request) string {
	for _, h := range [...]string{"X-Request-Id", "X-Correlation-Id"} {
		if v := r.Header.Get(h); validRequestID(v) {
			return v
		}
	}
	return ulid.Make().String()
}

// validRequestID accepts 1 to maxHeaderID printable ASCII characters:
// what can be echoed in a header and read in a log line as it was sent.
func validRequestID(v string) bool {
	if v == "" || len(v) > maxHeaderID {
		return false
	}
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
