package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo starts the api with -demo on an empty data directory, reads
// the history back through the API (a story's innovation credits, through
// three follow-ups, the failure it began with), and checks that a second
// start with -demo on the same data refuses, and says why.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	a := startAppArgs(t, []string{"-demo"}, map[string]string{"DATA_DIR": dir})
	if !strings.Contains(a.out.String(), "demo: wrote ") {
		t.Fatalf("no demo line in:\n%s", a.out)
	}
	pos := a.out.find(t, "demo: wrote ", nil)
	pos, _, _ = strings.Cut(pos, " ")

	var innovations []struct{ ID, Title string }
	a.do("GET", "/v1/innovations?min_position="+pos, nil).json(t, &innovations)
	var story string
	for _, i := range innovations {
		if i.Title == "Annual plan at the monthly price for the first quarter" {
			story = i.ID
		}
	}
	if story == "" {
		t.Fatalf("the growth story's innovation is not among %d innovations", len(innovations))
	}
	var lineage struct {
		Upstream []struct {
			Title  string
			Failed bool
			Depth  int
		}
	}
	a.do("GET", "/v1/innovations/"+story+"/lineage", nil).json(t, &lineage)
	deepFailure := false
	for _, n := range lineage.Upstream {
		deepFailure = deepFailure || (n.Failed && n.Depth >= 4)
	}
	if !deepFailure {
		t.Errorf("the story's innovation has no failure three follow-ups upstream: %+v", lineage.Upstream)
	}
	report := a.must(200, "GET", "/v1/dashboard/outcomes?bucket=quarter", nil)
	if periods, _ := report["periods"].([]any); len(periods) < 9 {
		t.Errorf("the dashboard has %d rows, want two years of quarters", len(periods))
	}
	if list := a.must(200, "GET", "/v1/experiments?limit=200", nil); len(list["items"].([]any)) < 100 {
		t.Errorf("the list holds %d experiments, want the demo's 100+", len(list["items"].([]any)))
	}
}

// TestDemoRefusesAStoreWithEvents checks that -demo on a store that
// already holds events does not start, and says why.
func TestDemoRefusesAStoreWithEvents(t *testing.T) {
	dir := t.TempDir()
	// A subtest, so that its api stops before the second opens the data.
	t.Run("first start", func(t *testing.T) {
		a := startApp(t, map[string]string{"DATA_DIR": dir})
		a.must(201, "POST", "/v1/experiments", map[string]any{"team": "growth", "title": "Real work", "hypothesis": "h"})
	})
	var out bytes.Buffer
	err := run(context.Background(), []string{"-demo", "-addr", "127.0.0.1:0"}, func(k string) string {
		return map[string]string{"DATA_DIR": dir}[k]
	}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "already holds events") {
		t.Fatalf("run -demo on a store with events = %v, want a refusal that says so\n%s", err, out.String())
	}
}
