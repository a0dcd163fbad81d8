package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// liveJSON reads the records of index's members whose score (expiry) is after min
// ("-inf" for all), each under key(member), skipping those Redis already dropped by
// their TTL. It is not one transaction: a listing, not a decision. The records are read
// in pipelines of listBatch, not one round trip each.
func liveJSON[T any](ctx context.Context, r *redisStore, index, min string, key func(string) string) ([]T, error) {
	members, err := r.db.ZRangeByScore(ctx, index, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, redisError(err)
	}
	out := make([]T, 0, len(members))
	for batch := range slices.Chunk(members, listBatch) {
		cmds := make([]*redis.StringCmd, len(batch))
		_, err := r.db.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, m := range batch {
				cmds[i] = pipe.Get(ctx, key(m))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, redisError(err)
		}
		for _, cmd := range cmds {
			raw, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) {
				continue // dropped by its TTL
			} else if err != nil {
				return nil, redisError(err)
			}
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("store: decode a redis record %T: %w", v, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// listBatch is how many commands one pipeline of a listing sends.
const listBatch = 500

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
	var families []string
	seen := map[string]bool{}
	for _, t := range tokens {
		if !seen[t.FamilyID] {
			seen[t.FamilyID] = true
			families = append(families, t.FamilyID)
		}
	}
	revoked := make(map[string]bool, len(families))
	for batch := range slices.Chunk(families, listBatch) {
		cmds := make([]*redis.FloatCmd, len(batch))
		_, err := r.db.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, f := range batch {
				cmds[i] = pipe.ZScore(ctx, rkRevoked, f)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, redisError(err)
		}
		for i, cmd := range cmds {
			switch err := cmd.Err(); {
			case err == nil:
				revoked[batch[i]] = true
			case !errors.Is(err, redis.Nil):
				return nil, redisError(err)
			}
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
