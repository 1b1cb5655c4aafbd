// Package healthcheck is the `healthcheck` subcommand of failforward's
// binaries: it asks a running process whether it is healthy, for
// container health checks in images that have no shell or curl.
package healthcheck

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Run parses args (-url, defaulting to defaultURL) and returns nil when
// the URL answers 200 within three seconds.
func Run(ctx context.Context, args []string, defaultURL string, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", defaultURL, "URL that answers 200 when healthy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", *url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s", *url, resp.Status)
	}
	return nil
}
