package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/schema"
)

func getSchema(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestEventSchemasAreServed checks that the api serves every file of
// schema/events as it is, without a token, and that the dataschema of
// every event type, current and legacy, names one of them.
func TestEventSchemasAreServed(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	files, err := fs.Glob(schema.Events, "events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	for _, file := range files {
		want, err := schema.Events.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		status, h, got := getSchema(t, f.url+"/schema/"+file)
		if status != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET /schema/%s = %d, %d bytes; want 200 and the file's %d bytes", file, status, len(got), len(want))
		}
		if ct := h.Get("Content-Type"); ct != "application/schema+json" {
			t.Errorf("GET /schema/%s: Content-Type %q", file, ct)
		}
		var doc struct {
			ID string `json:"$id"`
		}
		if err := json.Unmarshal(got, &doc); err != nil {
			t.Fatal(err)
		}
		if resolved, ok := schema.EventSchemaFile(doc.ID); !ok || resolved != path.Base(file) {
			t.Errorf("%s: $id %q resolves to %q, %t", file, doc.ID, resolved, ok)
		}
	}
	for _, name := range events.Names {
		file, ok := schema.EventSchemaFile(events.SchemaOf(name))
		if !ok {
			t.Errorf("dataschema %s of %s names no served schema", events.SchemaOf(name), name)
			continue
		}
		if status, _, _ := getSchema(t, f.url+"/schema/events/"+file); status != http.StatusOK {
			t.Errorf("%s: dataschema %s is not served at /schema/events/%s: %d", name, events.SchemaOf(name), file, status)
		}
		if legacy, ok := schema.EventSchemaFile(schema.LegacyEventSchemaBase + file); !ok || legacy != file {
			t.Errorf("%s: the legacy dataschema does not resolve to %s: %q", name, file, legacy)
		}
	}
	for _, bad := range []string{"experiment.exploded.v1.json", "cloudevent", "..%2fopenapi.yaml", "experiment.concluded.v1.json.bak"} {
		status, _, body := getSchema(t, f.url+"/schema/events/"+bad)
		if status != http.StatusNotFound || !bytes.Contains(body, []byte(`"not_found"`)) {
			t.Errorf("GET /schema/events/%s = %d %s, want a JSON 404", bad, status, body)
		}
	}
}
