package healthcheck_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/failforward/failforward/internal/healthcheck"
)

func TestRun(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if err := healthcheck.Run(context.Background(), nil, srv.URL, io.Discard); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := healthcheck.Run(context.Background(), []string{"-url", srv.URL}, "http://unused", io.Discard); err == nil {
		t.Fatal("unhealthy server passed")
	}
	srv.Close()
	if err := healthcheck.Run(context.Background(), nil, srv.URL, io.Discard); err == nil {
		t.Fatal("stopped server passed")
	}
}
