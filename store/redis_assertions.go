package store

import (
	"context"
	"time"
)

// rkAssertion is the key recording the assertion jti from issuer.
func rkAssertion(issuer, jti string) string {
	return redisPrefix + "assertion:" + assertionKey(issuer, jti)
}

// UseAssertionID implements [AssertionStore] with one SET NX carrying the record's
// lifetime: Redis runs it atomically, so of two replicas the first wins, and the key
// expires by itself when the assertion does (GC has nothing to do).
func (r *redisStore) UseAssertionID(ctx context.Context, issuer, jti string, exp time.Time) error {
	if err := checkAssertion(issuer, jti); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	// A lifetime under a millisecond would be refused (or lost); keep such a record a
	// second: the assertion it names is expired by then anyway.
	ttl := max(exp.Sub(r.now()), time.Second)
	ok, err := r.db.SetNX(ctx, rkAssertion(issuer, jti), exp.UTC().Format(time.RFC3339Nano), ttl).Result()
	if err != nil {
		return redisError(err)
	}
	if !ok {
		return ErrReplayed
	}
	return nil
}
