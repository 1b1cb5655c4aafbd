package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

func waitRole(t *testing.T, r *running, role string) {
	t.Helper()
	projectortest.WaitFor(t, 10*time.Second, "role "+role, func() (bool, error) {
		return r.p.Role() == role, nil
	})
}

// TestStandbyTakesOver runs two projectors on one Postgres read store,
// with the default lease: one applies, the other stands by. The active
// one then dies without releasing its lease (its database connections go
// first, as they do when its process is killed): the standby takes over
// within 5s and applies the rest, every event once. A projector stopped
// gracefully releases its lease: the next standby takes it at its next
// try, without waiting for it to expire.
func TestStandbyTakesOver(t *testing.T) {
	url := readstoretest.URL(t, readstore.Postgres)
	db := readstoretest.Reopen(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, nc := projectortest.StartNATS(t)
	evs := projectortest.Generate(3000, 21)
	projectortest.Publish(t, nc, evs[:1000])

	dbA := readstoretest.Reopen(t, url)
	a := startProjector(t, projector.Config{Conn: nc, DB: dbA, Failover: true})
	waitRole(t, a, projector.RoleActive)
	b := startProjector(t, projector.Config{Conn: nc, DB: readstoretest.Reopen(t, url), Failover: true})
	projectortest.WaitPosition(t, db, 1000, 30*time.Second)
	projectortest.WaitFor(t, 10*time.Second, "the standby to see the active one's lease", func() (bool, error) {
		return b.p.LeaseEpoch() == a.p.LeaseEpoch(), nil
	})
	if got := b.p.Role(); got != projector.RoleStandby {
		t.Fatalf("second projector is %s, want standby", got)
	}
	if got := b.metric(t, "projector_events_applied_total"); got != 0 {
		t.Fatalf("the standby applied %v events", got)
	}

	// The active one dies.
	killed := time.Now()
	dbA.Close()
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	projectortest.Publish(t, nc, evs[1000:2000])
	projectortest.WaitFor(t, 10*time.Second, "the standby to apply a new event", func() (bool, error) {
		pos, err := db.Position(context.Background())
		return pos > 1000, err
	})
	took := time.Since(killed)
	t.Logf("failover: the standby applied its first event %s after the active projector died (lease %s, renewal %s)",
		took.Round(time.Millisecond), projector.DefaultLeaseDuration, projector.DefaultLeaseRenewal)
	if took > 5*time.Second {
		t.Errorf("failover took %s, want under 5s", took)
	}
	if b.p.Role() != projector.RoleActive || b.p.LeaseEpoch() <= a.p.LeaseEpoch() {
		t.Errorf("after the takeover: role %s, epoch %d (the old one's %d)", b.p.Role(), b.p.LeaseEpoch(), a.p.LeaseEpoch())
	}
	projectortest.WaitPosition(t, db, 2000, 30*time.Second)

	// A graceful stop releases the lease: the next standby does not wait
	// for it to expire.
	c := startProjector(t, projector.Config{Conn: nc, DB: readstoretest.Reopen(t, url), Failover: true})
	projectortest.WaitFor(t, 10*time.Second, "the new standby to see the lease", func() (bool, error) {
		return c.p.LeaseEpoch() == b.p.LeaseEpoch(), nil
	})
	stopped := time.Now()
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	waitRole(t, c, projector.RoleActive)
	if took := time.Since(stopped); took > projector.DefaultLeaseDuration {
		t.Errorf("handover after a graceful stop took %s, as long as an expiry", took)
	}
	t.Logf("handover after a graceful stop: %s", time.Since(stopped).Round(time.Millisecond))
	projectortest.Publish(t, nc, evs[2000:])
	projectortest.WaitPosition(t, db, 3000, 30*time.Second)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	applied := a.metric(t, "projector_events_applied_total") + b.metric(t, "projector_events_applied_total") + c.metric(t, "projector_events_applied_total")
	if applied != 3000 {
		t.Errorf("the three projectors applied %v events between them, want 3000, each once", applied)
	}
	if got := projectortest.Count(t, db, "history"); got != 3000 {
		t.Errorf("history has %d rows, want 3000", got)
	}
	projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replay(t, readstore.Postgres, nc)))
}
