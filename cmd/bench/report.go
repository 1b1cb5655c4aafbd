package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// unit says how a figure's value reads.
type unit int

const (
	perSecond unit = iota // a rate: events or commands per second
	seconds               // a duration, in seconds
	bytesUnit             // a size, in bytes
	countUnit             // a plain count
)

func (u unit) format(v float64) string {
	switch u {
	case perSecond:
		return thousands(v) + "/s"
	case seconds:
		d := time.Duration(v * float64(time.Second))
		switch {
		case d < time.Millisecond:
			return fmt.Sprintf("%.0fµs", v*1e6)
		case d < time.Second:
			return fmt.Sprintf("%.1fms", v*1e3)
		}
		return fmt.Sprintf("%.1fs", v)
	case bytesUnit:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return thousands(v)
}

// thousands renders v rounded to a whole number with commas.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// baseline is what a figure is measured against: the same work done by
// the part underneath with nothing of ours on top.
type baseline struct {
	name  string
	value float64
}

// target is one goal a figure must meet.
type target struct {
	desc string
	met  func(f figure) bool
}

// atLeast is met by a value of at least min.
func atLeast(min float64, u unit) target {
	return target{desc: "≥ " + u.format(min), met: func(f figure) bool { return f.value >= min }}
}

// below is met by a value under max.
func below(max float64, u unit) target {
	return target{desc: "< " + u.format(max), met: func(f figure) bool { return f.value < max }}
}

// shareOfBaseline is met when value/baseline is at least min.
func shareOfBaseline(min float64) target {
	return target{desc: fmt.Sprintf("≥ %.2f× baseline", min), met: func(f figure) bool {
		r, ok := f.ratio()
		return ok && r >= min
	}}
}

// figure is one measured number, with its baseline and targets.
type figure struct {
	scenario string
	name     string
	value    float64
	unit     unit
	base     *baseline
	targets  []target
	// note follows the line, for what a reader needs to judge the value
	// (the load it was measured under, errors seen).
	note string
}

func (f figure) ratio() (float64, bool) {
	if f.base == nil || f.base.value == 0 {
		return 0, false
	}
	return f.value / f.base.value, true
}

// report prints figures as they are measured and counts the targets met
// and missed. It is safe for concurrent use.
type report struct {
	mu      sync.Mutex
	out     io.Writer
	passed  int
	failed  int
	skipped int
	// errored is set when a scenario could not run at all.
	errored bool
}

func newReport(out io.Writer) *report { return &report{out: out} }

// add prints f on one line and counts its targets.
func (r *report) add(f figure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	base, ratio := "", ""
	if f.base != nil {
		base = f.base.name + " " + f.unit.format(f.base.value)
		if x, ok := f.ratio(); ok {
			ratio = fmt.Sprintf("%.2f×", x)
		}
	}
	verdict := "info"
	var wants []string
	if len(f.targets) > 0 {
		verdict = "PASS"
		for _, t := range f.targets {
			if t.met(f) {
				r.passed++
				wants = append(wants, t.desc)
			} else {
				r.failed++
				verdict = "MISS"
				wants = append(wants, t.desc+" (missed)")
			}
		}
	}
	want := ""
	if len(wants) > 0 {
		want = "want " + strings.Join(wants, ", ")
	}
	line := fmt.Sprintf("%-14s %-40s %10s  %-28s %6s  %-4s  %s", f.scenario, f.name, f.unit.format(f.value), base, ratio, verdict, want)
	if f.note != "" {
		line += "  [" + f.note + "]"
	}
	fmt.Fprintln(r.out, strings.TrimRight(line, " "))
}

// skip reports targets that were not measured, and why; they count
// neither as passed nor as failed.
func (r *report) skip(scenario, what string, targets int, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped += targets
	fmt.Fprintf(r.out, "%-14s %-40s %10s  %-28s %6s  %-4s  %s\n", scenario, what, "-", "", "", "SKIP", why)
}

// fail reports a scenario that could not run; it counts as one missed
// target, so that a broken scenario never reads as a pass.
func (r *report) fail(scenario string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	r.errored = true
	fmt.Fprintf(r.out, "%-14s ERROR: %v\n", scenario, err)
}

// notef prints a line of context that is not a figure.
func (r *report) notef(scenario, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "%-14s · %s\n", scenario, fmt.Sprintf(format, args...))
}

// summary prints the closing line: targets passed and failed, and the
// skipped ones when there are any.
func (r *report) summary() {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf("%d passed, %d failed", r.passed, r.failed)
	if r.skipped > 0 {
		line += fmt.Sprintf(", %d skipped", r.skipped)
	}
	fmt.Fprintln(r.out, line)
}
