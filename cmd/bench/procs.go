package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// programs are the product's binaries, built once per run: the bench
// runs them as an operator would, configured by their environment.
type programs struct {
	api, projector string
}

// buildPrograms builds cmd/api and cmd/projector into dir/bin.
func buildPrograms(ctx context.Context, dir string) (programs, error) {
	bin := filepath.Join(dir, "bin") + string(filepath.Separator)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin,
		"github.com/failforward/failforward/cmd/api", "github.com/failforward/failforward/cmd/projector")
	if out, err := cmd.CombinedOutput(); err != nil {
		return programs{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return programs{api: filepath.Join(bin, "api"), projector: filepath.Join(bin, "projector")}, nil
}

// settings are the variables that configure the programs: a process gets
// the ones the bench gives it, never those of the shell that runs the
// bench (which may name a shared database).
var settings = []string{"ADDR", "NATS_URL", "DATABASE_URL", "DATA_DIR", "AUTH_FILE", "METRICS_ADDR",
	"STREAM_REPLICAS", "WRITES_PER_SECOND", "WRITE_BURST", "LOG_FORMAT", "CPU_PROFILE", "EMBEDDED_SYNC", "BATCH_SIZE"}

// process is one of the programs, running.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
	err  error // how it exited, once done is closed
}

// startProcess runs bin with args and the settings in env.
func startProcess(name, bin string, env []string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "OTEL_") && !slices.Contains(settings, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &process{name: name, cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// await waits for the process to print a line beginning with prefix, and
// returns the rest of that line.
func (p *process) await(ctx context.Context, prefix string) (string, error) {
	var rest string
	err := p.poll(ctx, 5*time.Millisecond, time.Minute, "to print "+strconv.Quote(prefix), func() (bool, error) {
		var ok bool
		rest, ok = p.out.find(prefix)
		return ok, nil
	})
	return rest, err
}

// poll asks cond every interval until it holds, for at most timeout, and
// fails at once when the process exits meanwhile.
func (p *process) poll(ctx context.Context, every, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("waited %s for %s %s: %s", timeout, p.name, what, p.out.tail())
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) while the bench waited for it %s: %s", p.name, p.err, what, p.out.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// awaitReady polls u, a /readyz, until it answers 200.
func (p *process) awaitReady(ctx context.Context, client *http.Client, u string) error {
	return p.poll(ctx, 10*time.Millisecond, 2*time.Minute, "to be ready", func() (bool, error) {
		return get(ctx, client, u) == nil, nil
	})
}

// stop ends the process as an operator would, with SIGTERM, and waits
// for it; one that is still there after 30s is killed. It reports a
// process that failed, or that had exited on its own with an error.
func (p *process) stop() error {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.exitErr()
}

// wait waits for the process to end on its own.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.exitErr()
	case <-ctx.Done():
		p.stop()
		return ctx.Err()
	}
}

func (p *process) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("%s: %w: %s", p.name, p.err, p.out.tail())
	}
	return nil
}

// peakRSS is the process's peak resident set (VmHWM), 0 where /proc is
// not there to tell.
func (p *process) peakRSS() uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// output keeps the lines a process prints, up to a bound: the bench
// finds in them the addresses the programs announce and the errors they
// log.
type output struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
}

const maxLines = 2000

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		if len(o.lines) < maxLines {
			o.lines = append(o.lines, strings.TrimSpace(string(o.partial[:i])))
		}
		o.partial = o.partial[i+1:]
	}
	// A progress bar redraws one line with carriage returns.
	if len(o.partial) > 64<<10 {
		o.partial = append(o.partial[:0], o.partial[len(o.partial)-4096:]...)
	}
	return len(b), nil
}

// find returns the rest of the first line that begins with prefix.
func (o *output) find(prefix string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// field returns the value of key in the first line that contains msg,
// as slog's text handler writes it (key=value), or "".
func (o *output) field(msg, key string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if !strings.Contains(l, msg) {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				return v
			}
		}
	}
	return ""
}

// firstError is the first error the process logged, or "".
func (o *output) firstError() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if strings.Contains(l, "level=ERROR") {
			return l
		}
	}
	return ""
}

// tail is the last lines printed, for an error message.
func (o *output) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	last := o.lines[max(0, len(o.lines)-5):]
	if len(last) == 0 {
		return "it printed nothing"
	}
	return "it printed: " + strings.Join(last, " | ")
}

// scrape reads the Prometheus text exposition at u and returns each
// metric's value, summed over its labels.
func scrape(ctx context.Context, client *http.Client, u string) (map[string]float64, error) {
	// Uncompressed: gzip would cost the measured program more CPU than
	// the scrape is worth.
	body, err := fetch(ctx, client, u, "Accept-Encoding", "identity")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			m[name] += v
		}
	}
	return m, nil
}
