package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// rkSubject is the key holding subject's revocation moment (RFC 3339, UTC).
func rkSubject(subject string) string {
	return redisPrefix + "subject:" + subject
}

// rkSubjects indexes the revoked subjects by when their record may go (Unix
// microseconds), for `mcpguard store migrate` and GC; the records expire by their TTL.
var rkSubjects = redisPrefix + "subjects"

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
local kept = redis.call('ZSCORE', KEYS[2], ARGV[4])
if not kept or tonumber(kept) < tonumber(ARGV[3]) then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
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
	err := subjectScript.Run(ctx, r.db, []string{rkSubject(subject), rkSubjects},
		at.UTC().Format(subjectLayout), ttl.Milliseconds(), scoreArg(r.now().Add(ttl)), subject).Err()
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

// subjectRevocations returns the subject revocations kept after now, for dump.
func (r *redisStore) subjectRevocations(ctx context.Context, now time.Time) (map[string]SubjectRevocation, error) {
	z, err := r.db.ZRangeByScoreWithScores(ctx, rkSubjects, &redis.ZRangeBy{Min: "(" + scoreArg(now), Max: "+inf"}).Result()
	if err != nil {
		return nil, redisError(err)
	}
	out := make(map[string]SubjectRevocation, len(z))
	for _, m := range z {
		subject := m.Member.(string)
		at, err := r.SubjectRevokedAt(ctx, subject)
		if err != nil {
			return nil, err
		}
		if !at.IsZero() { // else dropped by its TTL meanwhile
			out[subject] = SubjectRevocation{At: at, Until: time.UnixMicro(int64(m.Score)).UTC()}
		}
	}
	return out, nil
}

// gcSubjects drops the index entries of subject records past their time; the records
// themselves went by their TTL.
func (r *redisStore) gcSubjects(ctx context.Context, now time.Time) (int, error) {
	d, err := r.db.ZRemRangeByScore(ctx, rkSubjects, "-inf", scoreArg(now)).Result()
	if err != nil {
		return 0, redisError(err)
	}
	return int(d), nil
}

// TokenRevoked implements [TokenChecker] in one pipeline: a single round trip.
func (r *redisStore) TokenRevoked(ctx context.Context, c TokenCheck) (bool, error) {
	if err := r.begin(ctx); err != nil {
		return false, err
	}
	var (
		jti      *redis.FloatCmd
		family   *redis.IntCmd
		subjects []*redis.StringCmd
	)
	_, err := r.db.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if c.JTI != "" {
			jti = pipe.ZScore(ctx, rkDenylist, c.JTI)
		}
		if c.Family != "" {
			family = pipe.Exists(ctx, rkFamilyRev(c.Family))
		}
		for _, sub := range c.Subjects {
			if sub != "" {
				subjects = append(subjects, pipe.Get(ctx, rkSubject(sub)))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // redis.Nil: a jti or subject not there
		return false, redisError(err)
	}
	if jti != nil && jti.Err() == nil {
		return true, nil
	}
	if family != nil && family.Val() == 1 {
		return true, nil
	}
	for _, cmd := range subjects {
		if errors.Is(cmd.Err(), redis.Nil) {
			continue
		} else if cmd.Err() != nil {
			return false, redisError(cmd.Err())
		}
		at, err := time.Parse(subjectLayout, cmd.Val())
		if err != nil {
			return false, fmt.Errorf("store: decode a redis subject revocation: %w", err)
		}
		if coveredBy(at, c.IssuedAt) {
			return true, nil
		}
	}
	return false, nil
}
