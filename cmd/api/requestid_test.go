package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// TestRequestIDInEventAndLog checks that a command's X-Request-Id is the
// correlation id of the event it appended and is in the JSON log line of
// the request, with its method, route, status and duration; that a
// client's own id is kept; that a header too long is still refused; and
// that with tracing off no trace context is recorded.
func TestRequestIDInEventAndLog(t *testing.T) {
	a := startApp(t, map[string]string{"DATA_DIR": filepath.Join(t.TempDir(), "data"), "LOG_FORMAT": "json"})
	body := map[string]any{"team": "growth", "title": "ids", "hypothesis": "h"}

	r := a.do("POST", "/v1/experiments", body)
	if r.status != http.StatusCreated {
		t.Fatalf("register = %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id on the reply")
	}
	stream, err := a.jetStream().Stream(context.Background(), events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(context.Background(), events.SubjectRoot+".>")
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if env.CorrelationID != id || env.CausationID != id {
		t.Errorf("event correlation %q, causation %q, want the request id %q", env.CorrelationID, env.CausationID, id)
	}
	if env.TraceParent != "" || msg.Header.Get(events.HeaderTraceParent) != "" {
		t.Errorf("with no OTEL_* set, the event carries traceparent %q", env.TraceParent)
	}
	line := requestLine(t, a, id)
	if line["method"] != "POST" || line["route"] != "/v1/experiments" || line["status"] != float64(http.StatusCreated) || line["level"] != "INFO" {
		t.Errorf("request line %v lacks its method, route, status or level", line)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("request line %v has no duration", line)
	}

	r = a.do("POST", "/v1/experiments", body, "X-Request-Id", "client-req-1")
	if got := r.header.Get("X-Request-Id"); r.status != http.StatusCreated || got != "client-req-1" {
		t.Errorf("with the client's id: %d, X-Request-Id %q, want 201 and client-req-1", r.status, got)
	}
	requestLine(t, a, "client-req-1")

	r = a.do("POST", "/v1/experiments", body, "X-Request-Id", strings.Repeat("x", 201))
	if code, field := r.errField(t); r.status != http.StatusBadRequest || field != "X-Request-Id" {
		t.Errorf("a 201-character X-Request-Id = %d %s on %q, want 400 naming it", r.status, code, field)
	}
	if got := r.header.Get("X-Request-Id"); len(got) != 26 {
		t.Errorf("refused request's X-Request-Id = %q, want a fresh id", got)
	}
}

// requestLine polls the api's output for the JSON request line with
// request id id: it is written once the reply is sent.
func requestLine(t *testing.T, a *app, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(a.out.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "request" && line["request_id"] == id {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no JSON request line with request_id %q in:\n%s", id, a.out.String())
	return nil
}
