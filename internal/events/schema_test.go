package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/schema"
)

// The tests in this file keep the published event contract (the JSON
// Schemas in schema/events) and the code that writes events in step: a
// payload field added without a schema change, or a schema member no
// payload has, fails one of them.

func strictValidator(tb testing.TB) *events.Validator {
	tb.Helper()
	v, err := events.NewStrictValidator()
	if err != nil {
		tb.Fatalf("NewStrictValidator: %v", err)
	}
	return v
}

// schemaDoc reads a schema file of schema/events as plain JSON.
func schemaDoc(tb testing.TB, file string) map[string]any {
	tb.Helper()
	b, err := schema.Events.ReadFile("events/" + file)
	if err != nil {
		tb.Fatalf("read schema: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatalf("parse %s: %v", file, err)
	}
	return doc
}

// payloadType returns the Go type of name's current payload.
func payloadType(tb testing.TB, name string) reflect.Type {
	tb.Helper()
	env := events.Envelope{Type: events.TypeOf(name), Data: json.RawMessage(`{}`)}
	_, p, err := events.Payload(&env)
	if err != nil {
		tb.Fatalf("Payload(%s): %v", name, err)
	}
	return reflect.TypeOf(p).Elem()
}

func TestSchemaFilesMatchTheCatalogue(t *testing.T) {
	files, err := fs.Glob(schema.Events, "events/*.json")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[path.Base(f)] = true
	}
	env := schemaDoc(t, "cloudevent.json")
	branches := map[string]string{}
	for _, b := range env["allOf"].([]any) {
		b := b.(map[string]any)
		typ := b["if"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["const"].(string)
		branches[typ] = b["then"].(map[string]any)["properties"].(map[string]any)["data"].(map[string]any)["$ref"].(string)
	}
	want := map[string]bool{"cloudevent.json": true}
	for _, name := range events.Names {
		for v := 1; v <= events.VersionOf(name); v++ {
			file := fmt.Sprintf("%s.v%d.json", name, v)
			if v == events.VersionOf(name) && events.SchemaOf(name) != schema.EventSchemaID(file) {
				t.Errorf("SchemaOf(%s) = %s, want %s", name, events.SchemaOf(name), schema.EventSchemaID(file))
			}
			want[file] = true
			if !have[file] {
				t.Errorf("no schema file %s for %s v%d", file, name, v)
			}
			typ := fmt.Sprintf("%s%s.v%d", events.TypePrefix, name, v)
			if got := branches[typ]; got != schema.EventSchemaID(file) {
				t.Errorf("cloudevent.json checks the data of %s against %q, want %q", typ, got, schema.EventSchemaID(file))
			}
			doc := schemaDoc(t, file)
			if id := doc["$id"]; id != schema.EventSchemaID(file) {
				t.Errorf("%s has $id %v, want %s", file, id, schema.EventSchemaID(file))
			}
		}
	}
	for f := range have {
		if !want[f] {
			t.Errorf("schema file %s belongs to no event version in the catalogue", f)
		}
	}
	if len(branches) != len(want)-1 {
		t.Errorf("cloudevent.json has %d type branches, want %d", len(branches), len(want)-1)
	}
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name      string
	omitEmpty bool
	typ       reflect.Type
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(indirect(f.Type))...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, omitEmpty: strings.Contains(opts, "omitempty"), typ: f.Type})
	}
	return out
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var timeType = reflect.TypeFor[time.Time]()

// compareFields reports every difference between the JSON members of Go
// type typ and the properties of the object schema s, recursing into
// nested structs.
func compareFields(t *testing.T, where string, typ reflect.Type, s map[string]any) {
	t.Helper()
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	for _, r := range anySlice(s["required"]) {
		required[r.(string)] = true
	}
	seen := map[string]bool{}
	for _, f := range jsonFields(typ) {
		seen[f.name] = true
		p, ok := props[f.name].(map[string]any)
		if !ok {
			t.Errorf("%s: field %q is not in the schema: add it (as an optional member, with a default if old events lack it) or make a new version", where, f.name)
			continue
		}
		// A member the code always writes should be required, unless the
		// schema gives a default because old events may lack it.
		always := !f.omitEmpty && f.typ.Kind() != reflect.Pointer
		if always && !required[f.name] && p["default"] == nil {
			t.Errorf("%s: %q is always written but neither required nor given a default", where, f.name)
		}
		if required[f.name] && !always {
			t.Errorf("%s: %q is required but may be left out (omitempty or a pointer)", where, f.name)
		}
		if inner := indirect(f.typ); inner.Kind() == reflect.Struct && inner != timeType {
			compareFields(t, where+"."+f.name, inner, p)
		}
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("%s: schema member %q has no field in %s", where, name, typ)
		}
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestPayloadFieldsMatchSchemas compares each payload struct's JSON
// members with its schema's properties, so that a field added to a
// payload, even one that is usually empty, fails here until the schema
// describes it.
func TestPayloadFieldsMatchSchemas(t *testing.T) {
	for _, name := range events.Names {
		t.Run(name, func(t *testing.T) {
			file, ok := schema.EventSchemaFile(events.SchemaOf(name))
			if !ok {
				t.Fatalf("SchemaOf(%s) = %s names no file in schema/events", name, events.SchemaOf(name))
			}
			compareFields(t, file, payloadType(t, name), schemaDoc(t, file))
		})
	}
	t.Run("envelope", func(t *testing.T) {
		compareFields(t, "cloudevent.json", reflect.TypeFor[events.Envelope](), schemaDoc(t, "cloudevent.json"))
	})
}

// sample holds a valid value for the payload members whose schemas
// constrain them; every other string gets "x".
var sample = map[string]any{
	"team": "growth", "kind": "pilot", "visibility": "team", "outcome": "failed", "previous_outcome": "succeeded",
	"decision": "pivot", "experiment_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "learning_id": "01JABCDEFGHJKMNPQRSTVWXYZ1",
	"builds_on": []string{"01JABCDEFGHJKMNPQRSTVWXYZ2"},

	// The webhook payloads.
	"owner_role": "member", "target_url": "https://hooks.example.com/failforward", "format": "chat",
	"events": []string{"experiment.concluded"},
	// Failure stories.
	"author_role": "lead", "experiment_ids": []string{"01JABCDEFGHJKMNPQRSTVWXYZ5"},
}

// fill sets every field of the struct v points to, recursively, to a
// non-zero value, so that omitempty hides nothing.
func fill(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), name)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fill(v.Field(i), tag)
		}
	case reflect.String:
		if s, ok := sample[name].(string); ok {
			v.SetString(s)
		} else {
			v.SetString("x")
		}
	case reflect.Slice:
		if s, ok := sample[name]; ok {
			v.Set(reflect.ValueOf(s))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), name)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}

func wrap(tb testing.TB, name string, data []byte) []byte {
	tb.Helper()
	env := events.Envelope{
		SpecVersion: events.SpecVersion, ID: "01JABCDEFGHJKMNPQRSTVWXYZ3", Source: events.Source,
		Type: events.TypeOf(name), Subject: "01JABCDEFGHJKMNPQRSTVWXYZ4", Time: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC),
		DataContentType: "application/json", DataSchema: events.SchemaOf(name), Team: "growth", Actor: "ada",
		CorrelationID: "c", CausationID: "r", IdempotencyKey: "k", Data: data,
	}
	b, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestFilledPayloadsMatchSchemas validates, for every event type, a
// payload with every field set against the strict schemas: a new field
// the schema does not describe is an additional property there.
func TestFilledPayloadsMatchSchemas(t *testing.T) {
	v := strictValidator(t)
	for _, name := range events.Names {
		t.Run(name, func(t *testing.T) {
			p := reflect.New(payloadType(t, name))
			fill(p.Elem(), "")
			data, err := json.Marshal(p.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(wrap(t, name, data)); err != nil {
				t.Errorf("payload with every field set: %v\n%s", err, data)
			}
		})
	}
}

// emittedMessages drives every command through the real service over an
// embedded store, with every field the commands accept, and returns the
// stored messages in stream order.
func emittedMessages(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	_, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	emitEveryEvent(t, svc, now)
	emitWebhookEvents(t, store)
	last, err := store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.JetStream().Stream(ctx, store.Stream())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); seq <= last; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestEmittedEventsMatchSchemas validates each message the service
// stores, for every command, against the strict schemas.
func TestEmittedEventsMatchSchemas(t *testing.T) {
	msgs := emittedMessages(t)
	v := strictValidator(t)
	seen := map[string]int{}
	for _, m := range msgs {
		seq := m.Sequence
		if err := v.Validate(m.Data); err != nil {
			t.Errorf("event %d on %s: %v", seq, m.Subject, err)
			continue
		}
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		name, _, err := events.ParseType(env.Type)
		if err != nil {
			t.Fatal(err)
		}
		seen[name]++
		if env.DataSchema != events.SchemaOf(name) {
			t.Errorf("event %d: dataschema %q, want %q", seq, env.DataSchema, events.SchemaOf(name))
		}
		if want := events.Subject(name, env.Subject); m.Subject != want {
			t.Errorf("event %d: NATS subject %s, want %s", seq, m.Subject, want)
		}
		for h, want := range map[string]string{
			events.HeaderContentType: events.ContentType, events.HeaderType: env.Type, events.HeaderID: env.ID,
			events.HeaderSubject: env.Subject, events.HeaderTeam: env.Team, events.HeaderActor: env.Actor,
			events.HeaderCorrelationID: env.CorrelationID, events.HeaderCausationID: env.CausationID,
			events.HeaderTraceParent: env.TraceParent, events.HeaderTraceState: env.TraceState,
		} {
			if got := m.Header.Get(h); got != want {
				t.Errorf("event %d: header %s = %q, want %q", seq, h, got, want)
			}
		}
	}
	for _, name := range events.Names {
		if seen[name] == 0 {
			t.Errorf("the scenario wrote no %s event", name)
		}
	}
}

// emitEveryEvent runs a scenario that writes every event type, each with
// as many optional fields set as the commands allow, under a trace with
// a tracestate, as a traced request would.
func emitEveryEvent(t *testing.T, svc *experiments.Service, now time.Time) {
	t.Helper()
	ctx := tracedContext(t)
	meta := experiments.Meta{Actor: "ada", CorrelationID: "corr-1", CausationID: "req-1", IdempotencyKey: ""}
	keyed := func(k string) experiments.Meta { m := meta; m.IdempotencyKey = k; return m }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cost := &events.Cost{PersonDays: 3.5, Spend: 1200}
	first, err := svc.RegisterExperiment(ctx, keyed("reg-1"), experiments.RegisterExperiment{
		Team: "growth", Title: "Fake door for exports", Kind: "fake_door", Hypothesis: "teams want CSV export",
		SuccessMetric: "clicks", SuccessCriteria: "> 5% of visitors click", Owner: "ada", Tags: []string{"export", "b2b"},
		Visibility: "team", Cost: cost,
	})
	must(err)
	second, err := svc.RegisterExperiment(ctx, meta, experiments.RegisterExperiment{
		Team: "growth", Title: "Export pilot", Kind: "pilot", Hypothesis: "a pilot converts", SuccessMetric: "m",
		SuccessCriteria: "c", Owner: "bo", Tags: []string{"export"}, BuildsOn: []string{first.ID}, Visibility: "org", Cost: cost,
	})
	must(err)
	title, kind, hyp, metric, crit, owner, vis := "Export pilot v2", "prototype", "h2", "m2", "c2", "cy", "team"
	tags := []string{"export", "v2"}
	_, err = svc.ReviseExperiment(ctx, meta, second.ID, experiments.ReviseExperiment{
		Title: &title, Kind: &kind, Hypothesis: &hyp, SuccessMetric: &metric, SuccessCriteria: &crit, Owner: &owner,
		Tags: &tags, Visibility: &vis, Cost: &events.Cost{PersonDays: 1, Spend: 2},
	})
	must(err)
	started := now.Add(-48 * time.Hour)
	_, err = svc.StartExperiment(ctx, meta, first.ID, experiments.StartExperiment{StartedAt: &started})
	must(err)
	concluded := now.Add(-time.Hour)
	_, err = svc.ConcludeExperiment(ctx, meta, first.ID, experiments.ConcludeExperiment{
		Outcome: "failed", Decision: "pivot", Summary: "nobody clicked", Observed: "0.4%",
		FailureReasons: []string{"wrong audience"}, ConcludedAt: &concluded,
		Learnings: []experiments.NewLearning{{Text: "admins export, not users", Skills: []string{"research"}}},
	})
	must(err)
	_, err = svc.ReviseOutcome(ctx, meta, first.ID, experiments.ReviseOutcome{Outcome: "inconclusive", Reason: "sample too small"})
	must(err)
	_, err = svc.RecordLearning(ctx, meta, first.ID, experiments.RecordLearning{Text: "ask admins", Skills: []string{"interviewing"}})
	must(err)
	abandoned := now.Add(-30 * time.Minute)
	_, err = svc.AbandonExperiment(ctx, meta, second.ID, experiments.AbandonExperiment{Reason: "superseded", AbandonedAt: &abandoned})
	must(err)
	launched := now.Add(-10 * time.Minute)
	inn, err := svc.RecordInnovation(ctx, meta, experiments.RecordInnovation{
		Team: "platform", Title: "Admin exports", Description: "exports for admins", LaunchedAt: &launched,
		InformedBy: []experiments.LinkInput{{ExperimentID: first.ID, Note: "the failed fake door"}},
	})
	must(err)
	_, err = svc.LinkExperiment(ctx, meta, inn.ID, experiments.LinkExperiment{ExperimentID: second.ID, Note: "the pilot"})
	must(err)
	_, err = svc.UnlinkExperiment(ctx, meta, inn.ID, second.ID)
	must(err)
	emitStoryEvents(ctx, t, svc, meta)
}

func TestValidator(t *testing.T) {
	strict := strictValidator(t)
	open, err := events.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	linked := func(data string) []byte { return wrap(t, events.InnovationLinked, []byte(data)) }
	withType := func(typ string) []byte {
		var m map[string]any
		_ = json.Unmarshal(linked(`{"experiment_id":"01JABCDEFGHJKMNPQRSTVWXYZ0"}`), &m)
		m["type"] = typ
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name             string
		body             []byte
		strictOK, openOK bool
	}{
		{"valid", linked(`{"experiment_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","note":"n"}`), true, true},
		// A member added within a version: readers must take it in stride,
		// the producer's tests must not.
		{"unknown data member", linked(`{"experiment_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","weight":3}`), false, true},
		{"missing required member", linked(`{"note":"n"}`), false, false},
		{"bad id", linked(`{"experiment_id":"not-an-id"}`), false, false},
		{"wrong member type", linked(`{"experiment_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","note":7}`), false, false},
		{"version without a schema", withType("failforward.innovation.linked.v9"), false, false},
		{"unknown event", withType("failforward.innovation.exploded.v1"), false, false},
		{"not a failforward type", withType("com.example.linked.v1"), false, false},
		{"not JSON", []byte(`{"specversion":`), false, false},
		{"envelope without team", func() []byte {
			var m map[string]any
			_ = json.Unmarshal(linked(`{"experiment_id":"01JABCDEFGHJKMNPQRSTVWXYZ0"}`), &m)
			delete(m, "team")
			b, _ := json.Marshal(m)
			return b
		}(), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				v    *events.Validator
				want bool
				mode string
			}{{strict, tt.strictOK, "strict"}, {open, tt.openOK, "published"}} {
				err := c.v.Validate(tt.body)
				if (err == nil) != c.want {
					t.Errorf("%s Validate = %v, want ok %t", c.mode, err, c.want)
				}
				if err != nil && !errors.Is(err, events.ErrMalformed) {
					t.Errorf("%s Validate = %v, want it to wrap ErrMalformed", c.mode, err)
				}
			}
		})
	}
	if !slices.Contains(events.Names, events.InnovationLinked) {
		t.Fatal("catalogue lost innovation.linked")
	}
}

// emittedTraceParent is the trace context tracedContext carries, as
// events record it.
const emittedTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// tracedContext returns a context whose span is the remote parent
// emittedTraceParent with the tracestate "vendor=x".
func tracedContext(t *testing.T) context.Context {
	t.Helper()
	ctx := events.ContextWithTrace(context.Background(), &events.Envelope{TraceParent: emittedTraceParent, TraceState: "vendor=x"})
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatalf("traceparent %s gave no span context", emittedTraceParent)
	}
	return ctx
}

// TestEmittedEventsCarryTheirTrace checks that every event a traced
// command writes records the trace in its tracing extension attributes.
func TestEmittedEventsCarryTheirTrace(t *testing.T) {
	for _, m := range emittedMessages(t) {
		env, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(env.Type, "failforward.webhook.") {
			continue // written without a trace
		}
		if env.TraceParent != emittedTraceParent || env.TraceState != "vendor=x" {
			t.Errorf("event %d: traceparent %q, tracestate %q, want %q and vendor=x", m.Sequence, env.TraceParent, env.TraceState, emittedTraceParent)
		}
	}
}
