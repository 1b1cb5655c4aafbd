package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// bootstrapName is the name of the admin token a first start creates; it
// is recorded as the actor of the events that token causes.
const bootstrapName = "admin"

// bootstrapTokens gives a fresh deployment its first token: with
// AUTH_BOOTSTRAP set and an AUTH_FILE that is missing or holds no token,
// it creates an admin token, writes only its hash to the file and prints
// the token this once, since nothing can read it back. A file that holds
// a token is left alone, so later starts create none.
func bootstrapTokens(cfg config, stdout io.Writer) error {
	if !cfg.AuthBootstrap {
		return nil
	}
	b, err := os.ReadFile(cfg.AuthFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("auth bootstrap: read AUTH_FILE: %w", err)
	default:
		var f auth.File
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("auth bootstrap: parse AUTH_FILE %s: %w", cfg.AuthFile, err)
		}
		if len(f.Tokens) > 0 {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.AuthFile), 0o700); err != nil {
		return fmt.Errorf("auth bootstrap: %w", err)
	}
	token, entry, err := auth.NewToken(bootstrapName, experiments.RoleAdmin, nil)
	if err != nil {
		return fmt.Errorf("auth bootstrap: %w", err)
	}
	if err := auth.AddToFile(cfg.AuthFile, entry); err != nil {
		return fmt.Errorf("auth bootstrap: %w", err)
	}
	fmt.Fprintf(stdout, "access: first start, created the %s token %q in %s (only its hash is kept; it is shown this once): %s\n",
		entry.Role, entry.Name, cfg.AuthFile, token)
	return nil
}
