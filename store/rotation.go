package store

import (
	"context"
	"errors"
	"time"
)

// RotationStore is what rotating the signing keys needs beyond SigningKeys and
// AddSigningKey: a lease, so that one replica of many rotates, and the removal of a
// retired key.
type RotationStore interface {
	// AcquireLease takes the lease name for holder until now+ttl and reports whether
	// holder holds it: true when the lease was free, had expired at now, or was
	// holder's already (then its expiry moves to now+ttl); false while another holder's
	// lease runs. It is atomic across every process sharing the store.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// DeleteSigningKey removes the signing key with id; ErrNotFound if there is none.
	DeleteSigningKey(ctx context.Context, id string) error
}

// errNoLeaseName refuses a lease without a name or holder.
var errNoLeaseName = errors.New("store: a lease needs a name and a holder")

// checkLease validates the arguments of AcquireLease.
func checkLease(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" {
		return errNoLeaseName
	}
	if ttl <= 0 {
		return errors.New("store: a lease needs a positive ttl")
	}
	return nil
}
