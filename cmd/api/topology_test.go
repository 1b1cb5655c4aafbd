package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// TestSeparateProcesses runs the production topology from the same
// binaries: NATS and Postgres outside, the projector and the api as two
// processes configured by NATS_URL and DATABASE_URL.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	dbURL := readstoretest.URL(t, readstore.Postgres)
	srv, _ := natsembedtest.Start(t)
	env := map[string]string{"NATS_URL": srv.ClientURL(), "DATABASE_URL": dbURL}

	projector := startProc(t, buildCmd(t, "github.com/failforward/failforward/cmd/projector"),
		map[string]string{"NATS_URL": env["NATS_URL"], "DATABASE_URL": dbURL, "METRICS_ADDR": "127.0.0.1:0"})
	api := startProc(t, buildCmd(t, "github.com/failforward/failforward/cmd/api"),
		map[string]string{"NATS_URL": env["NATS_URL"], "DATABASE_URL": dbURL, "ADDR": "127.0.0.1:0"})
	a := api.app(t)
	a.out.find(t, "projector: external", nil)
	walkLineageScenario(t, a)

	// The projector process did the projecting: its metrics say so.
	url, _, _ := strings.Cut(projector.out.find(t, "metrics: ", nil), ",")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	applied := regexp.MustCompile(`(?m)^projector_events_applied_total (\d+)`).FindSubmatch(body)
	if applied == nil || string(applied[1]) == "0" {
		t.Fatalf("the projector process applied no events:\n%s", body)
	}
}
