//go:build linux

package chaostest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// fault is one fault the test caused, from the moment it struck until
// the next one struck or the load ended.
type fault struct {
	name       string
	start, end time.Time
}

// tally counts requests by outcome.
type tally struct {
	ok, refused, unanswered, failed int
}

func (t tally) String() string {
	return fmt.Sprintf("%d ok, %d answered 503/429, %d unanswered, %d failed", t.ok, t.refused, t.unanswered, t.failed)
}

// tally counts the writes (or reads) answered in [from, to).
func (l *load) tally(write bool, from, to time.Time) tally {
	var t tally
	for _, o := range l.observations(write) {
		if o.at.Before(from) || !o.at.Before(to) {
			continue
		}
		switch o.outcome {
		case succeeded:
			t.ok++
		case refused:
			t.refused++
		case unanswered:
			t.unanswered++
		default:
			t.failed++
		}
	}
	return t
}

// longestGap is the longest time between two successive successful
// writes (or reads), of all clients, that ended in (from, to]: how long
// the fault of that window kept the load from succeeding at all.
func (l *load) longestGap(write bool, from, to time.Time) time.Duration {
	var gap time.Duration
	prev := time.Time{}
	for _, o := range l.observations(write) {
		if o.outcome != succeeded {
			continue
		}
		if !prev.IsZero() && o.at.After(from) && !o.at.After(to) {
			gap = max(gap, o.at.Sub(prev))
		}
		prev = o.at
	}
	return gap
}

// observations returns the writes' (or reads') observations in time
// order.
func (l *load) observations(write bool) []observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []observation
	for _, o := range l.obs {
		if o.write == write {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b observation) int { return a.at.Compare(b.at) })
	return out
}

// statuses counts the answers of every request by status; 0 stands for
// no answer.
func (l *load) statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for _, o := range l.obs {
		out[o.status]++
	}
	return out
}

// report renders what the load counted, overall and in each fault's
// window.
func (l *load) report(start, end time.Time, faults []fault) string {
	var b strings.Builder
	fmt.Fprintf(&b, "load over %s: %d experiments\n", end.Sub(start).Round(time.Millisecond), len(l.exps))
	fmt.Fprintf(&b, "  writes: %v\n", l.tally(true, start, end.Add(time.Hour)))
	fmt.Fprintf(&b, "  reads:  %v\n", l.tally(false, start, end.Add(time.Hour)))
	fmt.Fprintf(&b, "  statuses (0 = unanswered): %v\n", l.statuses())
	fmt.Fprintf(&b, "  before the first fault: longest gap between successes: writes %s, reads %s\n",
		l.longestGap(true, start, faults[0].start).Round(time.Millisecond),
		l.longestGap(false, start, faults[0].start).Round(time.Millisecond))
	for _, f := range faults {
		fmt.Fprintf(&b, "  %s (window %s): longest gap between successes: writes %s, reads %s\n",
			f.name, f.end.Sub(f.start).Round(time.Millisecond),
			l.longestGap(true, f.start, f.end).Round(time.Millisecond),
			l.longestGap(false, f.start, f.end).Round(time.Millisecond))
		fmt.Fprintf(&b, "    writes: %v; reads: %v\n", l.tally(true, f.start, f.end), l.tally(false, f.start, f.end))
	}
	return b.String()
}
