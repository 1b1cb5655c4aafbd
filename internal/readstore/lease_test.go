package readstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// waitLeaseExpired polls until db's lease has run out.
func waitLeaseExpired(t *testing.T, db *readstore.DB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		li, err := db.ReadLease(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if li.Remaining <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease still runs for %s", li.Remaining)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeCheckpoint writes pos in a transaction under l, as the projector
// does, and returns what failed.
func writeCheckpoint(ctx context.Context, db *readstore.DB, l readstore.Lease, pos uint64, lock bool) error {
	tx, err := db.BeginLeased(ctx, l)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if lock {
		if _, err := tx.LockPosition(ctx); err != nil {
			return err
		}
	}
	if err := readstore.SetPosition(ctx, tx, pos); err != nil {
		return err
	}
	return tx.Commit()
}

func TestLeaseFencesFormerHolder(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		db := readstoretest.Open(t, d)
		const ttl = 300 * time.Millisecond
		a, err := db.AcquireLease(ctx, "a", ttl)
		if err != nil || a.Epoch != 1 {
			t.Fatalf("AcquireLease(a) = %+v, %v; want epoch 1", a, err)
		}
		if _, err := db.AcquireLease(ctx, "b", ttl); !errors.Is(err, readstore.ErrLeaseHeld) {
			t.Fatalf("AcquireLease(b) while a holds it = %v, want ErrLeaseHeld", err)
		}
		if li, err := db.ReadLease(ctx); err != nil || li.Holder != "a" || li.Epoch != 1 || li.Remaining <= 0 || li.Remaining > ttl {
			t.Fatalf("ReadLease() = %+v, %v; want a, epoch 1, up to %s left", li, err, ttl)
		}
		if err := writeCheckpoint(ctx, db, a, 10, true); err != nil {
			t.Fatalf("write under the lease: %v", err)
		}
		if err := db.RenewLease(ctx, a); err != nil {
			t.Fatalf("RenewLease(a): %v", err)
		}

		// a freezes; its lease runs out and b takes it.
		waitLeaseExpired(t, db)
		b, err := db.AcquireLease(ctx, "b", ttl)
		if err != nil || b.Epoch != 2 {
			t.Fatalf("AcquireLease(b) after expiry = %+v, %v; want epoch 2", b, err)
		}
		// The checkpoint has not moved, so only the lease stops a.
		for _, lock := range []bool{true, false} {
			if err := writeCheckpoint(ctx, db, a, 20, lock); !errors.Is(err, readstore.ErrLeaseLost) {
				t.Errorf("write under the lost lease (lock %v) = %v, want ErrLeaseLost", lock, err)
			}
		}
		if pos, _ := db.Position(ctx); pos != 10 {
			t.Fatalf("checkpoint = %d after a lost its lease, want 10", pos)
		}
		if err := db.RenewLease(ctx, a); !errors.Is(err, readstore.ErrLeaseLost) {
			t.Errorf("RenewLease(a) after b took it = %v, want ErrLeaseLost", err)
		}
		if err := writeCheckpoint(ctx, db, b, 20, true); err != nil {
			t.Fatalf("write under b's lease: %v", err)
		}

		// Released, the lease is free at once; taken, it is gone at once.
		if err := db.ReleaseLease(ctx, b); err != nil {
			t.Fatal(err)
		}
		a2, err := db.AcquireLease(ctx, "a", time.Minute)
		if err != nil || a2.Epoch != 3 {
			t.Fatalf("AcquireLease(a) after release = %+v, %v; want epoch 3", a2, err)
		}
		c, err := db.TakeLease(ctx, "c", time.Minute)
		if err != nil || c.Epoch != 4 {
			t.Fatalf("TakeLease(c) = %+v, %v; want epoch 4", c, err)
		}
		if err := db.RenewLease(ctx, a2); !errors.Is(err, readstore.ErrLeaseLost) {
			t.Errorf("RenewLease(a) after c took it = %v, want ErrLeaseLost", err)
		}
		if pos, _ := db.Position(ctx); pos != 20 {
			t.Errorf("checkpoint = %d, want 20", pos)
		}
	})
}

// TestLeasedTransactionIsBounded freezes a transaction in the middle, as
// a stopped projector would: Postgres ends it once it has been idle as
// long as the lease lasts, so that it cannot hold the checkpoint's lock
// for the projector that takes over.
func TestLeasedTransactionIsBounded(t *testing.T) {
	ctx := context.Background()
	db := readstoretest.Open(t, readstore.Postgres)
	l, err := db.AcquireLease(ctx, "frozen", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginLeased(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.LockPosition(ctx); err != nil {
		t.Fatal(err)
	}
	// Another writer waits for the checkpoint until the frozen one is
	// ended.
	start := time.Now()
	other, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.LockPosition(ctx); err != nil {
		t.Fatalf("the checkpoint's lock after the frozen transaction: %v", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("waited %s for the frozen transaction's lock", waited)
	}
	if err := tx.Commit(); err == nil {
		t.Error("the frozen transaction committed after it was ended")
	}
}
