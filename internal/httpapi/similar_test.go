package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// TestSimilarExperiments asks the API what has been tried like a new
// idea: failures come first among the most similar, a team-only failure
// stays with those who may see it, and bad input is a 400 that names its
// parameter. The path is not taken for an experiment id.
func TestSimilarExperiments(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	local := experiments.Meta{Actor: "tester"}
	run := func(team, visibility, title, hypothesis, outcome, learning string) string {
		t.Helper()
		x, err := f.svc.RegisterExperiment(ctx, local, experiments.RegisterExperiment{
			Team: team, Title: title, Hypothesis: hypothesis, Visibility: visibility})
		if err != nil {
			t.Fatal(err)
		}
		if outcome == "" {
			return x.ID
		}
		if _, err := f.svc.StartExperiment(ctx, local, x.ID, experiments.StartExperiment{}); err != nil {
			t.Fatal(err)
		}
		cmd := experiments.ConcludeExperiment{Outcome: outcome, Decision: "pivot", Summary: "what happened"}
		if learning != "" {
			cmd.Learnings = []experiments.NewLearning{{Text: learning, Skills: []string{"ux"}}}
		}
		if _, err := f.svc.ConcludeExperiment(ctx, local, x.ID, cmd); err != nil {
			t.Fatal(err)
		}
		return x.ID
	}
	won := run("growth", "org", "Checkout banner for annual plans", "A banner at checkout lifts annual plans", experiments.OutcomeSucceeded, "")
	lost := run("growth", "org", "Discount banner", "A discount banner lifts annual plans", experiments.OutcomeFailed, "Banners go unseen")
	hidden := run("search", "team", "Quiet checkout banner for annual plans", "A quiet banner at checkout lifts annual plans",
		experiments.OutcomeFailed, "TOPSECRET quiet banners fail too")
	running := run("platform", "org", "Annual plans page", "Annual plans sell on their own page", "", "")
	f.project(t)

	similar := func(token, query string) readmodel.TriedBefore {
		t.Helper()
		resp, body := f.do(t, "GET", "/v1/experiments/similar?"+query, token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET similar?%s = %d %s", query, resp.StatusCode, body)
		}
		return decodeBody[readmodel.TriedBefore](t, body)
	}
	text := "text=" + url.QueryEscape("A banner at checkout for annual plans")
	for _, tc := range []struct {
		name, token string
		want        []string
	}{
		// The member of growth and the viewer of platform do not see
		// search's team-only failure; the lead does, and it comes first
		// with the other failure.
		{"member", f.insider, []string{lost, won, running}},
		{"outsider", f.outsider, []string{lost, won, running}},
		{"lead", f.lead, []string{hidden, lost, won, running}},
	} {
		got := similar(tc.token, text)
		var ids []string
		for _, x := range got.Items {
			ids = append(ids, x.ID)
		}
		if strings.Join(ids, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: similar = %v, want %v (failures first, then by rank)", tc.name, ids, tc.want)
		}
		for _, x := range got.Items {
			if x.ID == lost && (len(x.Learnings) != 1 || x.Learnings[0].Text != "Banners go unseen" || x.Outcome != experiments.OutcomeFailed) {
				t.Errorf("%s: the failure comes without its outcome and learning: %+v", tc.name, x)
			}
		}
	}
	// With limit 1 only the best match is taken, and it is no failure.
	if got := similar(f.insider, text+"&limit=1"); len(got.Items) != 1 || got.Items[0].ID != won {
		t.Errorf("similar, limit 1 = %+v, want the best match alone", got.Items)
	}
	if got := similar(f.insider, "text=the+and+of"); got.Items == nil || len(got.Items) != 0 {
		t.Errorf("similar to stop words = %+v, want an empty list", got)
	}
	for _, who := range []string{f.insider, f.outsider} {
		if _, body := f.do(t, "GET", "/v1/experiments/similar?text=TOPSECRET+quiet+banners", who, nil); strings.Contains(string(body), "TOPSECRET") ||
			strings.Contains(string(body), hidden) {
			t.Errorf("a caller who may not see the team-only failure gets it: %s", body)
		}
	}

	for _, tc := range []struct{ query, field string }{
		{"", "text"},
		{"text=", "text"},
		{"text=+++", "text"},
		{"text=" + strings.Repeat("é", readmodel.MaxTriedText+1), "text"},
		{"text=banner&limit=0", "limit"},
		{"text=banner&limit=51", "limit"},
		{"text=banner&limit=many", "limit"},
	} {
		resp, body := f.do(t, "GET", "/v1/experiments/similar?"+tc.query, f.insider, nil)
		e := decodeBody[struct {
			Error struct{ Code, Field, Message string }
		}](t, body)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Field != tc.field || e.Error.Message == "" {
			t.Errorf("similar?%.40s = %d %s, want 400 naming %s", tc.query, resp.StatusCode, body, tc.field)
		}
	}
	if got := similar(f.insider, "text="+strings.Repeat("é", readmodel.MaxTriedText)); got.Items == nil {
		t.Error("a text of the longest length allowed is refused")
	}
	// "similar" is a route of its own, not an id: the experiment routes
	// under it do not exist, and a real id is still an experiment.
	if resp, _ := f.do(t, "GET", "/v1/experiments/similar/history", f.insider, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/experiments/similar/history = %d, want 404", resp.StatusCode)
	}
	if resp, body := f.do(t, "GET", "/v1/experiments/"+lost, f.insider, nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Discount banner") {
		t.Errorf("GET /v1/experiments/{id} = %d %s, want the experiment", resp.StatusCode, body)
	}
}
