package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
	"github.com/failforward/failforward/internal/web"
)

// env is a UI handler over a real embedded JetStream event store and a
// real, migrated read store; the read store is filled by applying events
// with the real projection, as the projector would.
type env struct {
	tb      testing.TB
	h       *web.Handler
	db      *readstore.DB
	queries *readmodel.Queries
	proj    *readmodel.Projection
	stream  []events.Recorded
	applied int
}

// newEnv starts the env; opts adjust the handler's config.
func newEnv(tb testing.TB, dialect readstore.Dialect, now time.Time, opts ...func(*web.Config)) *env {
	tb.Helper()
	_, nc := natsembedtest.Start(tb)
	store, err := events.OpenStore(context.Background(), nc, events.StoreConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	db := readstoretest.Open(tb, dialect)
	proj, err := readmodel.NewProjection(dialect)
	if err != nil {
		tb.Fatal(err)
	}
	q := readmodel.NewQueries(db)
	cfg := web.Config{Service: svc, Queries: q, ReadStore: db, Now: func() time.Time { return now },
		WriteWait: 100 * time.Millisecond, LivePoll: 20 * time.Millisecond}
	for _, opt := range opts {
		opt(&cfg)
	}
	h, err := web.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return &env{tb: tb, h: h, db: db, queries: q, proj: proj}
}

// add appends an event to the stream that apply will project.
func (e *env) add(name, id, team string, at time.Time, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		e.tb.Fatal(err)
	}
	seq := uint64(len(e.stream) + 1)
	e.stream = append(e.stream, events.Recorded{
		Envelope: events.Envelope{
			SpecVersion: events.SpecVersion, ID: fmt.Sprintf("ev-%07d", seq), Source: events.Source,
			Type: events.TypeOf(name), Subject: id, Time: at, DataContentType: "application/json",
			Team: team, Actor: "someone@" + team, Data: data,
		},
		StreamSubject: events.Subject(name, id),
		Sequence:      seq,
	})
}

// apply projects every event added since the last call, 500 to a
// transaction with the checkpoint, as the projector does.
func (e *env) apply() {
	e.tb.Helper()
	ctx := context.Background()
	for chunk := range slices.Chunk(e.stream[e.applied:], 500) {
		tx, err := e.db.Begin(ctx)
		if err != nil {
			e.tb.Fatal(err)
		}
		skipped, err := e.proj.ApplyBatch(ctx, tx, chunk)
		if err != nil {
			tx.Rollback()
			e.tb.Fatal(err)
		}
		if len(skipped) > 0 {
			tx.Rollback()
			e.tb.Fatalf("projection skipped %+v", skipped[0])
		}
		if err := readstore.SetPosition(ctx, tx, chunk[len(chunk)-1].Sequence); err != nil {
			tx.Rollback()
			e.tb.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			e.tb.Fatal(err)
		}
	}
	e.applied = len(e.stream)
}

func newID(at time.Time) string {
	return ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String()
}

func (e *env) register(id, team, title string, at time.Time, buildsOn ...string) {
	e.add(events.ExperimentRegistered, id, team, at, events.ExperimentRegisteredV1{
		Team: team, Title: title, Kind: "ab_test", Hypothesis: "If we " + title + ", more people stay",
		SuccessMetric: "retention", SuccessCriteria: "+2%", Owner: "owner@" + team,
		Tags: []string{"pricing"}, BuildsOn: append([]string{}, buildsOn...), Visibility: experiments.VisibilityOrg,
	})
}

func (e *env) conclude(id, team, outcome string, started, concluded time.Time) {
	e.add(events.ExperimentStarted, id, team, started, events.ExperimentStartedV1{StartedAt: started})
	e.add(events.ExperimentConcluded, id, team, concluded, events.ExperimentConcludedV1{
		Outcome: outcome, Decision: "iterate", Summary: "what happened to " + id, ConcludedAt: concluded})
}

func (e *env) learn(id, team, text string, at time.Time) {
	e.add(events.ExperimentLearningRecorded, id, team, at, events.ExperimentLearningRecordedV1{
		LearningID: newID(at), Text: text, Skills: []string{"pricing", "interviewing"}})
}

func (e *env) innovate(id, team, title string, at time.Time, informedBy ...string) {
	e.add(events.InnovationRecorded, id, team, at, events.InnovationRecordedV1{Team: team, Title: title, LaunchedAt: at})
	for _, x := range informedBy {
		e.add(events.InnovationLinked, id, team, at, events.InnovationLinkedV1{ExperimentID: x, Note: "built on it"})
	}
}

// seed fills the stream with n experiments over the two years before
// end, in five teams: most run and conclude (a third of those fail, and
// failures record learnings), some are abandoned, some build on earlier
// ones, and every 25th experiment ships an innovation that credits a few
// concluded ones.
func (e *env) seed(n int, end time.Time) {
	r := rand.New(rand.NewPCG(1, 2))
	teams := []string{"growth", "core", "payments", "search", "mobile"}
	start := end.AddDate(-2, 0, 0)
	span := end.Sub(start) - 45*24*time.Hour
	var concluded []string
	for i := range n {
		team := teams[r.IntN(len(teams))]
		reg := start.Add(time.Duration(float64(span) * float64(i) / float64(n))).UTC().Truncate(time.Second)
		id := newID(reg)
		var ups []string
		if len(concluded) > 10 && r.IntN(4) == 0 {
			ups = append(ups, concluded[len(concluded)-1-r.IntN(10)])
		}
		e.register(id, team, fmt.Sprintf("Experiment %d of %s", i, team), reg, ups...)
		started := reg.Add(time.Duration(1+r.IntN(72)) * time.Hour)
		done := started.Add(time.Duration(24+r.IntN(30*24)) * time.Hour)
		switch k := r.IntN(20); {
		case k < 2: // still planned
		case k < 3:
			e.add(events.ExperimentAbandoned, id, team, started, events.ExperimentAbandonedV1{Reason: "no traffic", AbandonedAt: started})
		default:
			outcome := experiments.Outcomes[r.IntN(3)]
			e.conclude(id, team, outcome, started, done)
			if outcome == experiments.OutcomeFailed {
				e.learn(id, team, "what "+id+" taught", done)
			}
			concluded = append(concluded, id)
		}
		if i%25 == 24 && len(concluded) > 3 {
			at := done.Add(48 * time.Hour)
			inn := newID(at)
			e.innovate(inn, team, fmt.Sprintf("Innovation %d", i/25), at, concluded[len(concluded)-1], concluded[len(concluded)-2])
		}
	}
	// The stream must be in order of position, which is what apply sends;
	// times within it need not be monotonic, as in a real stream.
	e.apply()
}

// client is a browser stand-in: it keeps cookies and reads form tokens.
type client struct {
	tb  testing.TB
	srv *httptest.Server
	c   *http.Client
}

func newClient(tb testing.TB, h http.Handler) *client {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &client{tb: tb, srv: srv, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) get(path string) (int, http.Header, string) {
	c.tb.Helper()
	resp, err := c.c.Get(c.srv.URL + path)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (c *client) post(path string, form url.Values) (int, http.Header, string) {
	c.tb.Helper()
	resp, err := c.c.PostForm(c.srv.URL+path, form)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var tokenPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token returns the CSRF token of the first form in page.
func token(tb testing.TB, page string) string {
	tb.Helper()
	m := tokenPattern.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

func contains(tb testing.TB, page, want string) {
	tb.Helper()
	if !strings.Contains(page, want) {
		tb.Errorf("the page does not contain %q", want)
	}
}
