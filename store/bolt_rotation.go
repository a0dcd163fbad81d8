package store

import (
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// bucketLeases holds the leases: name -> lease.
var bucketLeases = []byte("leases")

// AcquireLease implements [RotationStore] in one write transaction; the file lock
// keeps every other process out, so one process decides.
func (b *boltStore) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (held bool, err error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	err = b.update(ctx, func(tx *bbolt.Tx) error {
		l, ok, err := get[lease](tx, bucketLeases, name)
		if err != nil {
			return err
		}
		if ok && l.Holder != holder && now.Before(l.ExpiresAt) {
			return nil
		}
		held = true
		return put(tx, bucketLeases, name, lease{Holder: holder, ExpiresAt: now.Add(ttl)})
	})
	return held, err
}

// DeleteSigningKey implements [RotationStore].
func (b *boltStore) DeleteSigningKey(ctx context.Context, id string) error {
	return b.update(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketKeys)
		if bk.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return bk.Delete([]byte(id))
	})
}
