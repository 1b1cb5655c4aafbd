package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// buildCmd compiles the command in package pkg into dir and returns the
// binary's path.
func buildCmd(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// proc is a product binary running as its own process.
type proc struct {
	cmd  *exec.Cmd
	out  *lines
	done chan struct{}
}

// startProc starts bin with env added to the test's environment, and
// kills it when the test ends if it is still running.
func startProc(t *testing.T, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// The product's own settings come from env alone, never from the
	// shell that runs the tests (which may name a shared database).
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "ADDR", "NATS_URL", "DATABASE_URL", "DATA_DIR", "AUTH_FILE", "METRICS_ADDR":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, out: &lines{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// app returns a client of the api process, once it is ready.
func (p *proc) app(t *testing.T) *app {
	t.Helper()
	errc := make(chan error, 1)
	go func() { <-p.done; errc <- fmt.Errorf("exited: %v", p.cmd.ProcessState) }()
	a := &app{t: t, base: strings.TrimSpace(p.out.find(t, "api: listening on ", errc)), client: &http.Client{Timeout: 30 * time.Second}, out: p.out}
	a.waitReady()
	return a
}

// TestStopDuringBurst stops the one-process product (SIGKILL, SIGTERM,
// SIGINT) in the middle of a burst of commands and starts it again: every
// command that got a 2xx is in the stream and in the read models, exactly
// once.
func TestStopDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the api binary")
	}
	bin := buildCmd(t, "github.com/failforward/failforward/cmd/api")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { stopDuringBurst(t, bin, sig) })
	}
}

func stopDuringBurst(t *testing.T, bin string, sig syscall.Signal) {
	dataDir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"ADDR": "127.0.0.1:0", "DATA_DIR": dataDir}
	first := startProc(t, bin, env)
	a := first.app(t)

	const total, workers = 1000, 8
	type accepted struct{ learnings []string }
	var (
		mu      sync.Mutex
		byID    = map[string]*accepted{}
		sent    int
		wg      sync.WaitGroup
		started = make(chan struct{})
		once    sync.Once
	)
	quiet := &http.Client{Timeout: 5 * time.Second}
	post := func(path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		resp, err := quiet.Post(a.base+path, "application/json", strings.NewReader(string(b)))
		if err != nil {
			return 0, nil // the process is gone; the command's fate is unknown
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				if sent >= total {
					mu.Unlock()
					return
				}
				sent += 5
				mu.Unlock()
				status, m := post("/v1/experiments", map[string]any{"team": "burst", "title": fmt.Sprintf("w%d-%d", w, i), "hypothesis": "h"})
				if status == 0 {
					return
				}
				if status != http.StatusCreated {
					t.Errorf("register = %d %v", status, m)
					return
				}
				id := m["id"].(string)
				mu.Lock()
				byID[id] = &accepted{}
				mu.Unlock()
				once.Do(func() { close(started) })
				for l := range 4 {
					text := fmt.Sprintf("%s learning %d", id, l)
					status, _ := post("/v1/experiments/"+id+"/learnings", map[string]any{"text": text})
					if status == 0 {
						return
					}
					if status == http.StatusCreated {
						mu.Lock()
						byID[id].learnings = append(byID[id].learnings, text)
						mu.Unlock()
					}
				}
			}
		})
	}
	<-started
	// Kill once a good part of the burst has been acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(byID)
		mu.Unlock()
		if n >= 60 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.cmd.Process.Signal(sig)
	<-first.done
	wg.Wait()

	second := startProc(t, bin, env)
	b := second.app(t)
	last, perID := streamCounts(t, second.out)
	var ok int
	for id, acc := range byID {
		r := b.do("GET", "/v1/experiments/"+id+fmt.Sprintf("?min_position=%d", last), nil)
		if r.status != http.StatusOK {
			t.Fatalf("acknowledged experiment %s after restart: %d %s", id, r.status, r.body)
		}
		var e struct {
			Learnings []struct{ Text string }
			Version   int
		}
		r.json(t, &e)
		count := map[string]int{}
		for _, l := range e.Learnings {
			count[l.Text]++
		}
		for _, text := range acc.learnings {
			if count[text] != 1 {
				t.Errorf("%s: acknowledged learning %q appears %d times", id, text, count[text])
			}
		}
		// The read model holds exactly what the stream holds.
		if e.Version != perID[id] || e.Version != 1+len(e.Learnings) {
			t.Errorf("%s: read model at version %d with %d learnings; the stream has %d events", id, e.Version, len(e.Learnings), perID[id])
		}
		ok++
	}
	if ok == 0 {
		t.Fatal("no command was acknowledged before the kill")
	}
	t.Logf("%d experiments acknowledged before %s; stream at %d", ok, sig, last)
}

// streamCounts reads, through the NATS URL the process printed, the
// stream's last sequence and how many events each experiment has.
func streamCounts(t *testing.T, out *lines) (uint64, map[string]int) {
	t.Helper()
	line := out.find(t, "event store: ", nil)
	i := strings.Index(line, "nats://")
	nc, err := nats.Connect(strings.TrimSpace(line[i:]))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), "TRACKER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("tracker.experiment.>"))
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]int{}
	for subject, n := range info.State.Subjects {
		perID[strings.Split(subject, ".")[2]] += int(n)
	}
	return info.State.LastSeq, perID
}
