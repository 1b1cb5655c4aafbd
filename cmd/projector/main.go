// Command projector keeps failforward's read models up to date with the
// TRACKER stream, and serves its metrics and health on METRICS_ADDR. Any
// number may run against one read store: the one holding the store's
// lease applies events, the others stand by and take over within
// LEASE_DURATION of its death.
//
//	projector                  run until SIGINT or SIGTERM
//	projector rebuild [-strict] replay the stream into fresh tables and swap them in
//	projector healthcheck      ask a running projector whether it is healthy
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // the flag package has printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "projector:", err)
		os.Exit(1)
	}
}
