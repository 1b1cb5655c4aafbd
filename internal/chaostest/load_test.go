//go:build linux

package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// thinkTime is how long a writer waits between two commands.
const thinkTime = 10 * time.Millisecond

// outcome is what one request came to.
type outcome int

const (
	// succeeded: a 2xx, or for a read a 404 of an experiment the
	// projector has not applied yet.
	succeeded outcome = iota
	// refused: 503 (or 429) with Retry-After; the client retries.
	refused
	// unanswered: no answer in time, or the connection failed.
	unanswered
	// failed: any other answer; a 500 above all is a bug.
	failed
)

// observation is one request the load made and what came of it.
type observation struct {
	at      time.Time // when the answer came, or the request failed
	write   bool
	outcome outcome
	status  int
}

// expectation is what the load knows of one experiment it registered.
type expectation struct {
	// version is the one the last acknowledged command on it answered.
	version uint64
	// uncertain is set when a command on it got a final answer that was
	// not a success: whether it took effect is unknown.
	uncertain bool
}

// load is a bounded load through several apis: writers that each
// register experiments and walk them through start, a learning and a
// conclusion, every command with an Idempotency-Key and retried with it
// until it is acknowledged; and readers that list and read experiments.
type load struct {
	apis   []string
	client *http.Client

	mu       sync.Mutex
	obs      []observation
	problems []string
	exps     map[string]*expectation
	ids      []string // of exps, in the order they were registered
}

func newLoad(apis []string) *load {
	return &load{
		apis: apis,
		// Longer than the api's own wait for a JetStream ack, so that a
		// slow write is answered (503) rather than cut off here.
		client: &http.Client{Timeout: 10 * time.Second},
		exps:   map[string]*expectation{},
	}
}

// run runs writers and readers until soft ends; a command in hand then
// is still retried until it is acknowledged or hard ends. The readers
// probe reads on their own, so that a write held up by a fault does not
// hold up reads.
func (l *load) run(soft, hard context.Context, writers, readers int) {
	var wg sync.WaitGroup
	for c := range writers {
		wg.Go(func() {
			for n := 0; soft.Err() == nil && hard.Err() == nil; n++ {
				l.walk(soft, hard, c, n)
			}
		})
	}
	for c := range readers {
		wg.Go(func() {
			for n := 0; soft.Err() == nil; n++ {
				// Each read runs to its end: one cut short when the load
				// stops is not the topology's failure.
				l.read(hard, c+n, fmt.Sprintf("/v1/experiments?team=team-%d&limit=5", n%writers))
				if id := l.someExperiment(n); id != "" {
					l.read(hard, c+n+1, "/v1/experiments/"+id)
				}
				pause(soft, 10*time.Millisecond)
			}
		})
	}
	wg.Wait()
}

// someExperiment returns one of the last experiments registered, which
// the projector may not have applied yet.
func (l *load) someExperiment(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ""
	}
	return l.ids[len(l.ids)-1-n%min(len(l.ids), 50)]
}

// walk takes one experiment through its life. It stops between two
// commands once soft ends, so that what it acknowledged is exact.
func (l *load) walk(soft, hard context.Context, c, n int) {
	team := fmt.Sprintf("team-%d", c)
	key := func(step string) string { return fmt.Sprintf("chaos-%d-%d-%s", c, n, step) }
	exp, ok := l.command(hard, c+n, "/v1/experiments", key("register"), map[string]any{
		"team": team, "title": fmt.Sprintf("Experiment %d of client %d", n, c),
		"hypothesis": "a banner lifts sign-ups", "kind": "ab_test", "tags": []string{"chaos"},
	})
	if !ok {
		return
	}
	id, _ := exp["id"].(string)
	l.acknowledged(id, exp)
	steps := []struct {
		path string
		body any
	}{
		{"/start", nil},
		{"/learnings", map[string]any{"text": "users ignore banners", "skills": []string{"copywriting"}}},
		{"/conclude", map[string]any{
			"outcome": "failed", "decision": "pivot", "summary": "no lift",
			"learnings": []map[string]any{{"text": "placement matters more than colour", "skills": []string{"design"}}},
		}},
	}
	for i, s := range steps {
		// A user's think time: it keeps the stream, and so the replay
		// that checks it, to a size a CI machine gets through quickly.
		pause(soft, thinkTime)
		if soft.Err() != nil {
			return
		}
		res, ok := l.command(hard, c+n+i, "/v1/experiments/"+id+s.path, key(s.path), s.body)
		if !ok {
			l.mu.Lock()
			l.exps[id].uncertain = true
			l.mu.Unlock()
			return
		}
		l.acknowledged(id, res)
	}
}

// acknowledged records the version a command on experiment id answered.
func (l *load) acknowledged(id string, res map[string]any) {
	v, _ := res["version"].(float64)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.exps[id]
	if e == nil {
		e = &expectation{}
		l.exps[id] = e
		l.ids = append(l.ids, id)
	}
	e.version = uint64(v)
}

// command POSTs body until it gets a final answer, switching api on each
// attempt as a load balancer would. A refusal is retried after its
// Retry-After, an unanswered request at once; both with the same
// Idempotency-Key. It reports whether the command was acknowledged.
func (l *load) command(ctx context.Context, pick int, path, key string, body any) (map[string]any, bool) {
	payload, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	if body == nil {
		payload = nil
	}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			l.problem("POST %s: still not acknowledged when the load gave up", path)
			return nil, false
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", l.apis[(pick+attempt)%len(l.apis)]+path, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		status, header, resBody, err := l.do(req)
		o := l.observe(true, path, status, header, err)
		switch o {
		case succeeded:
			var res map[string]any
			if err := json.Unmarshal(resBody, &res); err != nil {
				l.problem("POST %s = %d with a body that is not JSON: %v", path, status, err)
				return nil, false
			}
			return res, true
		case refused:
			pause(ctx, retryAfter(header))
		case unanswered:
			pause(ctx, 50*time.Millisecond)
		default:
			l.problem("POST %s (attempt %d) = %d %s", path, attempt+1, status, bytes.TrimSpace(resBody))
			return nil, false
		}
	}
}

// read GETs path once: reads probe availability, and are not retried.
func (l *load) read(ctx context.Context, pick int, path string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", l.apis[pick%len(l.apis)]+path, nil)
	status, header, body, err := l.do(req)
	if l.observe(false, path, status, header, err) == failed {
		l.problem("GET %s = %d %s", path, status, bytes.TrimSpace(body))
	}
}

func (l *load) do(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// observe classifies and records one request. A refusal must say when
// to come back.
func (l *load) observe(write bool, path string, status int, header http.Header, err error) outcome {
	o := failed
	switch {
	case err != nil:
		o = unanswered
	case status >= 200 && status < 300, !write && status == http.StatusNotFound:
		o = succeeded
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
		o = refused
		if header.Get("Retry-After") == "" {
			l.problem("%s answered %d without Retry-After", path, status)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.obs = append(l.obs, observation{at: time.Now(), write: write, outcome: o, status: status})
	return o
}

func (l *load) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// retryAfter reads the seconds a refusal asks the client to wait; 1 when
// it names none, since a refusal without one is retried all the same.
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
