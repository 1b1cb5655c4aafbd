package projector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/readstore"
)

// The roles a projector holds, as Role reports them.
const (
	// RoleActive is the projector holding the read store's lease: the one
	// applying events.
	RoleActive = "active"
	// RoleStandby is a projector waiting for the lease.
	RoleStandby = "standby"
)

// Role reports whether the projector is the one applying events
// (RoleActive) or waits for the lease (RoleStandby).
func (p *Projector) Role() string {
	if p.active.Load() {
		return RoleActive
	}
	return RoleStandby
}

// LeaseEpoch returns the epoch of the lease the projector holds or, as a
// standby, of the one it last saw held by another.
func (p *Projector) LeaseEpoch() int64 { return p.epoch.Load() }

// ID names the projector in the lease and in its log lines; it is unique
// to one projector.
func (p *Projector) ID() string { return p.id }

// newID names a projector after its host and process, with a random
// suffix so that two projectors of one process, or a restarted process
// that got the same pid, never share a name.
func newID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "projector"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (p *Projector) setRole(active bool, epoch int64) {
	p.active.Store(active)
	p.observeEpoch(epoch)
	a, s := 0.0, 1.0
	if active {
		a, s = 1, 0
	}
	p.m.role.WithLabelValues(RoleActive).Set(a)
	p.m.role.WithLabelValues(RoleStandby).Set(s)
}

func (p *Projector) observeEpoch(epoch int64) {
	p.epoch.Store(epoch)
	p.m.leaseEpoch.Set(float64(epoch))
}

// awaitLease waits as a standby until the projector holds the lease, or
// ctx ends. With take it takes the lease at once, whoever holds it.
func (p *Projector) awaitLease(ctx context.Context, take bool) (readstore.Lease, error) {
	p.setRole(false, p.epoch.Load())
	db, seen := p.cfg.DB, readstore.LeaseInfo{}
	for {
		var l readstore.Lease
		var err error
		if take {
			l, err = db.TakeLease(ctx, p.id, p.cfg.LeaseDuration)
		} else {
			l, err = db.AcquireLease(ctx, p.id, p.cfg.LeaseDuration)
		}
		if err == nil {
			p.setRole(true, l.Epoch)
			p.cfg.Logger.Info("projector active", "id", p.id, "epoch", l.Epoch)
			return l, nil
		}
		wait := p.cfg.LeaseRenewal
		if errors.Is(err, readstore.ErrLeaseHeld) {
			if li, err := db.ReadLease(ctx); err == nil {
				if li.Holder != seen.Holder || li.Epoch != seen.Epoch {
					p.cfg.Logger.Info("projector standing by", "id", p.id, "active", li.Holder, "epoch", li.Epoch)
				}
				seen = li
				p.observeEpoch(li.Epoch)
				// Try again as the lease runs out, not a renewal later.
				wait = min(max(li.Remaining+time.Millisecond, time.Millisecond), wait)
			}
			if pos, err := db.Position(ctx); err == nil {
				p.setPosition(pos)
			}
		} else if ctx.Err() == nil {
			p.cfg.Logger.Warn("projector could not take its lease", "id", p.id, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return readstore.Lease{}, ctx.Err()
		case <-t.C:
		}
	}
}

// lead applies events while the projector holds l: until ctx ends (nil),
// the projector halts (why), or the lease is lost (an error wrapping
// readstore.ErrLeaseLost). A heartbeat renews l meanwhile. Unless l was
// lost, it is released on the way out, so that a standby takes over at
// once.
func (p *Projector) lead(ctx context.Context, l readstore.Lease, nc *nats.Conn, js jetstream.JetStream, dl *deadLetters) error {
	leadCtx, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.heartbeat(leadCtx, l, lose)
	}()
	err := p.sessions(leadCtx, l, nc, js, dl)
	lose(nil)
	wg.Wait()
	p.setRole(false, l.Epoch)
	if cause := context.Cause(leadCtx); err == nil && errors.Is(cause, readstore.ErrLeaseLost) {
		err = cause
	}
	if !errors.Is(err, readstore.ErrLeaseLost) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.LeaseRenewal)
		defer cancel()
		if rerr := p.cfg.DB.ReleaseLease(rctx, l); rerr != nil {
			p.cfg.Logger.Warn("projector could not release its lease", "id", p.id, "err", rerr)
		}
	}
	return err
}

// heartbeat renews l every LeaseRenewal until ctx ends, and calls lose
// once the database says l was taken. A renewal that fails otherwise is
// tried again at the next tick, however long that lasts: it may be
// waiting behind the projector's own batch, which keeps the lease from
// changing hands while it runs, and a projector cut off from the
// database writes nothing anyway (/readyz says so).
func (p *Projector) heartbeat(ctx context.Context, l readstore.Lease, lose context.CancelCauseFunc) {
	t := time.NewTicker(p.cfg.LeaseRenewal)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, p.cfg.LeaseRenewal)
		err := p.cfg.DB.RenewLease(rctx, l)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, readstore.ErrLeaseLost):
			lose(err)
			return
		default:
			p.cfg.Logger.Warn("projector could not renew its lease", "id", p.id, "epoch", l.Epoch, "err", err)
		}
	}
}
