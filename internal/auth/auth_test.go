package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

func TestTokenRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	tok, entry, err := auth.NewToken("ada", experiments.RoleMember, []string{"growth"})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.AddToFile(file, entry); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("AUTH_FILE mode = %v, %v; want 0600", info.Mode(), err)
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), tok) {
		t.Fatal("AUTH_FILE holds the token in clear")
	}
	tokens, err := auth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := auth.ParseBearer("Bearer " + tok)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tokens.Authenticate(parsed)
	if err != nil || p.Name != "ada" || p.Role != experiments.RoleMember || !p.InTeam("growth") {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	// Another last character: a token that already ends in A must not
	// be "changed" into itself.
	other := "A"
	if strings.HasSuffix(tok, other) {
		other = "B"
	}
	if _, err := tokens.Authenticate(tok[:len(tok)-1] + other); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("a changed token authenticated: %v", err)
	}
	if err := auth.AddToFile(file, entry); err == nil {
		t.Fatal("the same name was added twice")
	}
}

func TestParseBearer(t *testing.T) {
	good := "ff_" + strings.Repeat("a", 43)
	for _, c := range []struct {
		header string
		err    error
	}{
		{"", auth.ErrNoToken},
		{"Bearer " + good, nil},
		{"bearer " + good, nil},
		{"Basic " + good, auth.ErrBadToken},
		{"Bearer", auth.ErrBadToken},
		{"Bearer " + good + "a", auth.ErrBadToken},
		{"Bearer " + strings.Repeat("x", 5000), auth.ErrBadToken},
		{"Bearer ff_" + strings.Repeat("a", 42) + "\n", auth.ErrBadToken},
	} {
		if _, err := auth.ParseBearer(c.header); !errors.Is(err, c.err) {
			t.Errorf("ParseBearer(%.30q) = %v, want %v", c.header, err, c.err)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":    "tokens: []",
		"unknown key": `{"tokens": [], "extra": 1}`,
		"bad role":    `{"tokens": [{"name": "a", "role": "root", "sha256": "` + strings.Repeat("0", 64) + `"}]}`,
		"bad hash":    `{"tokens": [{"name": "a", "role": "admin", "sha256": "abc"}]}`,
		"clear token": `{"tokens": [{"name": "a", "role": "admin", "token": "ff_x"}]}`,
		"duplicate":   `{"tokens": [{"name": "a", "role": "admin", "sha256": "` + strings.Repeat("0", 64) + `"}, {"name": "a", "role": "admin", "sha256": "` + strings.Repeat("1", 64) + `"}]}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := auth.Load(path); err == nil {
			t.Errorf("%s: Load accepted %s", name, body)
		}
	}
	if _, err := auth.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// FuzzParseBearer checks that no header makes the parser panic, and that
// whatever it accepts has the shape of a token.
func FuzzParseBearer(f *testing.F) {
	f.Add("Bearer ff_" + strings.Repeat("a", 43))
	f.Add("Bearer ")
	f.Add("bEaReR ff_\x00")
	f.Add(strings.Repeat("Bearer ", 100))
	tokens, err := auth.New(auth.File{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := auth.ParseBearer(header)
		if err != nil {
			return
		}
		if !strings.HasPrefix(tok, "ff_") || len(tok) != 46 {
			t.Fatalf("ParseBearer(%q) accepted %q", header, tok)
		}
		if _, err := tokens.Authenticate(tok); err == nil {
			t.Fatal("an empty token file authenticated a token")
		}
	})
}
