package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// TestFailoverBetweenProcesses runs two projector processes on one
// Postgres read store, with the default lease. The active one is frozen
// (SIGSTOP): the standby takes over and applies what follows. Thawed
// (SIGCONT), the former active one writes nothing, whatever batch it had
// in hand, and turns standby. Then the new active one is killed
// (SIGKILL): the other takes over within 5s. The read models end equal to
// those of one uninterrupted replay, every event applied once.
func TestFailoverBetweenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for leases to expire; skipped with -short")
	}
	bin := buildProjector(t)
	srv, nc := projectortest.StartNATS(t)
	evs := projectortest.Generate(3000, 31)
	projectortest.Publish(t, nc, evs[:1000])
	url := readstoretest.URL(t, readstore.Postgres)
	env := []string{"NATS_URL=" + srv.ClientURL(), "DATABASE_URL=" + url, "METRICS_ADDR=127.0.0.1:0"}

	a := startChild(t, bin, env...)
	a.waitRole("active", 30*time.Second)
	b := startChild(t, bin, env...)
	b.waitRole("standby", 30*time.Second)
	db := readstoretest.Reopen(t, url)
	projectortest.WaitPosition(t, db, 1000, 30*time.Second)
	if got := b.metric(`projector_role{role="standby"}`); got != 1 {
		t.Errorf("standby's projector_role{role=\"standby\"} = %v, want 1", got)
	}
	appliedA := a.metric("projector_events_applied_total")
	epochA := a.metric("projector_lease_epoch")

	// Frozen, the active one stops renewing its lease; the standby takes
	// it once it expires and applies what follows.
	a.signal(syscall.SIGSTOP)
	frozen := time.Now()
	projectortest.Publish(t, nc, evs[1000:2000])
	waitPast(t, db, 1000, 10*time.Second)
	t.Logf("takeover from a frozen projector: the standby applied its first event after %s", time.Since(frozen).Round(time.Millisecond))
	projectortest.WaitPosition(t, db, 2000, 30*time.Second)
	b.waitRole("active", 10*time.Second)

	// Thawed, the former active one finds its lease taken.
	a.signal(syscall.SIGCONT)
	projectortest.Publish(t, nc, evs[2000:2500])
	a.waitRole("standby", 10*time.Second)
	projectortest.WaitPosition(t, db, 2500, 30*time.Second)
	if got := a.metric("projector_events_applied_total"); got != appliedA {
		t.Errorf("the thawed projector applied %v events after it lost its lease", got-appliedA)
	}
	if got := b.metric("projector_lease_epoch"); got <= epochA {
		t.Errorf("the new active one's lease epoch is %v, the old one's %v", got, epochA)
	}
	if got := a.metric(`projector_role{role="active"}`); got != 0 {
		t.Errorf("thawed projector's projector_role{role=\"active\"} = %v, want 0", got)
	}
	for _, line := range strings.Split(a.out.String(), "\n") {
		if strings.Contains(line, "lost its lease") {
			t.Logf("the thawed projector: %s", line)
		}
	}
	appliedB := b.metric("projector_events_applied_total")

	// Killed, the active one leaves its lease to expire.
	b.signal(syscall.SIGKILL)
	killed := time.Now()
	projectortest.Publish(t, nc, evs[2500:])
	waitPast(t, db, 2500, 10*time.Second)
	took := time.Since(killed)
	t.Logf("failover after SIGKILL: the standby applied its first event after %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("failover after SIGKILL took %s, want under 5s", took)
	}
	projectortest.WaitPosition(t, db, 3000, 30*time.Second)

	if total := a.metric("projector_events_applied_total") + appliedB; total != 3000 {
		t.Errorf("the projectors applied %v events between them, want 3000, each once", total)
	}
	a.signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("projector exited with %v after SIGTERM, want 0", err)
		}
		a.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("projector still running 30s after SIGTERM")
	}
	projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replayReference(t, nc, 3000)))
}
