package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// rkSubject is the key holding subject's revocation moment (RFC 3339, UTC).
func rkSubject(subject string) string {
	return redisPrefix + "subject:" + subject
}

// subjectScript sets the key to the later of its value and ARGV[1] and its lifetime to
// the longer of the two, in one atomic step. RFC 3339 UTC strings of one layout sort as
// the moments they name.
var subjectScript = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
local at = ARGV[1]
if old and old > at then at = old end
local keep = tonumber(ARGV[2])
if ttl > keep then keep = ttl end
redis.call('SET', KEYS[1], at, 'PX', keep)
return 1`)

// RevokeSubject implements [SubjectStore]; the key expires by itself at until. Every
// replica hears of it (Subscribe).
func (r *redisStore) RevokeSubject(ctx context.Context, subject string, at, until time.Time) error {
	if subject == "" {
		return errNoSubject
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	ttl := max(until.Sub(r.now()), time.Second)
	err := subjectScript.Run(ctx, r.db, []string{rkSubject(subject)}, at.UTC().Format(subjectLayout), ttl.Milliseconds()).Err()
	if err != nil {
		return redisError(err)
	}
	r.publish(ctx, Revocation{Subject: subject, At: at, Expires: until})
	return nil
}

// subjectLayout is RFC 3339 with a fixed nine-digit fraction, so that values compare
// as strings in the order of the moments.
const subjectLayout = "2006-01-02T15:04:05.000000000Z07:00"

// SubjectRevokedAt implements [SubjectStore].
func (r *redisStore) SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error) {
	if err := r.begin(ctx); err != nil {
		return time.Time{}, err
	}
	v, err := r.db.Get(ctx, rkSubject(subject)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, redisError(err)
	}
	at, err := time.Parse(subjectLayout, v)
	if err != nil {
		return time.Time{}, err
	}
	return at, nil
}
