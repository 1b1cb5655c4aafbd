package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/failforward/failforward/schema"
)

// envelopeSchema is the file of the envelope's schema in schema/events.
const envelopeSchema = "cloudevent.json"

// Validator checks structured-mode event bodies against the published
// JSON Schemas (schema/events): the CloudEvents envelope, and the payload
// against the schema of its type and version. It is safe for concurrent
// use.
type Validator struct {
	envelope *jsonschema.Schema
	// known holds the type names ("experiment.concluded.v1") that have a
	// schema: a type without one is refused, not waved through.
	known map[string]bool
}

// NewValidator compiles the schemas embedded in the binary as published:
// they let events carry members they do not describe, because a version
// may gain optional members and a reader must not break on them.
func NewValidator() (*Validator, error) {
	return newValidator(false)
}

// NewStrictValidator compiles the schemas with additionalProperties false
// on every object that lists its properties, so that an event carrying a
// member the schema does not describe fails. The producer's own tests use
// it: a payload field added without a schema change is caught there.
func NewStrictValidator() (*Validator, error) {
	return newValidator(true)
}

func newValidator(strict bool) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	known := map[string]bool{}
	files, err := fs.Glob(schema.Events, "events/*.json")
	if err != nil {
		return nil, fmt.Errorf("list event schemas: %w", err)
	}
	for _, f := range files {
		b, err := schema.Events.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		if strict {
			closeObjects(doc)
		}
		base := path.Base(f)
		if err := c.AddResource(schema.EventSchemaID(base), doc); err != nil {
			return nil, fmt.Errorf("add %s: %w", f, err)
		}
		if base != envelopeSchema {
			known[strings.TrimSuffix(base, ".json")] = true
		}
	}
	env, err := c.Compile(schema.EventSchemaID(envelopeSchema))
	if err != nil {
		return nil, fmt.Errorf("compile event schemas: %w", err)
	}
	return &Validator{envelope: env, known: known}, nil
}

// closeObjects sets additionalProperties to false on every schema in doc
// that declares type object and lists properties without saying whether
// others are allowed. Subschemas without a type (the if/then branches of
// the envelope) are left open: closing them would refuse the members the
// other branch describes.
func closeObjects(v any) {
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "object" && v["properties"] != nil && v["additionalProperties"] == nil {
			v["additionalProperties"] = false
		}
		for _, sub := range v {
			closeObjects(sub)
		}
	case []any:
		for _, sub := range v {
			closeObjects(sub)
		}
	}
}

// Validate checks one structured-mode event body. Every failure wraps
// ErrMalformed and says which rule the event breaks.
func (v *Validator) Validate(body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// The type is checked first, so that a type the schemas do not know is
	// reported as such rather than slipping through the envelope's
	// per-type branches unchecked.
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	name, version, err := ParseType(head.Type)
	if err != nil {
		return err
	}
	if typ := fmt.Sprintf("%s.v%d", name, version); !v.known[typ] {
		return fmt.Errorf("%w: no schema for event type %s", ErrMalformed, head.Type)
	}
	if err := v.envelope.Validate(inst); err != nil {
		return fmt.Errorf("%w: %s does not match its schema: %v", ErrMalformed, head.Type, err)
	}
	return nil
}
