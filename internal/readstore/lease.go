package readstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// leaseTable holds the lease. A rebuild's swap leaves it as it is: the
// projector holding the lease over the live tables holds it over the
// rebuilt ones.
const leaseTable = "projector_lease"

// ErrLeaseHeld reports that another projector holds the lease and it has
// not expired.
var ErrLeaseHeld = errors.New("the projector lease is held by another projector")

// ErrLeaseLost reports that the lease a projector held has since been
// taken: by another projector once it expired, or by a rebuild's swap. A
// transaction that finds it so is aborted.
var ErrLeaseLost = errors.New("the projector lease has been taken by another projector")

// Lease is one projector's hold on the read store's lease: of the
// projectors sharing the store, only the holder applies events. Each
// taking of the lease raises its epoch; the checkpoint's transaction
// checks holder and epoch, so that a holder that has been replaced, even
// one that was frozen and does not know it yet, can never write again.
type Lease struct {
	// Holder names the projector holding the lease, unique to one run.
	Holder string
	// Epoch is the number of the taking that made this lease.
	Epoch int64

	ttl time.Duration
}

// LeaseInfo is the lease as the database sees it.
type LeaseInfo struct {
	// Holder is the projector that took the lease last; empty if none
	// ever did.
	Holder string
	// Epoch is the number of its taking.
	Epoch int64
	// Remaining is how long the lease runs on, on the database's clock;
	// zero or less means it has expired, or was released, and is free.
	Remaining time.Duration
}

// AcquireLease takes the lease for holder, for ttl, if it is free: if it
// has expired or was released, or holder holds it already. It returns
// ErrLeaseHeld when another projector holds it. Expiry is reckoned on the
// database's clock (SQLite, which only one host opens, uses that host's),
// so that clock skew between the projectors' hosts does not matter.
func (db *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (Lease, error) {
	return db.takeLease(ctx, holder, ttl, false)
}

// TakeLease takes the lease for holder, for ttl, whoever holds it. It is
// for a projector that knows it is its store's only one (in one process
// with an embedded store, or replaying into fresh tables): it need not
// wait for the lease of a previous run that died to expire. Any projector
// holding the lease before loses it.
func (db *DB) TakeLease(ctx context.Context, holder string, ttl time.Duration) (Lease, error) {
	return db.takeLease(ctx, holder, ttl, true)
}

func (db *DB) takeLease(ctx context.Context, holder string, ttl time.Duration, force bool) (Lease, error) {
	if holder == "" {
		return Lease{}, errors.New("take the projector lease: empty holder")
	}
	if ttl <= 0 {
		return Lease{}, fmt.Errorf("take the projector lease: duration %s is not positive", ttl)
	}
	now := db.now()
	until, args := db.eng.leaseTime(now, ttl)
	q := "UPDATE projector_lease SET holder = ?, epoch = epoch + 1, expires_at = " + until + " WHERE id = 1"
	args = append([]any{holder}, args...)
	if !force {
		expired, nowArgs := db.eng.leaseTime(now, 0)
		q += " AND (holder = ? OR expires_at <= " + expired + ")"
		args = append(append(args, holder), nowArgs...)
	}
	var epoch int64
	err := db.x.GetContext(ctx, &epoch, db.x.Rebind(q+" RETURNING epoch"), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, ErrLeaseHeld
	}
	if err != nil {
		return Lease{}, fmt.Errorf("take the projector lease: %w", err)
	}
	return Lease{Holder: holder, Epoch: epoch, ttl: ttl}, nil
}

// RenewLease extends l by its duration from now. It returns ErrLeaseLost
// if l has been taken since; a lease that expired but that nobody took
// is renewed, since nobody else can have written meanwhile.
func (db *DB) RenewLease(ctx context.Context, l Lease) error {
	until, args := db.eng.leaseTime(db.now(), l.ttl)
	res, err := db.x.ExecContext(ctx, db.x.Rebind("UPDATE projector_lease SET expires_at = "+until+
		" WHERE id = 1 AND holder = ? AND epoch = ?"), append(args, l.Holder, l.Epoch)...)
	if err != nil {
		return fmt.Errorf("renew the projector lease: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("renew the projector lease of epoch %d: %w", l.Epoch, ErrLeaseLost)
	}
	return nil
}

// ReleaseLease ends l now, if it is still held, so that a standby can take
// over at once instead of waiting for it to expire.
func (db *DB) ReleaseLease(ctx context.Context, l Lease) error {
	now, args := db.eng.leaseTime(db.now(), 0)
	if _, err := db.x.ExecContext(ctx, db.x.Rebind("UPDATE projector_lease SET expires_at = "+now+
		" WHERE id = 1 AND holder = ? AND epoch = ?"), append(args, l.Holder, l.Epoch)...); err != nil {
		return fmt.Errorf("release the projector lease: %w", err)
	}
	return nil
}

// ReadLease returns the lease as the database sees it now.
func (db *DB) ReadLease(ctx context.Context) (LeaseInfo, error) {
	remaining, args := db.eng.leaseRemaining(db.now())
	var li LeaseInfo
	var micros int64
	if err := db.x.QueryRowContext(ctx, db.x.Rebind("SELECT holder, epoch, "+remaining+" FROM projector_lease WHERE id = 1"), args...).
		Scan(&li.Holder, &li.Epoch, &micros); err != nil {
		return LeaseInfo{}, fmt.Errorf("read the projector lease: %w", err)
	}
	li.Remaining = time.Duration(micros) * time.Microsecond
	return li, nil
}

// BeginLeased starts a transaction that may write the checkpoint only
// while l holds: LockPosition and SetPosition check, inside it, that l
// has not been taken, and fail with ErrLeaseLost if it has. From that
// check on the lease cannot change hands until the transaction ends.
// On Postgres the transaction is also bounded, so that a projector
// frozen in the middle of it (SIGSTOP, a paused VM) holds its locks no
// longer than its lease would have lasted, and the projector that takes
// over is not kept waiting behind them.
func (db *DB) BeginLeased(ctx context.Context, l Lease) (*Tx, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.eng.boundLeased(ctx, tx, l.ttl); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("bound the projector's transaction: %w", err)
	}
	tx.lease = &l
	return tx, nil
}

// checkLease checks, once per transaction, that the transaction's lease
// still holds, and keeps it from changing hands until the transaction
// ends. A transaction without a lease writes as it always could.
func (tx *Tx) checkLease(ctx context.Context) error {
	if tx.lease == nil || tx.leaseChecked {
		return nil
	}
	var holder string
	var epoch int64
	if err := tx.tx.QueryRowContext(ctx, tx.db.eng.lockLeaseSQL()).Scan(&holder, &epoch); err != nil {
		return fmt.Errorf("check the projector lease: %w", err)
	}
	if holder != tx.lease.Holder || epoch != tx.lease.Epoch {
		return fmt.Errorf("%w: epoch %d is %s's now, ours was %d", ErrLeaseLost, epoch, holder, tx.lease.Epoch)
	}
	tx.leaseChecked = true
	return nil
}
