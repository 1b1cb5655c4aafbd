package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
)

// TestAuthBootstrap starts the api twice on the same AUTH_FILE with
// AUTH_BOOTSTRAP: the first start creates one admin token, keeps only its
// hash and prints the token once; the second creates none, and the token
// still works.
func TestAuthBootstrap(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "auth", "tokens.json")
	env := func() map[string]string {
		return map[string]string{"DATA_DIR": dir, "AUTH_FILE": file, "AUTH_BOOTSTRAP": "true"}
	}
	var token string
	t.Run("first start", func(t *testing.T) {
		a := startApp(t, env())
		if n := strings.Count(a.out.String(), "ff_"); n != 1 {
			t.Fatalf("the output shows %d tokens, want 1:\n%s", n, a.out)
		}
		line := a.out.find(t, "access: first start, created the admin token ", nil)
		token = line[strings.LastIndex(line, " ")+1:]
		if !strings.HasPrefix(token, "ff_") {
			t.Fatalf("no token at the end of %q", line)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(token)) {
			t.Error("AUTH_FILE holds the token in clear")
		}
		sum := sha256.Sum256([]byte(token))
		if !bytes.Contains(b, []byte(hex.EncodeToString(sum[:]))) || !bytes.Contains(b, []byte(`"admin"`)) {
			t.Errorf("AUTH_FILE does not hold the admin token's hash:\n%s", b)
		}
		a.must(200, "GET", "/v1/experiments", nil, "Authorization", "Bearer "+token)
		a.must(401, "GET", "/v1/experiments", nil)
	})
	t.Run("second start", func(t *testing.T) {
		a := startApp(t, env())
		if strings.Contains(a.out.String(), "ff_") || strings.Contains(a.out.String(), "first start") {
			t.Errorf("a second start printed a token:\n%s", a.out)
		}
		tokens := tokenNames(t, file)
		if len(tokens) != 1 || tokens[0] != "admin" {
			t.Errorf("AUTH_FILE holds %v after two starts, want one admin token", tokens)
		}
		a.must(200, "GET", "/v1/experiments", nil, "Authorization", "Bearer "+token)
	})
}

func tokenNames(t *testing.T, file string) []string {
	t.Helper()
	if _, err := auth.Load(file); err != nil {
		t.Fatal(err)
	}
	var f auth.File
	b, _ := os.ReadFile(file)
	var names []string
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Tokens {
		names = append(names, e.Name)
	}
	return names
}

func TestAuthBootstrapNeedsAuthFile(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"AUTH_BOOTSTRAP": "true", "DATA_DIR": t.TempDir()}[k]
	}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "AUTH_BOOTSTRAP needs AUTH_FILE") {
		t.Errorf("AUTH_BOOTSTRAP without AUTH_FILE = %v", err)
	}
}
