package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// serveOnlyGCPercent is the garbage collector's target when the api only
// serves, with the projector a process of its own. Its live heap is then
// small (the cache of aggregates and the requests in flight), so letting
// the heap grow to five times it before a collection, rather than twice,
// costs a few megabytes and gives the CPU back to requests: on the
// bench's append scenario a sixth of the api's CPU went to the collector
// at the runtime's default of 100. With the projector in-process, whose
// batches hold much of a replay in memory, the default stays.
const serveOnlyGCPercent = 400

// tuneGC sets serveOnlyGCPercent when the api only serves and the
// operator has not chosen with GOGC, and says so on out.
func tuneGC(cfg config, getenv func(string) string, out io.Writer) {
	if getenv("GOGC") != "" || cfg.inProcessProjector() {
		return
	}
	debug.SetGCPercent(serveOnlyGCPercent)
	fmt.Fprintf(out, "runtime: GOGC=%d, as the projector runs apart (set GOGC to choose another)\n", serveOnlyGCPercent)
}
