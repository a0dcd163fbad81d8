package store

import (
	"context"
	"errors"
	"time"
)

// RateStore keeps per-minute token buckets that every replica sharing the store draws
// from, so that N replicas together allow the configured rate, not N times it.
type RateStore interface {
	// TakeToken takes a token at now from the bucket of key, which holds perMinute
	// tokens and refills at perMinute a minute (a burst of perMinute, then one every
	// minute/perMinute). When the bucket is empty it reports false and how long until a
	// token is back. The check and the take are one atomic step on every backend, so
	// requests racing on several replicas never take more than the bucket holds. An
	// unreachable store fails with ErrUnavailable; the caller decides what that means
	// (mcpguard refuses: 503). GC removes buckets that are full again.
	TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// errRateArgs reports a TakeToken call without a key or with a limit below one.
var errRateArgs = errors.New("store: rate needs a key and a limit of at least one a minute")

// A bucket is kept as one instant, its theoretical arrival time (the generic cell rate
// algorithm, GCRA): the bucket is full when the instant is at or before now, and every
// token taken pushes it one interval (minute/perMinute) later. A take is allowed while
// the instant stays at most a minute less one interval after now. One instant per key
// is what lets Redis and PostgreSQL decide in one step.

// rateParams are the interval one token stands for and the burst tolerance (how far
// past now the instant may be before a take) of a bucket of perMinute tokens.
func rateParams(perMinute int) (interval, tolerance time.Duration) {
	interval = time.Minute / time.Duration(perMinute)
	return interval, time.Minute - interval
}

// takeAt decides a take at now from the bucket whose instant is tat (zero: full): the
// new instant when allowed, else how long until a token is back.
func takeAt(tat, now time.Time, perMinute int) (next time.Time, ok bool, wait time.Duration) {
	interval, tolerance := rateParams(perMinute)
	if tat.Before(now) {
		tat = now
	}
	if ahead := tat.Sub(now); ahead > tolerance {
		return time.Time{}, false, ahead - tolerance
	}
	return tat.Add(interval), true, 0
}

// checkRate validates the arguments every backend's TakeToken takes.
func checkRate(key string, perMinute int) error {
	if key == "" || perMinute < 1 {
		return errRateArgs
	}
	return nil
}
