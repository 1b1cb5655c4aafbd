package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/schema"
)

// asyncAPI returns asyncapi.yaml as JSON values, the form JSON Schema
// validators read.
func asyncAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := schema.Documents.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	// YAML's integers and maps become JSON's numbers and objects.
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("asyncapi.yaml is not JSON-compatible: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

func TestAsyncAPIDocumentIsValid(t *testing.T) {
	f, err := os.Open("testdata/asyncapi-3.0.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	const id = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, spec); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile the AsyncAPI 3.0.0 schema: %v", err)
	}
	if err := sch.Validate(asyncAPI(t)); err != nil {
		t.Fatalf("asyncapi.yaml is not a valid AsyncAPI 3.0.0 document: %v", err)
	}
}

// TestAsyncAPIDescribesEveryEvent checks that the document names every
// event of the catalogue on its subject, with its type and schemas, and
// nothing the catalogue does not have.
func TestAsyncAPIDescribesEveryEvent(t *testing.T) {
	doc := asyncAPI(t)
	obj := func(v any, path string) map[string]any {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", path)
		}
		return m
	}
	messages := obj(obj(doc["components"], "components")["messages"], "components.messages")
	channels := obj(doc["channels"], "channels")
	operations := obj(doc["operations"], "operations")

	var named []string
	for key, m := range messages {
		m := obj(m, key)
		name, _ := m["name"].(string)
		named = append(named, name)
		if !slices.Contains(events.Names, name) {
			t.Errorf("message %s is %q, not an event of the catalogue", key, name)
			continue
		}
		if got := m["x-cloudevents-type"]; got != events.TypeOf(name) {
			t.Errorf("message %s: x-cloudevents-type %v, want %s", key, got, events.TypeOf(name))
		}
		payload := obj(obj(m["payload"], key+".payload")["schema"], key+".payload.schema")
		parts := payload["allOf"].([]any)
		if ref := obj(parts[0], "allOf[0]")["$ref"]; ref != "./events/cloudevent.json" {
			t.Errorf("message %s: envelope is %v, want ./events/cloudevent.json", key, ref)
		}
		props := obj(obj(parts[1], "allOf[1]")["properties"], "properties")
		if got := obj(props["type"], "type")["const"]; got != events.TypeOf(name) {
			t.Errorf("message %s: type %v, want %s", key, got, events.TypeOf(name))
		}
		if got := obj(props["dataschema"], "dataschema")["const"]; got != events.SchemaOf(name) {
			t.Errorf("message %s: dataschema %v, want %s", key, got, events.SchemaOf(name))
		}
		ref, _ := obj(props["data"], "data")["$ref"].(string)
		file, _ := schema.EventSchemaFile(events.SchemaOf(name))
		if want := "./events/" + file; ref != want {
			t.Errorf("message %s: data is %q, want %s", key, ref, want)
		}
		if _, err := schema.Events.ReadFile(strings.TrimPrefix(ref, "./")); err != nil {
			t.Errorf("message %s refers to a schema that does not exist: %v", key, err)
		}

		// Its channel: the event's subject with the id as parameter, and an
		// operation that receives it.
		aggregate, event, _ := strings.Cut(name, ".")
		ch := obj(channels[key], "channels."+key)
		if want := fmt.Sprintf("tracker.%s.{id}.%s", aggregate, event); ch["address"] != want {
			t.Errorf("channel %s: address %v, want %s", key, ch["address"], want)
		}
		if want := events.Subject(name, "*"); obj(ch["x-jetstream"], "x-jetstream")["filterSubject"] != want {
			t.Errorf("channel %s: filter subject, want %s", key, want)
		}
		received := false
		for _, op := range operations {
			op := obj(op, "operation")
			if obj(op["channel"], "channel")["$ref"] == "#/channels/"+key && op["action"] == "receive" {
				received = true
			}
		}
		if !received {
			t.Errorf("no operation receives %s", key)
		}
	}
	slices.Sort(named)
	want := slices.Sorted(slices.Values(events.Names))
	if !slices.Equal(named, want) {
		t.Errorf("asyncapi.yaml describes %v, want every event: %v", named, want)
	}
}
