package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// liveJSON reads the records of index's members whose score (expiry) is after min
// ("-inf" for all), each under key(member), skipping those Redis already dropped by
// their TTL. It is not one transaction: a listing, not a decision.
func liveJSON[T any](ctx context.Context, r *redisStore, index, min string, key func(string) string) ([]T, error) {
	members, err := r.db.ZRangeByScore(ctx, index, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, redisError(err)
	}
	out := make([]T, 0, len(members))
	for _, m := range members {
		v, ok, err := getJSON[T](ctx, r.db, key(m))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// ListClients implements [GrantStore] from the client index.
func (r *redisStore) ListClients(ctx context.Context) ([]Client, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	out, err := liveJSON[Client](ctx, r, rkClients, "("+scoreArg(r.now()), rkClient)
	if err != nil {
		return nil, err
	}
	sortClients(out)
	return out, nil
}

// ListGrants implements [GrantStore] from the refresh-token index and the revoked
// families.
func (r *redisStore) ListGrants(ctx context.Context, subject, clientID string, now time.Time) ([]Grant, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	tokens, err := liveJSON[RefreshToken](ctx, r, rkTokens, "-inf", rkToken)
	if err != nil {
		return nil, err
	}
	revoked, err := r.revokedFamilies(ctx, tokens)
	if err != nil {
		return nil, err
	}
	return grantsOf(tokens, subject, clientID, now, func(family string) bool { return revoked[family] }), nil
}

// revokedFamilies reports, for the family of each of tokens, whether it is revoked.
func (r *redisStore) revokedFamilies(ctx context.Context, tokens []RefreshToken) (map[string]bool, error) {
	revoked := map[string]bool{}
	for _, t := range tokens {
		if _, seen := revoked[t.FamilyID]; seen {
			continue
		}
		err := r.db.ZScore(ctx, rkRevoked, t.FamilyID).Err()
		switch {
		case err == nil:
			revoked[t.FamilyID] = true
		case errors.Is(err, redis.Nil):
			revoked[t.FamilyID] = false
		default:
			return nil, redisError(err)
		}
	}
	return revoked, nil
}

// DeleteConsents implements [GrantStore]: each matching consent and its index entry go
// in one MULTI.
func (r *redisStore) DeleteConsents(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errNoConsentFilter
	}
	if err := r.begin(ctx); err != nil {
		return 0, err
	}
	keys, err := r.db.SMembers(ctx, rkConsents).Result()
	if err != nil {
		return 0, redisError(err)
	}
	n := 0
	for _, k := range keys {
		c, ok, err := getJSON[Consent](ctx, r.db, rkConsent(k))
		if err != nil {
			return n, err
		}
		if ok && (subject != "" && c.Subject != subject || clientID != "" && c.ClientID != clientID) {
			continue
		}
		_, err = r.db.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, rkConsent(k))
			pipe.SRem(ctx, rkConsents, k)
			return nil
		})
		if err != nil {
			return n, redisError(err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}
