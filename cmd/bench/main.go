// Command bench measures failforward against the limits of its own parts.
// It builds cmd/api and cmd/projector, starts what they need (an embedded
// nats-server, Postgres databases on the server DATABASE_URL names,
// SQLite files in a temporary directory), runs the programs as processes
// configured by their environment, as an operator would, through each
// scenario, and prints one line per figure beside its baseline
// (the same work done by the part underneath with nothing of ours on
// top), the ratio of the two and the target, then the count of targets
// passed and failed. See the README's Benchmarks section.
//
// Usage:
//
//	go run ./cmd/bench [-quick] [-run regexp] [-cpuprofile dir] [-keep]
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		stop()
		os.Exit(1)
	}
}
