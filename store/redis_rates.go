package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeTokenScript takes a token from the bucket KEYS[1] (store/rates.go) at ARGV[1]
// with interval ARGV[2] and tolerance ARGV[3], all Unix microseconds. Redis runs it as
// one step, so racing replicas take one after the other. It returns {1, 0} when
// allowed, {0, wait} when not. The key expires when the bucket is full again.
var takeTokenScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local ahead = tat - now
if ahead > tonumber(ARGV[3]) then return {0, ahead - tonumber(ARGV[3])} end
local next = tat + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.max(1, math.ceil((next - now) / 1000)))
return {1, 0}
`)

// rkRate is the key of the token bucket of key.
func rkRate(key string) string { return redisPrefix + "rate:" + key }

// TakeToken implements [RateStore] with one script (GC has nothing to do: keys expire).
func (r *redisStore) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, time.Duration, error) {
	if err := checkRate(key, perMinute); err != nil {
		return false, 0, err
	}
	if err := r.begin(ctx); err != nil {
		return false, 0, err
	}
	interval, tolerance := rateParams(perMinute)
	res, err := takeTokenScript.Run(ctx, r.db, []string{rkRate(key)},
		now.UnixMicro(), interval.Microseconds(), tolerance.Microseconds()).Int64Slice()
	if err != nil {
		return false, 0, redisError(err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("store: redis: TakeToken: a reply of %d values, want 2", len(res))
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
