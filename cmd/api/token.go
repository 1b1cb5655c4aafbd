package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
)

// tokenCommand creates an API token: it prints the token once and writes
// only its hash to the AUTH_FILE.
//
//	api token create -name ada -role member -teams growth,search
func tokenCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: api token create -name NAME -role viewer|member|lead|admin [-teams a,b] [-auth-file FILE]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("auth-file", getenv("AUTH_FILE"), "the AUTH_FILE to add the token to (AUTH_FILE)")
	name := fs.String("name", "", "who the token is for; recorded as the actor of its events")
	role := fs.String("role", "member", "viewer, member, lead or admin")
	teams := fs.String("teams", "", "comma-separated teams the token belongs to")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("token create: name the file with -auth-file or AUTH_FILE")
	}
	var ts []string
	for t := range strings.SplitSeq(*teams, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	token, entry, err := auth.NewToken(*name, experiments.Role(*role), ts)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	if err := auth.AddToFile(*file, entry); err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintf(stderr, "added %s (%s) to %s; the token is shown once, below:\n", entry.Name, entry.Role, *file)
	fmt.Fprintln(stdout, token)
	return nil
}
