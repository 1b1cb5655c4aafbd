//go:build linux

package chaostest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector/projectortest"
)

// binaries are the programs the topology runs, built for the test.
type binaries struct {
	natsServer, api, projector string
}

// buildBinaries builds nats-server from the module go.mod pins, and the
// api and the projector, in one go build so that they compile in
// parallel.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/nats-io/nats-server/v2",
		"github.com/failforward/failforward/cmd/api",
		"github.com/failforward/failforward/cmd/projector")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return binaries{
		natsServer: filepath.Join(dir, "nats-server"),
		api:        filepath.Join(dir, "api"),
		projector:  filepath.Join(dir, "projector"),
	}
}

// freePort returns a loopback TCP port that nothing listens on now. A
// process started later binds it; the short race with other programs is
// accepted, as the ports must stay the same across restarts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// productEnv is the test's environment without the product's own
// settings, which come from the test alone, never from the shell that
// runs it (which may name a shared database).
func productEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "ADDR", "NATS_URL", "DATABASE_URL", "DATA_DIR", "AUTH_FILE", "METRICS_ADDR", "STREAM_REPLICAS",
			"LOG_FORMAT", "WRITES_PER_SECOND", "WRITE_BURST", "EMBEDDED_SYNC", "AUTH_BOOTSTRAP":
		default:
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// output collects what a process printed, across its restarts, so that
// the test can wait for a line and show the tail when it fails.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(b)
}

// size is how many bytes were printed so far.
func (o *output) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Len()
}

// since returns what was printed after the first from bytes.
func (o *output) since(from int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()[from:]
}

// tail returns the last n bytes printed.
func (o *output) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	return s[max(0, len(s)-n):]
}

// process is one program of the topology, which the test starts, kills
// and starts again with the same settings.
type process struct {
	name string
	bin  string
	args []string
	env  []string
	dir  string
	out  *output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	mark int // where in out the current run's output begins
}

// newProcess describes a process; start runs it. It is killed when the
// test ends, and its output shown if the test failed.
func newProcess(t *testing.T, name, bin string, env []string, args ...string) *process {
	p := &process{name: name, bin: bin, args: args, env: env, out: &output{}}
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("--- %s printed (last 6 kB):\n%s", p.name, p.out.tail(6000))
		}
	})
	return p
}

// start runs the process. Should the test binary die without its
// cleanups (a timeout panic), the kernel kills the process too.
func (p *process) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env, cmd.Dir = p.env, p.dir
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(p.out, "=== %s started at %s\n", p.name, time.Now().Format(time.StampMilli))
	p.mark = p.out.size()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		state, _ := cmd.Process.Wait()
		fmt.Fprintf(p.out, "=== %s exited: %v\n", p.name, state)
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// kill sends SIGKILL, if the process runs, and waits for it to end.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill %s: %v", p.name, err)
		}
		<-p.done
	}
	p.cmd = nil
}

// exited is closed when the current run ends.
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// waitLine waits until the current run prints a line that starts with
// prefix, and returns the rest of it.
func (p *process) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	var rest string
	projectortest.WaitFor(t, timeout, fmt.Sprintf("%s to print %q", p.name, prefix), func() (bool, error) {
		for _, line := range strings.Split(p.out.since(p.mark), "\n") {
			if r, ok := strings.CutPrefix(line, prefix); ok {
				rest = strings.TrimSpace(r)
				return true, nil
			}
		}
		select {
		case <-p.exited():
			return false, fmt.Errorf("%s exited", p.name)
		default:
			return false, nil
		}
	})
	return rest
}
