package projector

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a replay has come: a bar on a terminal, a line
// every interval anywhere else (a log file, CI, a pipe).
type progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	interval time.Duration
	now      func() time.Time

	start     time.Time
	startPos  uint64
	lastPrint time.Time
}

func newProgress(w io.Writer, interval time.Duration, now func() time.Time, startPos, total uint64) *progress {
	p := &progress{w: w, interval: interval, now: now, start: now(), startPos: startPos}
	if w == nil {
		return p
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("rebuild"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
		_ = p.bar.Set64(int64(startPos))
	}
	return p
}

// update records that pos of total events are done.
func (p *progress) update(pos, total uint64) {
	if p.w == nil {
		return
	}
	if p.bar != nil {
		p.bar.ChangeMax64(int64(total))
		_ = p.bar.Set64(int64(pos))
		return
	}
	now := p.now()
	if now.Sub(p.lastPrint) < p.interval {
		return
	}
	p.lastPrint = now
	fmt.Fprintln(p.w, p.line(pos, total, now))
}

// done prints the final figures.
func (p *progress) done(pos, total uint64) {
	if p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Set64(int64(pos))
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
	fmt.Fprintln(p.w, p.line(pos, total, p.now()))
}

func (p *progress) line(pos, total uint64, now time.Time) string {
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 && pos > p.startPos {
		rate = float64(pos-p.startPos) / elapsed.Seconds()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(min(pos, total)) / float64(total)
	}
	eta := "-"
	if rate > 0 && total > pos {
		eta = (time.Duration(float64(total-pos) / rate * float64(time.Second))).Round(time.Second).String()
	} else if pos >= total {
		eta = "0s"
	}
	return fmt.Sprintf("rebuild: %d/%d events (%.0f%%), %.0f events/s, elapsed %s, ETA %s",
		pos, total, pct, rate, elapsed.Round(time.Millisecond), eta)
}
