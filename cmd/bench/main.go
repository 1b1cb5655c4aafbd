// Command bench measures failforward against the limits of its own parts.
// It starts what it needs (an embedded nats-server, Postgres databases on
// the server DATABASE_URL names, SQLite files in a temporary directory),
// runs each scenario, and prints one line per figure beside its baseline
// (the same work done by the part underneath with nothing of ours on
// top), the ratio of the two and the target, then the count of targets
// passed and failed. See the README's Benchmarks section.
//
// Usage:
//
//	go run ./cmd/bench [-quick] [-run regexp] [-cpuprofile dir]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(ctx, os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		stop()
		os.Exit(1)
	}
}
