package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startEmbedded runs the api as a new user would: nothing configured but a
// data directory.
func startEmbedded(t *testing.T) *app {
	t.Helper()
	return startApp(t, map[string]string{"DATA_DIR": filepath.Join(t.TempDir(), "data")})
}

// jetStream connects to the event store through the NATS URL the api
// printed, for the rest of the test.
func (a *app) jetStream() jetstream.JetStream {
	a.t.Helper()
	if a.js != nil {
		return a.js
	}
	line := a.out.find(a.t, "event store: ", nil)
	i := strings.Index(line, "nats://")
	if i < 0 {
		a.t.Fatalf("no NATS URL in %q", line)
	}
	nc, err := nats.Connect(strings.TrimSpace(line[i:]))
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		a.t.Fatal(err)
	}
	a.js = js
	return js
}

// streamLast returns the TRACKER stream's last sequence.
func (a *app) streamLast() uint64 {
	a.t.Helper()
	s, err := a.jetStream().Stream(context.Background(), "TRACKER")
	if err != nil {
		a.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return info.State.LastSeq
}

func ids(t *testing.T, items []any) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestLineageScenario walks the product's central story: two failures
// lead to a success that ships, and the innovation credits all three.
func TestLineageScenario(t *testing.T) {
	walkLineageScenario(t, startEmbedded(t))
}

// walkLineageScenario registers A, B building on A and C building on B;
// A and B fail, C succeeds and informs innovation I; a failure of another
// team feeds nothing. It checks both lineages, the failure yield and the
// learning backlog.
func walkLineageScenario(t *testing.T, a *app) {
	t.Helper()
	register := func(team, title string, buildsOn ...string) string {
		body := map[string]any{"team": team, "title": title, "hypothesis": "h of " + title, "kind": "ab_test"}
		if len(buildsOn) > 0 {
			body["builds_on"] = buildsOn
		}
		return a.must(http.StatusCreated, "POST", "/v1/experiments", body)["id"].(string)
	}
	conclude := func(id, outcome string, learnings ...string) map[string]any {
		a.must(http.StatusOK, "POST", "/v1/experiments/"+id+"/start", nil)
		var ls []map[string]any
		for _, l := range learnings {
			ls = append(ls, map[string]any{"text": l, "skills": []string{"pricing"}})
		}
		return a.must(http.StatusOK, "POST", "/v1/experiments/"+id+"/conclude", map[string]any{
			"outcome": outcome, "decision": "iterate", "summary": "s", "learnings": ls,
		})
	}
	expA := register("growth", "A")
	concludedA := conclude(expA, "failed", "users ignore banners", "price anchoring works")
	if got := len(concludedA["learnings"].([]any)); got != 2 {
		t.Fatalf("A has %d learnings after conclude, want 2", got)
	}
	expB := register("growth", "B", expA)
	conclude(expB, "failed", "too late in the funnel")
	expC := register("growth", "C", expB)
	conclude(expC, "succeeded")
	inn := a.must(http.StatusCreated, "POST", "/v1/innovations", map[string]any{
		"team": "growth", "title": "I", "informed_by": []map[string]any{{"experiment_id": expC}},
	})
	innID, pos := inn["id"].(string), position(inn)
	// A failure in another team that nothing builds on or links to.
	lone := register("search", "lonely failure")
	lonePos := position(conclude(lone, "failed", "nobody used the export"))

	lin := a.must(http.StatusOK, "GET", "/v1/innovations/"+innID+"/lineage?min_position="+pos, nil)
	up := lin["upstream"].([]any)
	if got, want := ids(t, up), sorted(expA, expB, expC); !slices.Equal(got, want) {
		t.Fatalf("innovation lineage = %v, want %v", got, want)
	}
	for _, n := range up {
		n := n.(map[string]any)
		wantFailed := n["id"] != expC
		if n["failed"] != wantFailed {
			t.Errorf("lineage node %s failed = %v, want %v", n["id"], n["failed"], wantFailed)
		}
	}

	elin := a.must(http.StatusOK, "GET", "/v1/experiments/"+expA+"/lineage", nil)
	if got, want := ids(t, elin["downstream"].([]any)), sorted(expB, expC); !slices.Equal(got, want) {
		t.Fatalf("A's downstream = %v, want %v", got, want)
	}
	if got := ids(t, elin["innovations"].([]any)); !slices.Equal(got, []string{innID}) {
		t.Fatalf("A's innovations = %v, want [%s]", got, innID)
	}

	report := a.must(http.StatusOK, "GET", "/v1/dashboard/outcomes?team=growth", nil)
	found := false
	for _, p := range report["periods"].([]any) {
		p := p.(map[string]any)
		if p["team"] == "growth" {
			found = true
			// A and B failed, and both fed I through C.
			if y := p["failure_yield"]; y != 1.0 {
				t.Errorf("growth failure yield = %v, want 1", y)
			}
		}
	}
	if !found {
		t.Fatalf("no growth period in %v", report)
	}

	backlog := a.do("GET", "/v1/dashboard/failures?unlinked=true&min_position="+lonePos, nil)
	if backlog.status != http.StatusOK {
		t.Fatalf("backlog = %d %s", backlog.status, backlog.body)
	}
	var page struct{ Items []map[string]any }
	backlog.json(t, &page)
	var got []string
	for _, it := range page.Items {
		got = append(got, it["id"].(string))
	}
	if !slices.Equal(got, []string{lone}) {
		t.Fatalf("learning backlog = %v, want only the lonely failure %s", got, lone)
	}
}

// TestBadInput sends every kind of bad request and checks its status, its
// error field, and that nothing reached the stream.
func TestBadInput(t *testing.T) {
	a := startEmbedded(t)
	planned := a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "planned", "hypothesis": "h"})
	running := a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "running", "hypothesis": "h"})
	a.must(http.StatusOK, "POST", "/v1/experiments/"+running["id"].(string)+"/start", nil)
	pid, rid := planned["id"].(string), running["id"].(string)
	before := a.streamLast()

	cases := []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		field              string
	}{
		{"malformed JSON", "POST", "/v1/experiments", `{"team": "growth",`, nil, 400, ""},
		{"not JSON at all", "POST", "/v1/experiments", `team=growth`, nil, 400, ""},
		{"unknown field", "POST", "/v1/experiments", `{"team":"growth","title":"t","hypothesis":"h","colour":"red"}`, nil, 400, "colour"},
		{"missing title", "POST", "/v1/experiments", map[string]any{"team": "growth", "hypothesis": "h"}, nil, 400, "title"},
		{"10 KB title", "POST", "/v1/experiments", map[string]any{"team": "growth", "title": strings.Repeat("x", 10240), "hypothesis": "h"}, nil, 400, "title"},
		{"wrong type", "POST", "/v1/experiments", `{"team":"growth","title":"t","hypothesis":"h","tags":"one"}`, nil, 400, "tags"},
		{"bad kind", "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "t", "hypothesis": "h", "kind": "vibes"}, nil, 400, "kind"},
		{"builds_on unknown id", "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "t", "hypothesis": "h", "builds_on": []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}}, nil, 400, "builds_on"},
		{"builds_on not an id", "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "t", "hypothesis": "h", "builds_on": []string{"nope"}}, nil, 400, "builds_on"},
		{"empty body", "POST", "/v1/experiments", "", nil, 400, ""},
		{"unknown outcome", "POST", "/v1/experiments/" + rid + "/conclude", map[string]any{"outcome": "meh", "decision": "stop", "summary": "s"}, nil, 400, "outcome"},
		{"conclude a planned experiment", "POST", "/v1/experiments/" + pid + "/conclude", map[string]any{"outcome": "failed", "decision": "stop", "summary": "s"}, nil, 409, ""},
		{"revise hypothesis of a running one", "PATCH", "/v1/experiments/" + rid, map[string]any{"hypothesis": "moved goalposts"}, nil, 409, ""},
		{"stale If-Match", "PATCH", "/v1/experiments/" + pid, map[string]any{"title": "new"}, []string{"If-Match", `"7"`}, 412, ""},
		{"bad If-Match", "PATCH", "/v1/experiments/" + pid, map[string]any{"title": "new"}, []string{"If-Match", `"seven"`}, 400, "If-Match"},
		{"oversized body", "POST", "/v1/experiments", `{"team":"growth","title":"t","hypothesis":"` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, ""},
		{"unknown id", "POST", "/v1/experiments/01ARZ3NDEKTSV4RRFFQ69G5FAV/start", nil, nil, 404, ""},
		{"malformed id", "GET", "/v1/experiments/not-an-id", nil, nil, 404, ""},
		{"unknown innovation", "GET", "/v1/innovations/01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, nil, 404, ""},
		{"link a running experiment", "POST", "/v1/innovations", map[string]any{"team": "growth", "title": "i", "informed_by": []map[string]any{{"experiment_id": rid}}}, nil, 409, ""},
		{"bad limit", "GET", "/v1/experiments?limit=0", nil, nil, 400, "limit"},
		{"bad cursor", "GET", "/v1/experiments?cursor=zzz", nil, nil, 400, "cursor"},
		{"bad backlog limit", "GET", "/v1/dashboard/failures?limit=201", nil, nil, 400, "limit"},
		{"bad backlog cursor", "GET", "/v1/dashboard/failures?cursor=b.zzz", nil, nil, 400, "cursor"},
		{"bad bucket", "GET", "/v1/dashboard/outcomes?bucket=week", nil, nil, 400, "bucket"},
		{"bad min_position", "GET", "/v1/experiments?min_position=-1", nil, nil, 400, "min_position"},
		{"unknown route", "GET", "/v1/nothing", nil, nil, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(c.method, c.path, c.body, c.header...)
			if r.status != c.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, c.status)
			}
			_, field := r.errField(t)
			if field != c.field {
				t.Errorf("error field = %q, want %q (%s)", field, c.field, r.body)
			}
		})
	}
	if after := a.streamLast(); after != before {
		t.Fatalf("stream moved from %d to %d on bad input", before, after)
	}
}

// TestConcurrentCommandsOnOneExperiment races 50 writers on one
// experiment: every accepted command is in the stream once, nothing is
// lost, and the losers are told so.
func TestConcurrentCommandsOnOneExperiment(t *testing.T) {
	a := startEmbedded(t)
	id := a.must(http.StatusCreated, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "contended", "hypothesis": "h"})["id"].(string)
	a.must(http.StatusOK, "POST", "/v1/experiments/"+id+"/start", nil)

	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		learnings, concludes int
		statuses             = map[int]int{}
	)
	for i := range 50 {
		wg.Go(func() {
			var r response
			if i%5 == 0 {
				r = a.do("POST", "/v1/experiments/"+id+"/conclude", map[string]any{"outcome": "failed", "decision": "pivot", "summary": fmt.Sprint("conclusion ", i)})
			} else if i%7 == 0 {
				// A writer that names the version it saw gets 412 when it lost.
				r = a.do("POST", "/v1/experiments/"+id+"/learnings", map[string]any{"text": fmt.Sprint("learning ", i)}, "If-Match", `"2"`)
			} else {
				r = a.do("POST", "/v1/experiments/"+id+"/learnings", map[string]any{"text": fmt.Sprint("learning ", i)})
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			switch {
			case r.status == 201:
				learnings++
			case r.status == 200:
				concludes++
			case r.status == 409 || r.status == 412:
			default:
				t.Errorf("writer %d: %d %s", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	if concludes != 1 {
		t.Errorf("%d concludes accepted, want exactly 1 (statuses %v)", concludes, statuses)
	}
	var hist []map[string]any
	a.do("GET", "/v1/experiments/"+id+"/history?min_position="+fmt.Sprint(a.streamLast()), nil).json(t, &hist)
	var gotLearnings, gotConcludes int
	seen := map[string]bool{}
	for _, h := range hist {
		typ := h["type"].(string)
		switch {
		case strings.Contains(typ, "learning_recorded"):
			gotLearnings++
		case strings.Contains(typ, "concluded"):
			gotConcludes++
		}
		if seen[h["event_id"].(string)] {
			t.Errorf("event %s twice in history", h["event_id"])
		}
		seen[h["event_id"].(string)] = true
	}
	if gotLearnings != learnings || gotConcludes != concludes {
		t.Fatalf("stream has %d learnings and %d concludes; %d and %d were accepted", gotLearnings, gotConcludes, learnings, concludes)
	}
	if exp := a.must(http.StatusOK, "GET", "/v1/experiments/"+id, nil); int(exp["version"].(float64)) != 2+learnings+concludes {
		t.Fatalf("version = %v, want %d", exp["version"], 2+learnings+concludes)
	}
}

// TestIdempotencyKey sends the same POST three times with one key.
func TestIdempotencyKey(t *testing.T) {
	a := startEmbedded(t)
	body := map[string]any{"team": "growth", "title": "once", "hypothesis": "h"}
	first := a.do("POST", "/v1/experiments", body, "Idempotency-Key", "register-once")
	before := a.streamLast()
	for range 2 {
		again := a.do("POST", "/v1/experiments", body, "Idempotency-Key", "register-once")
		if again.status != first.status || string(again.body) != string(first.body) {
			t.Fatalf("retry = %d %s, want %d %s", again.status, again.body, first.status, first.body)
		}
	}
	id := first.obj(t)["id"].(string)
	learn := map[string]any{"text": "once only"}
	l1 := a.do("POST", "/v1/experiments/"+id+"/learnings", learn, "Idempotency-Key", "learn-once")
	for range 2 {
		l2 := a.do("POST", "/v1/experiments/"+id+"/learnings", learn, "Idempotency-Key", "learn-once")
		if l2.status != l1.status || string(l2.body) != string(l1.body) {
			t.Fatalf("learning retry = %d %s, want %d %s", l2.status, l2.body, l1.status, l1.body)
		}
	}
	if after := a.streamLast(); after != before+1 {
		t.Fatalf("stream grew from %d to %d; want one learning event and no second registration", before, after)
	}
}

func TestRefusesNonLoopbackWithoutAuth(t *testing.T) {
	env := map[string]string{"ADDR": "0.0.0.0:0", "DATA_DIR": t.TempDir()}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &lines{}, &lines{})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("run on 0.0.0.0 without AUTH_FILE = %v, want a refusal that says why", err)
	}
}

func TestLockedDataDirIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startApp(t, map[string]string{"DATA_DIR": dir})
	env := map[string]string{"ADDR": "127.0.0.1:0", "DATA_DIR": dir}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &lines{}, &lines{})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second api on the same DATA_DIR = %v, want an error naming the directory", err)
	}
	if _, statErr := os.Stat(dir); statErr != nil {
		t.Fatal(statErr)
	}
}
