package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/readmodel"
)

func registerExperiment(t *testing.T, svc *experiments.Service, team, visibility string, buildsOn ...string) experiments.Experiment {
	t.Helper()
	e, err := svc.RegisterExperiment(context.Background(), testMeta, experiments.RegisterExperiment{
		Team: team, Title: "experiment of " + team, Hypothesis: "h", Visibility: visibility, BuildsOn: buildsOn,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func recordLearning(t *testing.T, svc *experiments.Service, id string) {
	t.Helper()
	if _, err := svc.RecordLearning(context.Background(), testMeta, id, experiments.RecordLearning{Text: "a learning"}); err != nil {
		t.Fatal(err)
	}
}

func TestEventStreamResumesAfterADroppedConnection(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	validator, err := events.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	e := registerExperiment(t, f.svc, "growth", "org")
	for range 5 {
		recordLearning(t, f.svc, e.ID)
	}

	first := f.openStream(t, f.lead, "", "")
	var got []string
	for range 3 {
		m := first.next(t)
		got = append(got, m.id)
	}
	first.close()
	if !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("first connection got ids %v, want 1 2 3", got)
	}
	// The server notices the client is gone and stops its stream.
	pollUntil(t, "stream closed after the client left", func() bool { return f.openStreams(t) == 0 })

	// The client reconnects with the last id it saw, to a URL that still
	// says after=0: the header wins.
	second := f.openStream(t, f.lead, "after=0", "3")
	for want := uint64(4); want <= 6; want++ {
		m := second.next(t)
		checkEventMessage(t, f, validator, m, want)
	}
	// Then it follows new events as they are written.
	recordLearning(t, f.svc, e.ID)
	recordLearning(t, f.svc, e.ID)
	for want := uint64(7); want <= 8; want++ {
		checkEventMessage(t, f, validator, second.next(t), want)
	}

	// ?after= alone resumes too.
	third := f.openStream(t, f.lead, "after=7", "")
	checkEventMessage(t, f, validator, third.next(t), 8)
}

// checkEventMessage checks that m is event seq of the stream, as written,
// in the published envelope format.
func checkEventMessage(t *testing.T, f *contractAPI, v *events.Validator, m sseMessage, seq uint64) {
	t.Helper()
	if m.id != strconv.FormatUint(seq, 10) {
		t.Fatalf("got event id %s, want %d", m.id, seq)
	}
	rec, err := f.store.Get(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	env := m.envelope(t)
	if env.ID != rec.ID || env.Type != rec.Type || m.event != rec.Type || string(env.Data) != string(rec.Data) {
		t.Errorf("event %d: got %s %s (event: %s), want %s %s", seq, env.ID, env.Type, m.event, rec.ID, rec.Type)
	}
	if err := v.Validate([]byte(m.data)); err != nil {
		t.Errorf("event %d does not match the published schema: %v", seq, err)
	}
}

// TestEventStreamHidesTeamExperiments streams the same history to three
// viewers: a team-only experiment's events, and links to it, reach its
// own team and leads, never a viewer of another team.
func TestEventStreamHidesTeamExperiments(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	hidden := registerExperiment(t, f.svc, "growth", "team")
	open := registerExperiment(t, f.svc, "growth", "org")
	// Built on the hidden one: its registration names it in builds_on.
	child := registerExperiment(t, f.svc, "growth", "org", hidden.ID, open.ID)
	// Registered for everyone, then narrowed to its team while planned:
	// its registration must not reach an outsider either.
	narrowed := registerExperiment(t, f.svc, "growth", "org")
	team := experiments.VisibilityTeam
	if _, err := f.svc.ReviseExperiment(ctx, testMeta, narrowed.ID, experiments.ReviseExperiment{Visibility: &team}); err != nil {
		t.Fatal(err)
	}
	recordLearning(t, f.svc, hidden.ID)
	for _, id := range []string{hidden.ID, open.ID} {
		if _, err := f.svc.StartExperiment(ctx, testMeta, id, experiments.StartExperiment{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ConcludeExperiment(ctx, testMeta, id, experiments.ConcludeExperiment{Outcome: "failed", Decision: "pivot", Summary: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	inn, err := f.svc.RecordInnovation(ctx, testMeta, experiments.RecordInnovation{
		Team: "platform", Title: "Admin exports",
		InformedBy: []experiments.LinkInput{{ExperimentID: hidden.ID}, {ExperimentID: open.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UnlinkExperiment(ctx, testMeta, inn.ID, hidden.ID); err != nil {
		t.Fatal(err)
	}
	end := registerExperiment(t, f.svc, "platform", "org")
	last, err := f.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}

	secret := []string{hidden.ID, narrowed.ID}
	for _, tt := range []struct {
		viewer     string
		token      string
		seesSecret bool
	}{
		{"outsider", f.outsider, false},
		{"insider", f.insider, true},
		{"lead", f.lead, true},
	} {
		t.Run(tt.viewer, func(t *testing.T) {
			s := f.openStream(t, tt.token, "", "")
			var (
				got       []uint64
				sawSecret bool
			)
			for {
				m := s.next(t)
				env := m.envelope(t)
				seq, _ := strconv.ParseUint(m.id, 10, 64)
				got = append(got, seq)
				if mentions(t, env, secret...) {
					sawSecret = true
					if !tt.seesSecret {
						t.Errorf("%s got event %d (%s) of a team-only experiment", tt.viewer, seq, env.Type)
					}
				}
				if env.Subject == child.ID && env.Type == events.TypeOf(events.ExperimentRegistered) {
					var p events.ExperimentRegisteredV1
					if err := json.Unmarshal(env.Data, &p); err != nil {
						t.Fatal(err)
					}
					want := []string{hidden.ID, open.ID}
					if !tt.seesSecret {
						want = []string{open.ID}
					}
					if !slices.Equal(p.BuildsOn, want) {
						t.Errorf("%s sees builds_on %v, want %v", tt.viewer, p.BuildsOn, want)
					}
				}
				if env.Subject == end.ID {
					break
				}
			}
			if tt.seesSecret && (!sawSecret || uint64(len(got)) != last) {
				t.Errorf("%s got %d events (secret ones: %t), want all %d", tt.viewer, len(got), sawSecret, last)
			}
			if !tt.seesSecret && uint64(len(got)) >= last {
				t.Errorf("%s got %d of %d events, want fewer", tt.viewer, len(got), last)
			}

			// Live events follow the same rule, also for an experiment the
			// stream has already shown and that then becomes team-only.
			live := registerExperiment(t, f.svc, "growth", "team")
			switching := registerExperiment(t, f.svc, "growth", "org")
			if env := s.next(t).envelope(t); env.Subject != switching.ID && !tt.seesSecret {
				t.Fatalf("%s got %s of %s, want the registration of %s", tt.viewer, env.Type, env.Subject, switching.ID)
			}
			if _, err := f.svc.ReviseExperiment(ctx, testMeta, switching.ID, experiments.ReviseExperiment{Visibility: &team}); err != nil {
				t.Fatal(err)
			}
			recordLearning(t, f.svc, switching.ID)
			after := registerExperiment(t, f.svc, "platform", "org")
			for {
				env := s.next(t).envelope(t)
				if env.Subject == live.ID && !tt.seesSecret {
					t.Errorf("%s got the registration of a new team-only experiment", tt.viewer)
				}
				if env.Subject == switching.ID && !tt.seesSecret {
					t.Errorf("%s got %s of an experiment after it became team-only", tt.viewer, env.Type)
				}
				if env.Subject == after.ID {
					break
				}
			}
		})
	}
}

// mentions reports whether env belongs to, or links to, one of ids.
func mentions(t *testing.T, env events.Envelope, ids ...string) bool {
	t.Helper()
	var p struct {
		ExperimentID string `json:"experiment_id"`
	}
	_ = json.Unmarshal(env.Data, &p)
	return slices.Contains(ids, env.Subject) || slices.Contains(ids, p.ExperimentID)
}

func TestEventStreamFilters(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	g := registerExperiment(t, f.svc, "growth", "org")
	p := registerExperiment(t, f.svc, "platform", "org")
	for _, id := range []string{g.ID, p.ID} {
		if _, err := f.svc.StartExperiment(ctx, testMeta, id, experiments.StartExperiment{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ConcludeExperiment(ctx, testMeta, id, experiments.ConcludeExperiment{Outcome: "succeeded", Decision: "scale", Summary: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	// One name, one full type: both spell the same filter.
	for _, q := range []string{"type=experiment.concluded&team=growth", "type=failforward.experiment.concluded.v1&team=growth,nobody"} {
		s := f.openStream(t, f.outsider, q, "")
		env := s.next(t).envelope(t)
		if env.Type != events.TypeOf(events.ExperimentConcluded) || env.Subject != g.ID {
			t.Errorf("?%s: first event is %s of %s, want growth's conclusion", q, env.Type, env.Subject)
		}
	}
	s := f.openStream(t, f.outsider, "type=experiment.registered&type=experiment.started", "")
	var types []string
	for range 4 {
		types = append(types, s.next(t).envelope(t).Type)
	}
	want := []string{events.TypeOf(events.ExperimentRegistered), events.TypeOf(events.ExperimentRegistered),
		events.TypeOf(events.ExperimentStarted), events.TypeOf(events.ExperimentStarted)}
	if !slices.Equal(types, want) {
		t.Errorf("two type filters gave %v, want %v", types, want)
	}

	for _, tt := range []struct {
		query, lastID, field string
	}{
		{"after=x", "", "after"},
		{"", "-1", "Last-Event-ID"},
		{"after=999", "", "after"},
		{"", "999", "Last-Event-ID"},
		{"type=experiment.exploded", "", "type"},
		{"type=failforward.experiment.concluded.v01", "", "type"},
	} {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/v1/events?"+tt.query, nil)
		req.Header.Set("Authorization", "Bearer "+f.lead)
		if tt.lastID != "" {
			req.Header.Set("Last-Event-ID", tt.lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Field string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || body.Error.Field != tt.field {
			t.Errorf("?%s Last-Event-ID %q: %d field %q, want 400 field %q", tt.query, tt.lastID, resp.StatusCode, body.Error.Field, tt.field)
		}
	}
	if resp, _ := f.do(t, http.MethodGet, "/v1/events", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", resp.StatusCode)
	}
}

// TestEventStreamKeepAliveMovesPastHiddenEvents checks that an idle
// stream keeps writing, and that it lets a viewer's Last-Event-ID move
// past events it may not see, so that a reconnection does not scan them
// again.
func TestEventStreamKeepAliveMovesPastHiddenEvents(t *testing.T) {
	f := startContractAPI(t, 20*time.Millisecond)
	visible := registerExperiment(t, f.svc, "platform", "org")
	s := f.openStream(t, f.outsider, "", "")
	if env := s.next(t).envelope(t); env.Subject != visible.ID {
		t.Fatalf("first event is of %s, want %s", env.Subject, visible.ID)
	}
	hidden := registerExperiment(t, f.svc, "growth", "team")
	recordLearning(t, f.svc, hidden.ID)
	// Poll the messages until an id-only message names the last hidden
	// event's position.
	for {
		m := s.nextAny(t)
		if m.data != "" {
			t.Fatalf("outsider got event %s", m.id)
		}
		if m.hasID && m.id == "3" {
			break
		}
	}
	s.close()
	after := registerExperiment(t, f.svc, "platform", "org")
	resumed := f.openStream(t, f.outsider, "", "3")
	if m := resumed.next(t); m.id != "4" || m.envelope(t).Subject != after.ID {
		t.Errorf("after resuming at 3, got event %s", m.id)
	}
}

// TestEventStreamEndsOnShutdown runs the API in a plain http.Server, as
// cmd/api does, and checks that Shutdown does not wait for a client that
// never hangs up.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	registerExperiment(t, f.svc, "growth", "org")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.api, ReadHeaderTimeout: 5 * time.Second}
	srv.RegisterOnShutdown(f.api.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.lead)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pollUntil(t, "stream open", func() bool { return f.openStreams(t) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stream open: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	// The client read the stream to its end.
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("reading the closed stream: %v", err)
	}
	if n := f.openStreams(t); n != 0 {
		t.Errorf("%v streams open after Shutdown", n)
	}
	// A stream asked for after CloseStreams is refused, not left hanging.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
	r.Header.Set("Authorization", "Bearer "+f.lead)
	f.handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /v1/events after CloseStreams: %d, want 503", rec.Code)
	}
}

func TestEventStreamNeedsAnEventSource(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	api, err := httpapi.New(httpapi.Config{
		Service: f.svc, Queries: readmodel.NewQueries(f.db), ReadStore: f.db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /v1/events without Events: %d, want 503", rec.Code)
	}
}
