package main

import (
	"math"
	"slices"
	"time"
)

// latencies is a set of measured durations.
type latencies []time.Duration

// merge joins the samples of several workers.
func merge(parts ...latencies) latencies {
	var all latencies
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// percentile returns the p-th percentile (0 < p ≤ 100) by nearest rank:
// the smallest sample that at least p percent of the samples do not
// exceed. It sorts l in place, and returns 0 for no samples.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	rank := int(math.Ceil(float64(len(l))*p/100)) - 1
	return l[min(max(rank, 0), len(l)-1)]
}

// p99 is the 99th percentile, in seconds, as figures hold durations.
func (l latencies) p99() float64 { return l.percentile(99).Seconds() }

// p50 is the median, in seconds.
func (l latencies) p50() float64 { return l.percentile(50).Seconds() }
