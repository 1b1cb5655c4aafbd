// Package profiling writes a CPU profile of a whole program run, for the
// programs' -cpuprofile flag: read it with `go tool pprof`.
package profiling

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// StartCPU starts writing a CPU profile into the file at path, created or
// truncated, and returns the function that stops it and closes the file.
// An empty path profiles nothing.
func StartCPU(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}
