package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// pollUnavailable repeats a request until it answers 503, for up to 15s,
// failing at once on any other error status: a fault must never show as
// a 500.
func (a *app) pollUnavailable(method, path string, body any) response {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := a.do(method, path, body)
		switch {
		case r.status == http.StatusServiceUnavailable:
			if got := r.header.Get("Retry-After"); got != "1" {
				a.t.Errorf("%s %s: 503 with Retry-After %q, want 1", method, path, got)
			}
			if code, _ := r.errField(a.t); code != "unavailable" {
				a.t.Errorf("%s %s: 503 with code %q, want unavailable", method, path, code)
			}
			return r
		case r.status >= 400:
			a.t.Fatalf("%s %s = %d %s while a store is down, want 503", method, path, r.status, r.body)
		case time.Now().After(deadline):
			a.t.Fatalf("%s %s still answers %d, want 503", method, path, r.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastSequence reads the stream's last sequence from the server at url.
func lastSequence(t *testing.T, url string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.LastSeq
}

// TestCommandWhileNATSIsDown shuts the NATS server down under a running
// api: commands answer 503 with Retry-After, and none of them is written
// once the server is back.
func TestCommandWhileNATSIsDown(t *testing.T) {
	srv, _ := natsembedtest.Start(t)
	natsURL := srv.ClientURL()
	a := startApp(t, map[string]string{"NATS_URL": natsURL, "DATA_DIR": t.TempDir()})
	create := map[string]any{"team": "growth", "title": "Fault", "hypothesis": "h"}
	a.must(http.StatusCreated, "POST", "/v1/experiments", create)
	before := lastSequence(t, natsURL)

	port := srv.Addr().(*net.TCPAddr).Port
	dir := srv.StoreDir()
	srv.Shutdown()
	a.pollUnavailable("POST", "/v1/experiments", create)
	for range 3 {
		a.pollUnavailable("POST", "/v1/experiments", create)
	}

	// Back on the same port and store: nothing the api refused was
	// written late, and commands work again once it has reconnected.
	back, err := natsembed.Start(natsembed.Config{StoreDir: dir, Port: port, Sync: natsembed.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Shutdown)
	if got := lastSequence(t, natsURL); got != before {
		t.Fatalf("stream's last sequence = %d after the outage, want %d: a refused command was written", got, before)
	}
	a.pollStatus(http.StatusCreated, "POST", "/v1/experiments", create)
}

// proxy forwards TCP connections to target until it is closed, which also
// cuts every connection it carries: a database that becomes unreachable.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(p.close)
	return p
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestReadWhilePostgresIsDown cuts the api off from its Postgres read
// store: queries answer 503 with Retry-After, and commands, which only
// need the event store, still work.
func TestReadWhilePostgresIsDown(t *testing.T) {
	dbURL := readstoretest.URL(t, readstore.Postgres)
	db, err := readstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	srv, _ := natsembedtest.Start(t)
	// With both stores external the projector is its own process, so the
	// api alone meets the outage.
	a := startApp(t, map[string]string{"NATS_URL": srv.ClientURL(), "DATABASE_URL": u.String()})
	a.must(http.StatusOK, "GET", "/v1/experiments", nil)

	p.close()
	a.pollUnavailable("GET", "/v1/experiments", nil)
	a.pollUnavailable("GET", "/v1/dashboard/outcomes", nil)
	a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "Still writes", "hypothesis": "h"})
	if r := a.do("GET", "/readyz", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while the read store is down, want 503", r.status)
	}
}
