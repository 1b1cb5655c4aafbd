// Package auth keeps failforward's API tokens: a file of named tokens,
// stored only as SHA-256 hashes, each with a role and teams.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/failforward/failforward/internal/experiments"
)

// tokenPrefix marks failforward tokens, so that a leaked one is easy to
// recognise in a secret scanner.
const tokenPrefix = "ff_"

// maxTokenLen bounds what the parser reads from a header.
const maxTokenLen = 128

var (
	// ErrNoToken reports a request without a bearer token.
	ErrNoToken = errors.New("no bearer token")
	// ErrBadToken reports a malformed or unknown token.
	ErrBadToken = errors.New("unknown or malformed token")

	namePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	tokenPattern = regexp.MustCompile(`^ff_[A-Za-z0-9_-]{43}$`)
)

// Entry is one token in the file. The token itself is never stored.
type Entry struct {
	Name   string           `json:"name"`
	Role   experiments.Role `json:"role"`
	Teams  []string         `json:"teams"`
	SHA256 string           `json:"sha256"`
}

// File is the AUTH_FILE document.
type File struct {
	Tokens []Entry `json:"tokens"`
}

// Tokens authenticates bearer tokens against the entries of a file. It is
// safe for concurrent use, and Reload or Watch swap in a new file's
// entries while requests are being authenticated.
type Tokens struct {
	table atomic.Pointer[table]
}

// table is one file's entries, never changed once built: a reload swaps
// the whole table, so a request sees either the old file or the new one.
type table struct {
	entries []Entry
	hashes  [][]byte
	// stamp is the file's as it was just before it was read.
	stamp fileStamp
}

// Load reads and checks the AUTH_FILE at path.
func Load(path string) (*Tokens, error) {
	return tokensOf(loadTable(path))
}

func tokensOf(tab *table, err error) (*Tokens, error) {
	if err != nil {
		return nil, err
	}
	t := &Tokens{}
	t.table.Store(tab)
	return t, nil
}

func loadTable(path string) (*table, error) {
	stamp := stampOf(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read AUTH_FILE: %w", err)
	}
	var f File
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse AUTH_FILE %s: %w", path, err)
	}
	t, err := newTable(f)
	if err != nil {
		return nil, err
	}
	t.stamp = stamp
	return t, nil
}

// New checks f's entries and returns Tokens for them.
func New(f File) (*Tokens, error) {
	return tokensOf(newTable(f))
}

func newTable(f File) (*table, error) {
	t := &table{}
	var errs []error
	seen := map[string]bool{}
	for i, e := range f.Tokens {
		if err := e.validate(); err != nil {
			errs = append(errs, fmt.Errorf("token %d (%s): %w", i+1, e.Name, err))
			continue
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("token %d: name %s is used twice", i+1, e.Name))
		}
		seen[e.Name] = true
		h, _ := hex.DecodeString(e.SHA256)
		t.entries = append(t.entries, e)
		t.hashes = append(t.hashes, h)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("AUTH_FILE: %w", err)
	}
	return t, nil
}

func (e Entry) validate() error {
	var errs []error
	if !namePattern.MatchString(e.Name) {
		errs = append(errs, errors.New("name must be 1 to 64 letters, digits, '.', '_', '@' or '-'"))
	}
	if !slices.Contains(experiments.Roles, e.Role) {
		errs = append(errs, fmt.Errorf("role %q is not one of viewer, member, lead, admin", e.Role))
	}
	if h, err := hex.DecodeString(e.SHA256); err != nil || len(h) != sha256.Size {
		errs = append(errs, errors.New("sha256 must be 64 hex digits"))
	}
	return errors.Join(errs...)
}

// ParseBearer returns the token of an Authorization header value.
func ParseBearer(header string) (string, error) {
	if header == "" {
		return "", ErrNoToken
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrBadToken
	}
	token = strings.TrimSpace(token)
	if len(token) > maxTokenLen || !tokenPattern.MatchString(token) {
		return "", ErrBadToken
	}
	return token, nil
}

// Authenticate returns the principal whose token this is. Every entry is
// compared, in constant time, so that the time taken says nothing about
// which entry or how much of a hash matched.
func (t *Tokens) Authenticate(token string) (*experiments.Principal, error) {
	tab := t.table.Load()
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, h := range tab.hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, ErrBadToken
	}
	e := tab.entries[found]
	return &experiments.Principal{Name: e.Name, Role: e.Role, Teams: slices.Clone(e.Teams)}, nil
}

// NewToken returns a fresh random token and the entry that stores its
// hash.
func NewToken(name string, role experiments.Role, teams []string) (token string, entry Entry, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Entry{}, err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	entry = Entry{Name: name, Role: role, Teams: teams, SHA256: hex.EncodeToString(sum[:])}
	if err := entry.validate(); err != nil {
		return "", Entry{}, err
	}
	return token, entry, nil
}

// AddToFile appends entry to the AUTH_FILE at path, creating it (readable
// by its owner only) when missing.
func AddToFile(path string, entry Entry) error {
	var f File
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read AUTH_FILE: %w", err)
	default:
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("parse AUTH_FILE %s: %w", path, err)
		}
	}
	f.Tokens = append(f.Tokens, entry)
	if _, err := New(f); err != nil {
		return err
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return fmt.Errorf("write AUTH_FILE: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write AUTH_FILE: %w", err)
	}
	return nil
}
