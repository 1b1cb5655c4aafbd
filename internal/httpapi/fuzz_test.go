package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/readmodel"
)

// FuzzCommandBodies sends arbitrary bodies to every command route of a
// real server: whatever arrives, the answer is a JSON error or a success,
// never a 500.
func FuzzCommandBodies(f *testing.F) {
	ctx := context.Background()
	_, _, svc, db := openParts(f)
	api, err := httpapi.New(httpapi.Config{
		Service: svc, Queries: readmodel.NewQueries(db), ReadStore: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(api)
	f.Cleanup(srv.Close)

	local := experiments.Meta{Actor: "fuzz"}
	planned, err := svc.RegisterExperiment(ctx, local, experiments.RegisterExperiment{Team: "growth", Title: "t", Hypothesis: "h"})
	if err != nil {
		f.Fatal(err)
	}
	running, _ := svc.RegisterExperiment(ctx, local, experiments.RegisterExperiment{Team: "growth", Title: "t", Hypothesis: "h"})
	svc.StartExperiment(ctx, local, running.ID, experiments.StartExperiment{})
	inn, err := svc.RecordInnovation(ctx, local, experiments.RecordInnovation{Team: "growth", Title: "i"})
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"POST", "/v1/experiments"},
		{"PATCH", "/v1/experiments/" + planned.ID},
		{"POST", "/v1/experiments/" + planned.ID + "/start"},
		{"POST", "/v1/experiments/" + running.ID + "/conclude"},
		{"POST", "/v1/experiments/" + running.ID + "/outcome"},
		{"POST", "/v1/experiments/" + running.ID + "/abandon"},
		{"POST", "/v1/experiments/" + running.ID + "/learnings"},
		{"POST", "/v1/innovations"},
		{"POST", "/v1/innovations/" + inn.ID + "/links"},
	}
	seeds := []string{
		`{"team":"growth","title":"t","hypothesis":"h","tags":["a"],"builds_on":[],"cost":{"spend":1}}`,
		`{"title":"new","tags":null}`,
		`{"started_at":"2026-01-01T00:00:00Z"}`,
		`{"outcome":"failed","decision":"pivot","summary":"s","learnings":[{"text":"l","skills":["x"]}]}`,
		`{"outcome":"succeeded","reason":"r"}`,
		`{"reason":"r","abandoned_at":"1999-01-01T00:00:00Z"}`,
		`{"text":"t","skills":["a","a"]}`,
		`{"team":"growth","title":"i","informed_by":[{"experiment_id":"` + planned.ID + `"}]}`,
		`{"experiment_id":"` + running.ID + `","note":"n"}`,
		`{"a":`, `[]`, `null`, `{"title":1e999}`, "\x00", `{"team":"\u0000"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		req, err := http.NewRequest(r.method, srv.URL+r.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var reply map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
			t.Fatalf("%s %s %q: reply is not JSON: %v", r.method, r.path, body, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q = %d %v", r.method, r.path, body, resp.StatusCode, reply)
		}
		if resp.StatusCode >= 400 {
			if e, ok := reply["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
				t.Fatalf("%s %s %q = %d without an error body: %v", r.method, r.path, body, resp.StatusCode, reply)
			}
		}
	})
}
