package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// TestOlderEventShapesReadThroughTheAPI puts an experiment.registered.v1
// event of an earlier shape, without kind and visibility, in the stream
// the way an early build wrote it, and reads it back through every reader:
// the domain (a command on it), the read model (queries) and the event
// stream, each seeing the documented defaults.
func TestOlderEventShapesReadThroughTheAPI(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	ctx := context.Background()
	id := ulid.Make().String()
	env := events.Envelope{
		SpecVersion: events.SpecVersion, ID: ulid.Make().String(), Source: events.Source,
		Type: events.TypeOf(events.ExperimentRegistered), Subject: id, Time: time.Now().UTC(),
		DataContentType: "application/json", DataSchema: events.SchemaOf(events.ExperimentRegistered),
		Team: "growth", Actor: "early-build",
		Data: json.RawMessage(`{"team":"growth","title":"Annual plan nudge","hypothesis":"a nudge lifts annual plans",` +
			`"success_metric":"annual share","success_criteria":"+2 points","owner":"ada","tags":["pricing"],"builds_on":[]}`),
	}
	m, err := env.EncodeMsg(events.Subject(events.ExperimentRegistered, id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.JetStream().PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}

	// The domain folds it, and accepts commands on it.
	e, err := f.svc.StartExperiment(ctx, testMeta, id, experiments.StartExperiment{})
	if err != nil {
		t.Fatalf("start an experiment registered in the old shape: %v", err)
	}
	if e.Kind != "other" || e.Visibility != experiments.VisibilityOrg {
		t.Errorf("domain state kind %q visibility %q, want other and org", e.Kind, e.Visibility)
	}

	// The read model and the API: an outsider may see it, since it is org.
	f.project(t)
	resp, body := f.do(t, http.MethodGet, "/v1/experiments/"+id, f.outsider, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the old experiment as an outsider: %d %s", resp.StatusCode, body)
	}
	var got experiments.Experiment
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "other" || got.Visibility != "org" || got.Status != experiments.StatusRunning || got.Title != "Annual plan nudge" {
		t.Errorf("GET /v1/experiments/%s = kind %q visibility %q status %q, want other, org, running", id, got.Kind, got.Visibility, got.Status)
	}

	// The event stream serves the event as it was written.
	s := f.openStream(t, f.outsider, "", "")
	if streamed := s.next(t).envelope(t); streamed.ID != env.ID || string(streamed.Data) != string(env.Data) {
		t.Errorf("streamed %s %s, want the old event unchanged", streamed.ID, streamed.Data)
	}
}
