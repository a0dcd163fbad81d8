package store

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// bucketRates holds rate key -> the instant of its token bucket (store/rates.go). It is
// made on first use, so files written before it existed open unchanged.
var bucketRates = []byte("rates")

// TakeToken implements [RateStore] in one write transaction: bbolt runs one writer at
// a time, and the file lock keeps other processes out.
func (b *boltStore) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, time.Duration, error) {
	if err := checkRate(key, perMinute); err != nil {
		return false, 0, err
	}
	var ok bool
	var wait time.Duration
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketRates); err != nil {
			return fmt.Errorf("store: bolt file %q: create bucket %q: %w", b.path, bucketRates, err)
		}
		tat, _, err := get[time.Time](tx, bucketRates, key)
		if err != nil {
			return err
		}
		var next time.Time
		if next, ok, wait = takeAt(tat, now, perMinute); !ok {
			return nil
		}
		return put(tx, bucketRates, key, next)
	})
	if err != nil {
		return false, 0, err
	}
	return ok, wait, nil
}

// gcRates deletes the buckets that are full again at now.
func gcRates(tx *bbolt.Tx, now time.Time) (int, error) {
	if tx.Bucket(bucketRates) == nil {
		return 0, nil
	}
	return sweep(tx, bucketRates, func(_ []byte, tat time.Time) bool { return !tat.After(now) })
}
