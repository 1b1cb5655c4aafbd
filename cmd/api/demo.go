package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/failforward/failforward/internal/demo"
)

// writeDemo fills an empty event store with the demo history when -demo
// is set, and says what it wrote. A store that holds events is refused:
// the api does not start, rather than mix made-up history into real.
func writeDemo(ctx context.Context, cfg config, store demo.Store, stdout io.Writer) error {
	if !cfg.Demo {
		return nil
	}
	start := time.Now()
	sum, err := demo.Write(ctx, demo.Config{Store: store, Seed: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: wrote %d events (%d experiments, %d innovations, %s to %s) in %s\n",
		sum.Events, sum.Experiments, sum.Innovations, sum.From.Format(time.DateOnly), sum.To.Format(time.DateOnly),
		time.Since(start).Round(time.Millisecond))
	return nil
}
