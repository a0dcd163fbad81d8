package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session keys: the record under rkSession(ID), expiring redisSlack after the session
// ends (Redis drops it even when GC never runs), an index scored by end for GC and
// store migrate, and one set of session IDs per subject for ListSessions.
var (
	rkSessions        = redisPrefix + "sessions" // session ID -> end
	rkSession         = func(id string) string { return redisPrefix + "session:" + id }
	rkSubjectSessions = func(sub string) string { return redisPrefix + "subject_sessions:" + sub } // set of session IDs
)

// createSessionScript stores a session unless the index holds a live one with its ID, indexes it, adds
// it to its subject's set and keeps that set until the session's key expires.
// KEYS: session, index, subject set. ARGV: JSON, key expiry (Unix ms), index score
// (the end, Unix µs), session ID, now (Unix µs).
var createSessionScript = redis.NewScript(`
local ends = redis.call('ZSCORE', KEYS[2], ARGV[4])
if ends and tonumber(ends) > tonumber(ARGV[5]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
if redis.call('PEXPIRETIME', KEYS[3]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[3], ARGV[2])
end
return 1`)

// deleteSessionScript deletes a session, its index entry and its entry in its subject's
// set. KEYS: session, index. ARGV: session ID, subject set prefix. It returns 0 when
// there was no session.
var deleteSessionScript = redis.NewScript(`
local raw = redis.call('GET', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not raw then return 0 end
redis.call('SREM', ARGV[2] .. cjson.decode(raw).Identity.Subject, ARGV[1])
redis.call('DEL', KEYS[1])
return 1`)

// sweepSessionsScript deletes up to ARGV[3] sessions that ended at or before ARGV[1],
// with their entries in the subject sets ARGV[2]..subject. KEYS: session index, then
// the session key prefix in ARGV[4]. It returns how many it deleted.
var sweepSessionsScript = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(dead) do
  local key = ARGV[4] .. id
  local raw = redis.call('GET', key)
  if raw then redis.call('SREM', ARGV[2] .. cjson.decode(raw).Identity.Subject, id) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
end
return #dead`)

// sessionArgs are the ARGV of createSessionScript for s.
func sessionArgs(s Session, now time.Time) ([]any, error) {
	raw, err := encode(s)
	if err != nil {
		return nil, err
	}
	return []any{raw, expireAt(s.end()).UnixMilli(), scoreArg(s.end()), s.ID, scoreArg(now)}, nil
}

// CreateSession implements [SessionStore] as one script; an ended session with the same
// ID is replaced.
func (r *redisStore) CreateSession(ctx context.Context, s Session) error {
	if err := s.validate(); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	args, err := sessionArgs(s, r.now())
	if err != nil {
		return err
	}
	added, err := createSessionScript.Run(ctx, r.db, []string{rkSession(s.ID), rkSessions, rkSubjectSessions(s.Identity.Subject)}, args...).Int()
	if err != nil {
		return redisError(err)
	}
	if added == 0 {
		return ErrExists
	}
	return nil
}

// liveRedisSession returns the session with id unless it is missing or ended at now.
func liveRedisSession(ctx context.Context, c redis.Cmdable, id string, now time.Time) (Session, bool, error) {
	s, ok, err := getJSON[Session](ctx, c, rkSession(id))
	if err != nil || !ok || !s.live(now) {
		return Session{}, false, err
	}
	return s, true, nil
}

// GetSession implements [SessionStore].
func (r *redisStore) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	if err := r.begin(ctx); err != nil {
		return Session{}, err
	}
	s, ok, err := liveRedisSession(ctx, r.db, id, now)
	if err == nil && !ok {
		err = ErrNotFound
	}
	return s, err
}

// TouchSession implements [SessionStore] as an optimistic transaction on the session's key.
func (r *redisStore) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (s Session, err error) {
	err = r.watch(ctx, func(tx *redis.Tx) error {
		var ok bool
		s, ok, err = liveRedisSession(ctx, tx, id, now)
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		s = touchedSession(s, now, idle)
		return exec(ctx, tx, func(pipe redis.Pipeliner) error {
			if err := setJSON(ctx, pipe, rkSession(id), s, s.end(), false); err != nil {
				return err
			}
			pipe.ZAdd(ctx, rkSessions, redis.Z{Score: score(s.end()), Member: id})
			return nil
		})
	}, rkSession(id))
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// DeleteSession implements [SessionStore] as one script.
func (r *redisStore) DeleteSession(ctx context.Context, id string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	n, err := deleteSessionScript.Run(ctx, r.db, []string{rkSession(id), rkSessions}, id, rkSubjectSessions("")).Int()
	if err != nil {
		return redisError(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ListSessions implements [SessionStore]: the subject's set, then each session.
func (r *redisStore) ListSessions(ctx context.Context, subject string, now time.Time) ([]Session, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	ids, err := r.db.SMembers(ctx, rkSubjectSessions(subject)).Result()
	if err != nil {
		return nil, redisError(err)
	}
	var out []Session
	for _, id := range ids {
		s, ok, err := liveRedisSession(ctx, r.db, id, now)
		if err != nil {
			return nil, err
		}
		if ok && s.Identity.Subject == subject {
			out = append(out, s)
		}
	}
	sortSessions(out)
	return out, nil
}

// gcSessions deletes the sessions that ended at or before now, in batches.
func (r *redisStore) gcSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for {
		d, err := sweepSessionsScript.Run(ctx, r.db, []string{rkSessions},
			scoreArg(now), rkSubjectSessions(""), sweepBatch, rkSession("")).Int()
		if err != nil {
			return n, redisError(err)
		}
		n += d
		if d < sweepBatch {
			return n, nil
		}
	}
}
