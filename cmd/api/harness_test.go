package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// app is an api started by run on port 0, with the client helpers the
// tests share.
type app struct {
	t      *testing.T
	base   string
	client *http.Client
	out    *lines
	js     jetstream.JetStream // connected on first use
	// stop ends run and waits for it, as the test's end does; it may be
	// called before, to restart the api on the same DATA_DIR.
	stop func()
}

// lines collects what run prints and reports the first line with a prefix.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find polls until a printed line starts with prefix and returns the rest.
func (l *lines) find(t *testing.T, prefix string, errc <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(l.String()))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				return rest
			}
		}
		select {
		case err := <-errc:
			t.Fatalf("api stopped before printing %q: %v\n%s", prefix, err, l.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("api never printed %q:\n%s", prefix, l.String())
	return ""
}

// startApp runs the api with env (ADDR defaults to port 0) until the test
// ends, and waits until /readyz answers 200.
func startApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	return startAppArgs(t, nil, env)
}

// startAppArgs is startApp with command-line arguments.
func startAppArgs(t *testing.T, args []string, env map[string]string) *app {
	t.Helper()
	if env["ADDR"] == "" {
		env["ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lines{}
	errc := make(chan error, 1)
	// Logs go to the same buffer as the startup lines, so tests can read both.
	go func() { errc <- run(ctx, args, func(k string) string { return env[k] }, out, out) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	a := &app{t: t, base: a0(out.find(t, "api: listening on ", errc)), client: &http.Client{Timeout: 30 * time.Second}, out: out, stop: stop}
	a.waitReady()
	return a
}

func a0(s string) string { return strings.TrimSpace(s) }

func (a *app) waitReady() {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := a.client.Get(a.base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("api at %s never became ready: %s\n%s", a.base, last, a.out.String())
}

// response is a decoded reply.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// obj decodes the body as a JSON object.
func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// errField returns the error's code and field.
func (r response) errField(t *testing.T) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	r.json(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	return e.Error.Code, e.Error.Field
}

// do sends body (a string is sent as is, anything else as JSON).
func (a *app) do(method, path string, body any, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless the status is want.
func (a *app) must(want int, method, path string, body any, header ...string) map[string]any {
	a.t.Helper()
	r := a.do(method, path, body, header...)
	if r.status != want {
		a.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, want)
	}
	if len(r.body) == 0 || r.body[0] != '{' {
		return nil
	}
	return r.obj(a.t)
}

// position returns the stream position a command reply carries.
func position(m map[string]any) string { return fmt.Sprintf("%.0f", m["position"].(float64)) }
