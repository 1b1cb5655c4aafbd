package main

import (
	"context"
	"fmt"
	"io"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// rebuild replays the whole stream into fresh read-model tables and swaps
// them in when caught up, showing its progress on stdout.
func rebuild(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("rebuild", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	stopProfile, err := cfg.profile(log)
	if err != nil {
		return err
	}
	defer stopProfile()
	nc, err := connect(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer nc.Close()
	// Opened here only to name the read store and its dialect; Rebuild
	// opens what it needs.
	db, err := readstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	dialect, location := db.Dialect, db.Location
	db.Close()
	fmt.Fprintf(stdout, "read store: %s %s\n", dialect, location)
	applier, err := readmodel.NewProjection(dialect)
	if err != nil {
		return err
	}
	if err := projector.Rebuild(ctx, projector.RebuildConfig{
		Conn: nc, DatabaseURL: cfg.DatabaseURL, Applier: applier, Strict: cfg.Strict, BatchSize: cfg.BatchSize,
		Progress: stdout, Logger: log,
	}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "rebuild: done; the rebuilt read models are live")
	return nil
}
