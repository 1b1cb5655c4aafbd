// Command api serves failforward's HTTP API and dashboard. With no
// NATS_URL and no DATABASE_URL it runs the whole product in one process:
// an embedded JetStream server and SQLite read store under DATA_DIR, and
// the projector in-process.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}
