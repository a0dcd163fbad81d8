package store

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// bucketAssertions holds assertionKey -> expires at. It is made on first use, so files
// written before it existed open unchanged.
var bucketAssertions = []byte("assertions")

// UseAssertionID implements [AssertionStore] in one write transaction: bbolt runs one
// writer at a time, and the file lock keeps other processes out. The record is on disk
// when the call returns, so a restart does not forget it.
func (b *boltStore) UseAssertionID(ctx context.Context, issuer, jti string, exp time.Time) error {
	if err := checkAssertion(issuer, jti); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketAssertions); err != nil {
			return fmt.Errorf("store: bolt file %q: create bucket %q: %w", b.path, bucketAssertions, err)
		}
		k := assertionKey(issuer, jti)
		old, ok, err := get[time.Time](tx, bucketAssertions, k)
		if err != nil {
			return err
		}
		if ok && !expired(old, b.now()) {
			return ErrReplayed
		}
		return put(tx, bucketAssertions, k, exp)
	})
}

// gcAssertions deletes the assertion records that expired at or before now.
func gcAssertions(tx *bbolt.Tx, now time.Time) (int, error) {
	if tx.Bucket(bucketAssertions) == nil {
		return 0, nil
	}
	return sweep(tx, bucketAssertions, func(_ []byte, exp time.Time) bool { return expired(exp, now) })
}
