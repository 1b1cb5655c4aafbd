package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"go.yaml.in/yaml/v3"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/webhooks"
	"github.com/failforward/failforward/schema"
)

// The tests in this file keep schema/openapi.yaml honest: it is a valid
// OpenAPI 3.1 document, it lists exactly the routes the server registers,
// its schemas have exactly the fields of the Go types the server reads
// and writes, and real requests and responses of every route match it.

func openAPIBytes(t *testing.T) []byte {
	t.Helper()
	b, err := schema.Documents.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(openAPIBytes(t))
	if err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi.yaml:%s", joinErrs(errs))
	}
	return v
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %v", e)
	}
	return b.String()
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	v := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3.1 document:%s", validationErrors(errs))
	}
}

// registeredRoutes reads the route patterns from routes.go, the one list
// of them, leaving out the catch-alls that have no method.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("a route in routes.go is not a string literal: %T", call.Args[0])
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		if method, _, ok := strings.Cut(pattern, " "); ok && method == strings.ToUpper(method) {
			out = append(out, pattern)
		}
		return true
	})
	if len(out) < 20 {
		t.Fatalf("found only %d routes in routes.go: %v", len(out), out)
	}
	slices.Sort(out)
	return out
}

// documentedRoutes lists the operations of openapi.yaml as Go patterns.
func documentedRoutes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIBytes(t), &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "patch", "delete", "head", "options":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	registered, documented := registeredRoutes(t), documentedRoutes(t)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml describes %s, which routes.go does not register", d)
		}
	}
}

// componentTypes maps openapi.yaml's schemas to the Go types the server
// decodes requests into or encodes responses from.
var componentTypes = map[string]reflect.Type{
	"RegisterExperiment": reflect.TypeFor[experiments.RegisterExperiment](),
	"ReviseExperiment":   reflect.TypeFor[experiments.ReviseExperiment](),
	"StartExperiment":    reflect.TypeFor[experiments.StartExperiment](),
	"NewLearning":        reflect.TypeFor[experiments.NewLearning](),
	"ConcludeExperiment": reflect.TypeFor[experiments.ConcludeExperiment](),
	"ReviseOutcome":      reflect.TypeFor[experiments.ReviseOutcome](),
	"AbandonExperiment":  reflect.TypeFor[experiments.AbandonExperiment](),
	"LinkInput":          reflect.TypeFor[experiments.LinkInput](),
	"RecordInnovation":   reflect.TypeFor[experiments.RecordInnovation](),
	"Cost":               reflect.TypeFor[events.Cost](),
	"Learning":           reflect.TypeFor[experiments.Learning](),
	"Experiment":         reflect.TypeFor[experiments.Experiment](),
	"Link":               reflect.TypeFor[experiments.Link](),
	"Innovation":         reflect.TypeFor[experiments.Innovation](),
	"ExperimentPage":     reflect.TypeFor[readmodel.ExperimentPage](),
	"HistoryEntry":       reflect.TypeFor[readmodel.HistoryEntry](),
	"LineageNode":        reflect.TypeFor[readmodel.LineageNode](),
	"InnovationRef":      reflect.TypeFor[readmodel.InnovationRef](),
	"ExperimentLineage":  reflect.TypeFor[readmodel.ExperimentLineage](),
	"InnovationLineage":  reflect.TypeFor[readmodel.InnovationLineage](),
	"LearningResult":     reflect.TypeFor[readmodel.LearningResult](),
	"TriedBefore":        reflect.TypeFor[readmodel.TriedBefore](),
	"SkillCount":         reflect.TypeFor[readmodel.SkillCount](),
	"PeriodMetrics":      reflect.TypeFor[readmodel.PeriodMetrics](),
	"OutcomeReport":      reflect.TypeFor[readmodel.OutcomeReport](),
	"BacklogItem":        reflect.TypeFor[readmodel.BacklogItem](),
	"CreateWebhook":      reflect.TypeFor[webhooks.CreateInput](),
	"ChangeWebhook":      reflect.TypeFor[webhooks.PatchInput](),
	"ReplayWebhook":      reflect.TypeFor[webhooks.ReplayInput](),
	"Webhook":            reflect.TypeFor[webhooks.Subscription](),
	"WebhookAttempt":     reflect.TypeFor[webhooks.Attempt](),
	"PublishStory":       reflect.TypeFor[experiments.PublishStory](),
	"ReviseStory":        reflect.TypeFor[experiments.ReviseStory](),
	"RetractStory":       reflect.TypeFor[experiments.RetractStory](),
	"Story":              reflect.TypeFor[experiments.Story](),
	"StoryPage":          reflect.TypeFor[readmodel.StoryPage](),
	"StoryDetail":        reflect.TypeFor[readmodel.StoryDetail](),
	"StoryVersion":       reflect.TypeFor[readmodel.StoryVersion](),
}

// jsonNames returns the JSON member names of a struct type as
// encoding/json writes them, embedded structs flattened.
func jsonNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			out = append(out, jsonNames(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// openAPISchema is what TestOpenAPISchemasMatchGoTypes reads of a schema:
// its properties, and those of the schemas it is allOf.
type openAPISchema struct {
	Ref        string          `yaml:"$ref"`
	Properties map[string]any  `yaml:"properties"`
	AllOf      []openAPISchema `yaml:"allOf"`
}

// properties lists the property names of s, those of its allOf parts
// (references to other schemas resolved) included.
func (s openAPISchema) properties(schemas map[string]openAPISchema) []string {
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		return schemas[name].properties(schemas)
	}
	var out []string
	for p := range s.Properties {
		out = append(out, p)
	}
	for _, part := range s.AllOf {
		out = append(out, part.properties(schemas)...)
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes fails when a request or response type
// gains or loses a field and openapi.yaml does not follow.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]openAPISchema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIBytes(t), &doc); err != nil {
		t.Fatal(err)
	}
	for name, typ := range componentTypes {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("openapi.yaml has no schema %s for %s", name, typ)
			continue
		}
		props := s.properties(doc.Components.Schemas)
		slices.Sort(props)
		if got := jsonNames(typ); !slices.Equal(got, props) {
			t.Errorf("schema %s has properties %v; %s has JSON fields %v", name, props, typ, got)
		}
	}
}

// checkedAPI sends requests to the contract API and checks each request
// and its response against openapi.yaml, noting which operations answered
// with success.
type checkedAPI struct {
	*contractAPI
	t         *testing.T
	v         validator.Validator
	succeeded map[string]bool
}

type call struct {
	method, path, token string
	body                any
	raw                 []byte // sent as is when set
	header              map[string]string
	want                int
}

func (c *checkedAPI) send(cl call) []byte {
	t := c.t
	t.Helper()
	body := cl.raw
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			t.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(cl.method, c.url+cl.path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if cl.token != "" {
			req.Header.Set("Authorization", "Bearer "+cl.token)
		}
		for k, v := range cl.header {
			req.Header.Set(k, v)
		}
		return req
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != cl.want {
		t.Fatalf("%s %s = %d, want %d: %s", cl.method, cl.path, resp.StatusCode, cl.want, got)
	}
	// Requests the test sends on purpose malformed are not checked
	// against the document; their answers are.
	req := newReq()
	if cl.want < 300 {
		if ok, errs := c.v.ValidateHttpRequestSync(req); !ok {
			t.Errorf("%s %s: request does not match openapi.yaml:%s", cl.method, cl.path, validationErrors(errs))
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(got))
	if ok, errs := c.v.ValidateHttpResponse(newReq(), resp); !ok {
		t.Errorf("%s %s: %d response does not match openapi.yaml:%s\n%s", cl.method, cl.path, resp.StatusCode, validationErrors(errs), got)
	}
	if cl.want < 300 {
		c.succeeded[cl.method+" "+routeOf(cl.path)] = true
	}
	return got
}

// routeOf turns a request path back into its route pattern.
func routeOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if experiments.ValidID(p) {
			if i > 0 && parts[i-1] == "links" {
				parts[i] = "{experiment_id}"
			} else {
				parts[i] = "{id}"
			}
		}
	}
	return strings.Join(parts, "/")
}

func validationErrors(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
		}
	}
	return b.String()
}

func decodeBody[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, b)
	}
	return v
}

// TestOpenAPIMatchesTheServer drives every route through real HTTP, with
// successes and each kind of error, and checks every request and response
// against openapi.yaml.
func TestOpenAPIMatchesTheServer(t *testing.T) {
	f := startContractAPI(t, time.Minute)
	c := &checkedAPI{contractAPI: f, t: t, v: openAPIValidator(t), succeeded: map[string]bool{}}
	past := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)

	first := decodeBody[experiments.Experiment](t, c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, want: 201,
		header: map[string]string{"Idempotency-Key": "reg-1", "X-Correlation-Id": "c-1", "X-Request-Id": "r-1"},
		body: map[string]any{
			"team": "growth", "title": "Fake door for exports", "kind": "fake_door", "hypothesis": "teams want CSV",
			"success_metric": "clicks", "success_criteria": "> 5%", "owner": "ada", "tags": []string{"export"},
			"visibility": "org", "cost": map[string]any{"person_days": 2, "spend": 100},
		}}))
	second := decodeBody[experiments.Experiment](t, c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, want: 201,
		body: map[string]any{"team": "growth", "title": "Export pilot", "hypothesis": "a pilot converts", "builds_on": []string{first.ID}}}))
	c.send(call{method: "PATCH", path: "/v1/experiments/" + second.ID, token: f.insider, want: 200,
		header: map[string]string{"If-Match": `"1"`},
		body:   map[string]any{"title": "Export pilot v2", "tags": []string{"export", "v2"}, "visibility": "team"}})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/start", token: f.insider, want: 200,
		body: map[string]any{"started_at": past}})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/conclude", token: f.insider, want: 200,
		body: map[string]any{"outcome": "inconclusive", "decision": "pivot", "summary": "few clicks", "observed": "0.4%",
			"failure_reasons": []string{"wrong audience"}, "concluded_at": past.Add(24 * time.Hour),
			"learnings": []map[string]any{{"text": "admins export, not users", "skills": []string{"research"}}}}})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/outcome", token: f.insider, want: 200,
		body: map[string]any{"outcome": "failed", "reason": "the sample was large enough after all"}})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/learnings", token: f.insider, want: 201,
		body: map[string]any{"text": "ask admins first", "skills": []string{"interviewing"}}})
	c.send(call{method: "POST", path: "/v1/experiments/" + second.ID + "/abandon", token: f.insider, want: 200,
		body: map[string]any{"reason": "superseded", "abandoned_at": past.Add(48 * time.Hour)}})
	inn := decodeBody[experiments.Innovation](t, c.send(call{method: "POST", path: "/v1/innovations", token: f.insider, want: 201,
		body: map[string]any{"team": "growth", "title": "Admin exports", "description": "exports for admins",
			"launched_at": past.Add(60 * time.Hour), "informed_by": []map[string]any{{"experiment_id": first.ID, "note": "the failed door"}}}}))
	c.send(call{method: "POST", path: "/v1/innovations/" + inn.ID + "/links", token: f.insider, want: 200,
		body: map[string]any{"experiment_id": second.ID, "note": "the pilot"}})
	c.send(call{method: "DELETE", path: "/v1/innovations/" + inn.ID + "/links/" + second.ID, token: f.insider, want: 200})
	story := decodeBody[experiments.Story](t, c.send(call{method: "POST", path: "/v1/stories", token: f.insider, want: 201,
		body: map[string]any{"team": "growth", "title": "The door nobody opened", "tried": "a fake door", "went_wrong": "few clicks",
			"learned": "ask admins", "differently": "interview first", "experiment_ids": []string{first.ID}, "visibility": "org"}}))
	c.send(call{method: "PATCH", path: "/v1/stories/" + story.ID, token: f.insider, want: 200,
		header: map[string]string{"If-Match": `"1"`}, body: map[string]any{"title": "The door few opened"}})
	c.send(call{method: "POST", path: "/v1/stories/" + story.ID + "/helped", token: f.lead, want: 200})
	told := decodeBody[experiments.Story](t, c.send(call{method: "POST", path: "/v1/stories", token: f.lead, want: 201,
		body: map[string]any{"team": "growth", "title": "Told twice", "learned": "check first", "experiment_ids": []string{first.ID}}}))
	c.send(call{method: "POST", path: "/v1/stories/" + told.ID + "/retract", token: f.lead, want: 200, body: map[string]any{"reason": "told twice"}})
	last, err := f.store.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.project(t)

	pos := "?min_position=" + strconv.FormatUint(last, 10)
	for _, path := range []string{
		"/v1/experiments" + pos + "&team=growth&status=concluded&outcome=failed&tag=export&q=door&limit=10",
		"/v1/experiments?limit=1",
		"/v1/experiments/" + first.ID + pos,
		"/v1/experiments/" + first.ID + "/history",
		"/v1/experiments/" + first.ID + "/lineage",
		"/v1/innovations?team=growth",
		"/v1/innovations/" + inn.ID,
		"/v1/innovations/" + inn.ID + "/history",
		"/v1/innovations/" + inn.ID + "/lineage",
		"/v1/learnings?q=admins&skill=research&team=growth&limit=5",
		"/v1/learnings?outcome=failed",
		"/v1/experiments/similar?text=exports+for+admins&limit=5",
		"/v1/dashboard/outcomes?team=growth&from=2020-01&to=2100-01-01&bucket=quarter",
		"/v1/dashboard/outcomes",
		"/v1/dashboard/failures?unlinked=false",
		"/v1/dashboard/failures?unlinked=true&team=growth",
		"/v1/stories" + pos + "&team=growth&by_leads=false&skill=Research&experiment_id=" + first.ID + "&limit=5",
		"/v1/stories/" + story.ID + pos,
		"/v1/skills?team=growth&from=2020-01-15&to=2100-01-01&bucket=quarter",
		"/v1/skills",
	} {
		for _, token := range []string{f.lead, f.outsider} {
			c.send(call{method: "GET", path: path, token: token, want: 200})
		}
	}
	c.send(call{method: "GET", path: "/healthz", want: 200})
	c.send(call{method: "GET", path: "/readyz", want: 200})
	c.send(call{method: "GET", path: "/metrics", want: 200})
	c.send(call{method: "GET", path: "/schema/events/experiment.concluded.v1.json", want: 200})
	c.succeeded["GET /schema/events/{file}"] = true
	c.send(call{method: "GET", path: "/schema/events/experiment.exploded.v1.json", want: 404})
	c.send(call{method: "GET", path: "/v1/events?after=" + strconv.FormatUint(last+1, 10), token: f.lead, want: 400})
	// The stream itself is checked by its own tests; here only its status
	// and media type are.
	s := f.openStream(t, f.lead, "type=experiment.registered", "")
	if m := s.next(t); m.event != events.TypeOf(events.ExperimentRegistered) {
		t.Errorf("GET /v1/events: first event %q", m.event)
	}
	c.succeeded["GET /v1/events"] = true

	// Each kind of error, and that its answer is documented.
	unknown := ulid.Make().String()
	c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, raw: []byte(`{"team":`), want: 400})
	c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, body: map[string]any{"team": "growth", "colour": "red"}, want: 400})
	c.send(call{method: "POST", path: "/v1/experiments", body: map[string]any{"team": "growth"}, want: 401})
	c.send(call{method: "POST", path: "/v1/experiments", token: f.outsider, want: 403,
		body: map[string]any{"team": "growth", "title": "t", "hypothesis": "h"}})
	c.send(call{method: "POST", path: "/v1/experiments/" + unknown + "/start", token: f.insider, want: 404})
	c.send(call{method: "GET", path: "/v1/experiments/" + unknown, token: f.insider, want: 404})
	c.send(call{method: "GET", path: "/v1/experiments/" + second.ID, token: f.outsider, want: 404})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/start", token: f.insider, want: 409})
	c.send(call{method: "POST", path: "/v1/experiments/" + first.ID + "/learnings", token: f.insider, want: 412,
		header: map[string]string{"If-Match": `"1"`}, body: map[string]any{"text": "late"}})
	c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, raw: bytes.Repeat([]byte(" "), 2<<20), want: 413})
	c.send(call{method: "POST", path: "/v1/experiments", token: f.insider, raw: []byte(`{}`), want: 415,
		header: map[string]string{"Content-Type": "text/plain"}})
	c.send(call{method: "GET", path: "/v1/experiments?limit=0", token: f.insider, want: 400})
	c.send(call{method: "POST", path: "/v1/stories", token: f.insider, want: 400,
		body: map[string]any{"title": "No lesson", "experiment_ids": []string{first.ID}}})
	c.send(call{method: "POST", path: "/v1/stories", token: f.outsider, want: 403,
		body: map[string]any{"team": "growth", "title": "t", "learned": "l", "experiment_ids": []string{first.ID}}})
	c.send(call{method: "GET", path: "/v1/stories/" + told.ID, token: f.lead, want: 404})
	c.send(call{method: "POST", path: "/v1/stories/" + told.ID + "/retract", token: f.lead, want: 409})
	c.send(call{method: "GET", path: "/v1/stories?by_leads=maybe", token: f.lead, want: 400})
	c.send(call{method: "GET", path: "/v1/experiments/similar", token: f.insider, want: 400})
	c.send(call{method: "GET", path: "/v1/experiments/similar?text=x&limit=51", token: f.insider, want: 400})
	c.send(call{method: "GET", path: "/v1/skills?bucket=week", token: f.insider, want: 400})
	c.send(call{method: "GET", path: "/v1/experiments?min_position=" + strconv.FormatUint(last+100, 10), token: f.insider, want: 503})

	exerciseWebhooks(t, c)

	for _, route := range documentedRoutes(t) {
		if !c.succeeded[route] {
			t.Errorf("%s was never exercised with success against openapi.yaml", route)
		}
	}
}

// TestOpenAPITokenOnlyWithTokens checks that the document asks for a
// bearer token only as one alternative: a server without AUTH_FILE takes
// requests with no credentials, and the document must not call them
// invalid.
func TestOpenAPITokenOnlyWithTokens(t *testing.T) {
	var doc struct {
		Security []map[string][]string `yaml:"security"`
	}
	if err := yaml.Unmarshal(openAPIBytes(t), &doc); err != nil {
		t.Fatal(err)
	}
	var none, bearer bool
	for _, req := range doc.Security {
		_, hasBearer := req["bearer"]
		none = none || len(req) == 0
		bearer = bearer || (hasBearer && len(req) == 1)
	}
	if !none || !bearer {
		t.Errorf("security = %v, want [{}, {bearer: []}]", doc.Security)
	}
	v := openAPIValidator(t)
	req, err := http.NewRequest("GET", "http://127.0.0.1:8080/v1/experiments", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := v.ValidateHttpRequestSync(req); !ok {
		t.Errorf("a request without a token does not match openapi.yaml:%s", validationErrors(errs))
	}
}
