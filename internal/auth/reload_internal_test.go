package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// writeFile writes entries as an AUTH_FILE, keeping its modification
// time when keepTime is set, so that only a signal can tell the watcher.
func writeFile(t *testing.T, path string, entries []Entry, keepTime bool) {
	t.Helper()
	info, statErr := os.Stat(path)
	b, err := json.Marshal(File{Tokens: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if keepTime && statErr == nil {
		if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	ada, adaEntry, _ := NewToken("ada", experiments.RoleMember, []string{"growth"})
	bob, bobEntry, _ := NewToken("bob", experiments.RoleViewer, nil)
	writeFile(t, path, []Entry{adaEntry, bobEntry}, false)
	tokens, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tokens.watch(ctx, path, slog.New(slog.NewTextHandler(&logs, nil)), hup, 10*time.Millisecond)
	}()
	t.Cleanup(func() { cancel(); <-done })
	works := func(tok string) bool { _, err := tokens.Authenticate(tok); return err == nil }

	// A removed token is refused once the file changes.
	writeFile(t, path, []Entry{adaEntry}, false)
	poll(t, "bob's token refused", func() bool { return !works(bob) })
	if !works(ada) {
		t.Fatal("ada's token stopped working")
	}

	// A file that does not parse keeps the tokens in use, and says why.
	if err := os.WriteFile(path, []byte(`{"tokens": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	poll(t, "the failed reload logged", func() bool { return strings.Contains(logs.String(), "AUTH_FILE not reloaded") })
	if !works(ada) || works(bob) {
		t.Fatalf("after a broken file: ada %t, bob %t; want the previous tokens", works(ada), works(bob))
	}
	if !strings.Contains(logs.String(), "parse AUTH_FILE") {
		t.Errorf("log %q does not say what is wrong", logs.String())
	}

	// A change the file's time and size do not show is reloaded on SIGHUP.
	// (member and viewer are as long as each other.)
	adaViewer := adaEntry
	adaViewer.Role = experiments.RoleViewer
	writeFile(t, path, []Entry{adaEntry}, false)
	poll(t, "the fixed file reloaded", func() bool { return strings.Contains(logs.String(), "trigger=\"file changed\" tokens=1") })
	writeFile(t, path, []Entry{adaViewer}, true)
	hup <- syscall.SIGHUP
	poll(t, "ada is a viewer", func() bool {
		p, err := tokens.Authenticate(ada)
		return err == nil && p.Role == experiments.RoleViewer
	})
}
