package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// rkLease is the key of a lease: its holder, expiring (a Redis TTL) when the lease does.
var rkLease = func(name string) string { return redisPrefix + "lease:" + name }

// acquireLeaseScript takes a lease unless another holder has it; Redis runs a script
// alone, so two replicas racing get one winner. KEYS: lease. ARGV: holder, ttl (ms).
var acquireLeaseScript = redis.NewScript(`
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// AcquireLease implements [RotationStore] with a Lua script. The lease expires by the
// Redis server's clock (a TTL of ttl), not by now.
func (r *redisStore) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	if err := r.begin(ctx); err != nil {
		return false, err
	}
	n, err := acquireLeaseScript.Run(ctx, r.db, []string{rkLease(name)}, holder, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, redisError(err)
	}
	return n == 1, nil
}

// DeleteSigningKey implements [RotationStore].
func (r *redisStore) DeleteSigningKey(ctx context.Context, id string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	n, err := r.db.HDel(ctx, rkKeys, id).Result()
	if err != nil {
		return redisError(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
