package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// writeAuthFile replaces the AUTH_FILE at path with entries, by rename as
// an operator's tooling would.
func writeAuthFile(t *testing.T, path string, entries ...auth.Entry) {
	t.Helper()
	b, err := json.Marshal(auth.File{Tokens: entries})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pollStatus repeats a request until it answers want, for up to 10s.
func (a *app) pollStatus(want int, method, path string, body any, header ...string) {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.do(method, path, body, header...)
		if r.status == want {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s %s still answers %d %s, want %d", method, path, r.status, r.body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuthFileReload edits AUTH_FILE under a running api: a removed token
// is refused and a changed role applies, without a restart; a file that no
// longer parses leaves the tokens in use as they were.
func TestAuthFileReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.json")
	adaTok, ada, err := auth.NewToken("ada", experiments.RoleMember, []string{"growth"})
	if err != nil {
		t.Fatal(err)
	}
	bobTok, bob, err := auth.NewToken("bob", experiments.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeAuthFile(t, file, ada, bob)
	a := startApp(t, map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "AUTH_FILE": file})
	asAda := []string{"Authorization", "Bearer " + adaTok}
	asBob := []string{"Authorization", "Bearer " + bobTok}
	create := map[string]any{"team": "growth", "title": "Reload", "hypothesis": "h"}

	a.must(http.StatusCreated, "POST", "/v1/experiments", create, asAda...)
	a.must(http.StatusOK, "GET", "/v1/experiments", nil, asBob...)

	// Bob's token is revoked and Ada becomes a viewer.
	ada.Role = experiments.RoleViewer
	writeAuthFile(t, file, ada)
	a.pollStatus(http.StatusUnauthorized, "GET", "/v1/experiments", nil, asBob...)
	a.pollStatus(http.StatusForbidden, "POST", "/v1/experiments", create, asAda...)
	a.must(http.StatusOK, "GET", "/v1/experiments", nil, asAda...)

	// A broken file changes nothing, and the log says why.
	if err := os.WriteFile(file, []byte(`{"tokens": [{"name": "ada"`), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.out.String(), "AUTH_FILE not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the broken AUTH_FILE:\n%s", a.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.must(http.StatusOK, "GET", "/v1/experiments", nil, asAda...)
	a.must(http.StatusUnauthorized, "GET", "/v1/experiments", nil, asBob...)
}
