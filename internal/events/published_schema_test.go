package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/schema"
)

// repoLoader resolves schema URIs as a consumer holding a copy of the
// repository would: from the files in schema/events, by name, with no
// network. It refuses any URI schema.EventSchemaFile does not map.
type repoLoader struct {
	dir    string
	loaded map[string]bool
}

func (l *repoLoader) Load(uri string) (any, error) {
	file, ok := schema.EventSchemaFile(uri)
	if !ok {
		return nil, fmt.Errorf("%s names no schema in schema/events", uri)
	}
	b, err := os.ReadFile(l.dir + "/" + file)
	if err != nil {
		return nil, err
	}
	l.loaded[uri] = true
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func repoCompiler() (*jsonschema.Compiler, *repoLoader) {
	l := &repoLoader{dir: "../../schema/events", loaded: map[string]bool{}}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.UseLoader(l)
	return c, l
}

// TestEmittedEventsValidateOffline validates every event the service
// writes against the schemas in the repository's files, each reference
// resolved by the loader above, and each payload against the schema its
// dataschema names, under its current name and under the legacy address
// events written earlier carry.
func TestEmittedEventsValidateOffline(t *testing.T) {
	msgs := emittedMessages(t)
	c, loader := repoCompiler()
	envelope, err := c.Compile(schema.EventSchemaID("cloudevent.json"))
	if err != nil {
		t.Fatalf("compile the envelope from the repository's files: %v", err)
	}
	legacy, _ := repoCompiler()
	seen := map[string]bool{}
	for _, m := range msgs {
		seq := m.Sequence
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if err := envelope.Validate(inst); err != nil {
			t.Errorf("event %d on %s does not match cloudevent.json: %v", seq, m.Subject, err)
		}
		var env struct {
			Type       string `json:"type"`
			DataSchema string `json:"dataschema"`
			Data       json.RawMessage
		}
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatal(err)
		}
		seen[env.Type] = true
		file, ok := schema.EventSchemaFile(env.DataSchema)
		if !ok {
			t.Errorf("event %d: dataschema %q names no file in schema/events", seq, env.DataSchema)
			continue
		}
		data, err := jsonschema.UnmarshalJSON(bytes.NewReader(env.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, uri := range []string{env.DataSchema, schema.LegacyEventSchemaBase + file} {
			comp := c
			if uri != env.DataSchema {
				comp = legacy
			}
			s, err := comp.Compile(uri)
			if err != nil {
				t.Errorf("event %d: compile %s: %v", seq, uri, err)
				continue
			}
			if err := s.Validate(data); err != nil {
				t.Errorf("event %d: data does not match %s: %v", seq, uri, err)
			}
		}
	}
	for _, name := range events.Names {
		if !seen[events.TypeOf(name)] {
			t.Errorf("the scenario wrote no %s event", name)
		}
	}
	if len(loader.loaded) == 0 {
		t.Error("the envelope's references were resolved without the loader")
	}
}
