package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
)

// TestRequestID checks that a client's valid id is kept, X-Request-Id
// before X-Correlation-Id, and that anything else gets a fresh id.
func TestRequestID(t *testing.T) {
	tests := []struct {
		name              string
		requestID, corrID string
		want              string // "" for a generated id
	}{
		{name: "none"},
		{name: "request id", requestID: "r-1", corrID: "c-1", want: "r-1"},
		{name: "correlation id", corrID: "c-1", want: "c-1"},
		{name: "too long", requestID: strings.Repeat("x", 201)},
		{name: "not printable", requestID: "r\x01", corrID: "c-2", want: "c-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.requestID != "" {
				r.Header.Set("X-Request-Id", tt.requestID)
			}
			if tt.corrID != "" {
				r.Header.Set("X-Correlation-Id", tt.corrID)
			}
			got := auth.RequestID(r)
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("RequestID = %q, want %q", got, tt.want)
			case tt.want == "" && (len(got) != 26 || got == auth.RequestID(r)):
				t.Errorf("RequestID = %q, want a fresh ULID each time", got)
			}
		})
	}
}

// TestMetaDefaultsToRequestID checks that a command without correlation
// or causation headers records the request's id as both.
func TestMetaDefaultsToRequestID(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/experiments", nil)
	r = r.WithContext(auth.WithRequestID(r.Context(), "req-9"))
	m, err := auth.Meta(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.CorrelationID != "req-9" || m.CausationID != "req-9" {
		t.Errorf("correlation %q, causation %q, want the request id req-9 for both", m.CorrelationID, m.CausationID)
	}
	r.Header.Set("X-Correlation-Id", "c-1")
	if m, _ := auth.Meta(r, nil); m.CorrelationID != "c-1" || m.CausationID != "req-9" {
		t.Errorf("correlation %q, causation %q, want the client's c-1 and the request id req-9", m.CorrelationID, m.CausationID)
	}
}
