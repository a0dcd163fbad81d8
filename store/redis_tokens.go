package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// createScript stores a record unless its key exists, and indexes it.
// KEYS: record, index. ARGV: JSON, key expiry (Unix ms), index score, index member.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1`)

// createTokenScript stores a refresh token unless its key exists or its family is revoked,
// indexes it, adds it to its family's set and keeps that set until the token's key expires.
// KEYS: token, token index, family set, family revocation. ARGV: as createScript's.
var createTokenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'revoked' end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
if redis.call('PEXPIRETIME', KEYS[3]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[3], ARGV[2])
end
return 'ok'`)

// sweepScript deletes up to ARGV[4] records whose index score is at most ARGV[1]: the key
// ARGV[2]..member and the index entry; for refresh tokens (ARGV[3] not empty) also the
// entry in the family set ARGV[3]..FamilyID. KEYS: the index. It returns how many it deleted.
var sweepScript = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, m in ipairs(dead) do
  local key = ARGV[2] .. m
  if ARGV[3] ~= '' then
    local raw = redis.call('GET', key)
    if raw then redis.call('SREM', ARGV[3] .. cjson.decode(raw).FamilyID, m) end
  end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], m)
end
return #dead`)

// sweepFamiliesScript deletes up to ARGV[4] revoked-family records revoked at or before
// ARGV[1] whose family set ARGV[2]..family is empty, and their marker ARGV[3]..family.
// KEYS: the revoked index. It returns how many it deleted and whether it saw ARGV[4] candidates.
var sweepFamiliesScript = redis.NewScript(`
local cand = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local n = 0
for _, f in ipairs(cand) do
  if redis.call('SCARD', ARGV[2] .. f) == 0 then
    redis.call('ZREM', KEYS[1], f)
    redis.call('DEL', ARGV[3] .. f)
    n = n + 1
  end
end
return {n, #cand}`)

// sweepBatch is how many records one GC script deletes before GC calls it again.
const sweepBatch = 500

// CreateAuthCode implements [Store].
func (r *redisStore) CreateAuthCode(ctx context.Context, c AuthCode) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(c)
	if err != nil {
		return err
	}
	added, err := createScript.Run(ctx, r.db, []string{rkCode(c.CodeHash), rkCodes},
		raw, expireAt(c.ExpiresAt).UnixMilli(), scoreArg(c.ExpiresAt), c.CodeHash).Int()
	if err != nil {
		return redisError(err)
	}
	if added == 0 {
		return ErrExists
	}
	return nil
}

// UseAuthCode implements [Store]: read, check and mark used in one optimistic
// transaction, so of two replicas racing for a code exactly one marks it.
func (r *redisStore) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (c AuthCode, err error) {
	key := rkCode(codeHash)
	err = r.watch(ctx, func(tx *redis.Tx) error {
		var ok bool
		if c, ok, err = getJSON[AuthCode](ctx, tx, key); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := useCheck(c, now); err != nil {
			return err
		}
		c.UsedAt = now
		return exec(ctx, tx, func(pipe redis.Pipeliner) error { return setJSON(ctx, pipe, key, c, c.ExpiresAt, true) })
	}, key)
	if errors.Is(err, ErrNotFound) {
		return AuthCode{}, err
	}
	return c, err
}

// tokenArgs are the keys and arguments of createTokenScript for t.
func tokenArgs(t RefreshToken) ([]string, []any, error) {
	raw, err := encode(t)
	if err != nil {
		return nil, nil, err
	}
	keys := []string{rkToken(t.TokenHash), rkTokens, rkFamily(t.FamilyID), rkFamilyRev(t.FamilyID)}
	return keys, []any{raw, expireAt(t.ExpiresAt).UnixMilli(), scoreArg(t.ExpiresAt), t.TokenHash}, nil
}

// CreateRefreshToken implements [Store].
func (r *redisStore) CreateRefreshToken(ctx context.Context, t RefreshToken) error {
	if err := t.validate(); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	keys, args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	res, err := createTokenScript.Run(ctx, r.db, keys, args...).Text()
	switch {
	case err != nil:
		return redisError(err)
	case res == "exists":
		return ErrExists
	case res == "revoked":
		return ErrRevoked
	}
	return nil
}

// RotateRefreshToken implements [Store]. One optimistic transaction watches the old
// token, its family's set and its family's revocation: a concurrent rotation or
// revocation makes EXEC fail and the whole decision is taken again on what it wrote.
func (r *redisStore) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time, grace time.Duration) (old RefreshToken, err error) {
	oldKey := rkToken(oldHash)
	var reused bool
	err = r.watch(ctx, func(tx *redis.Tx) error {
		reused = false
		var ok bool
		if old, ok, err = getJSON[RefreshToken](ctx, tx, oldKey); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := tx.Watch(ctx, rkFamilyRev(old.FamilyID), rkFamily(old.FamilyID)).Err(); err != nil {
			return redisError(err)
		}
		revoked, err := tx.Exists(ctx, rkFamilyRev(old.FamilyID)).Result()
		if err != nil {
			return redisError(err)
		}
		err = rotateCheck(old, revoked == 1, now, grace)
		if errors.Is(err, ErrTokenReused) {
			reused = true
			if err := revokeFamilyTx(ctx, tx, old.FamilyID, now); err != nil {
				return err
			}
			if old.RevokedAt.IsZero() {
				old.RevokedAt = now
			}
			return nil
		} else if err != nil {
			return err
		}
		if next, err = nextToken(old, next); err != nil {
			return err
		}
		nextKey := rkToken(next.TokenHash)
		if err := tx.Watch(ctx, nextKey).Err(); err != nil {
			return redisError(err)
		}
		if n, err := tx.Exists(ctx, nextKey).Result(); err != nil {
			return redisError(err)
		} else if n == 1 {
			return ErrExists
		}
		keys, args, err := tokenArgs(next)
		if err != nil {
			return err
		}
		return exec(ctx, tx, func(pipe redis.Pipeliner) error {
			createTokenScript.Eval(ctx, pipe, keys, args...)
			if !old.RotatedAt.IsZero() {
				return nil
			}
			rotated := old
			rotated.RotatedAt = now
			return setJSON(ctx, pipe, oldKey, rotated, rotated.ExpiresAt, true)
		})
	}, oldKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return RefreshToken{}, err
	case err == nil && reused:
		r.publish(ctx, Revocation{Family: old.FamilyID})
		return old, ErrTokenReused
	}
	return old, err
}

// GetRefreshToken implements [Store].
func (r *redisStore) GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	if err := r.begin(ctx); err != nil {
		return RefreshToken{}, err
	}
	t, ok, err := getJSON[RefreshToken](ctx, r.db, rkToken(hash))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return t, err
}

// RevokeFamily implements [Store]: one optimistic transaction over the family's set,
// its revocation and each of its tokens, so a rotation racing it either lands first (and
// its new token is revoked too) or finds the family revoked.
func (r *redisStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if familyID == "" {
		return errNoFamily
	}
	err := r.watch(ctx, func(tx *redis.Tx) error {
		return revokeFamilyTx(ctx, tx, familyID, now)
	}, rkFamily(familyID), rkFamilyRev(familyID))
	if err == nil {
		r.publish(ctx, Revocation{Family: familyID})
	}
	return err
}

// revokeFamilyTx records familyID as revoked (keeping the first time) and revokes its
// tokens, in tx, which already watches the family's set and revocation.
func revokeFamilyTx(ctx context.Context, tx *redis.Tx, familyID string, now time.Time) error {
	hashes, err := tx.SMembers(ctx, rkFamily(familyID)).Result()
	if err != nil {
		return redisError(err)
	}
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = rkToken(h)
	}
	var raws []any
	if len(keys) > 0 {
		if err := tx.Watch(ctx, keys...).Err(); err != nil {
			return redisError(err)
		}
		if raws, err = tx.MGet(ctx, keys...).Result(); err != nil {
			return redisError(err)
		}
	}
	marked, err := tx.Exists(ctx, rkFamilyRev(familyID)).Result()
	if err != nil {
		return redisError(err)
	}
	latest := now // the marker outlives the family's last token by familyRetention
	var revoke []RefreshToken
	for _, raw := range raws {
		s, ok := raw.(string)
		if !ok {
			continue // expired and dropped since SMEMBERS
		}
		var t RefreshToken
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return fmt.Errorf("store: decode a redis refresh token: %w", err)
		}
		if t.ExpiresAt.After(latest) {
			latest = t.ExpiresAt
		}
		if t.RevokedAt.IsZero() {
			t.RevokedAt = now
			revoke = append(revoke, t)
		}
	}
	return exec(ctx, tx, func(pipe redis.Pipeliner) error {
		marker := rkFamilyRev(familyID)
		if marked == 0 {
			at, err := encode(now)
			if err != nil {
				return err
			}
			pipe.Set(ctx, marker, at, 0)
			pipe.ZAdd(ctx, rkRevoked, redis.Z{Score: score(now), Member: familyID})
		}
		pipe.PExpireAt(ctx, marker, expireAt(latest.Add(familyRetention)))
		for _, t := range revoke {
			if err := setJSON(ctx, pipe, rkToken(t.TokenHash), t, t.ExpiresAt, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// FamilyRevoked implements [Store].
func (r *redisStore) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	if err := r.begin(ctx); err != nil {
		return false, err
	}
	n, err := r.db.Exists(ctx, rkFamilyRev(familyID)).Result()
	if err != nil {
		return false, redisError(err)
	}
	return n == 1, nil
}

// GC implements [Store]. Redis drops expired keys itself (redisSlack after their expiry);
// GC removes what expired by now from the indexes, with the keys still there, in batches
// that are each one script. Tokens go before revoked families, so a family whose last
// token expires now can go in the same pass.
func (r *redisStore) GC(ctx context.Context, now time.Time) (int, error) {
	if err := r.begin(ctx); err != nil {
		return 0, err
	}
	n := 0
	cutoff := scoreArg(now)
	for _, s := range []struct{ index, prefix, family string }{
		{rkClients, rkClient(""), ""},
		{rkCodes, rkCode(""), ""},
		{rkTokens, rkToken(""), rkFamily("")},
	} {
		for {
			d, err := sweepScript.Run(ctx, r.db, []string{s.index}, cutoff, s.prefix, s.family, sweepBatch).Int()
			if err != nil {
				return n, redisError(err)
			}
			n += d
			if d < sweepBatch {
				break
			}
		}
	}
	for {
		res, err := sweepFamiliesScript.Run(ctx, r.db, []string{rkRevoked},
			scoreArg(now.Add(-familyRetention)), rkFamily(""), rkFamilyRev(""), sweepBatch).Int64Slice()
		if err != nil {
			return n, redisError(err)
		}
		n += int(res[0])
		if res[1] < sweepBatch || res[0] == 0 {
			break
		}
	}
	d, err := r.db.ZRemRangeByScore(ctx, rkDenylist, "-inf", cutoff).Result()
	if err != nil {
		return n, redisError(err)
	}
	n += int(d)
	d2, err := r.gcSessions(ctx, now)
	if err != nil {
		return n + d2, err
	}
	d3, err := r.gcSubjects(ctx, now)
	return n + d2 + d3, err
}
