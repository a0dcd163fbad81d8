package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"
)

// dump implements dumper, in one read transaction.
func (b *boltStore) dump(ctx context.Context, now time.Time) (s snapshot, err error) {
	s = snapshot{revoked: map[string]time.Time{}, denylist: map[string]time.Time{}, subjects: map[string]SubjectRevocation{}}
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		return errors.Join(
			each(tx, bucketClients, func(_ []byte, c Client) {
				if !expired(c.ExpiresAt, now) {
					s.clients = append(s.clients, c)
				}
			}),
			each(tx, bucketCodes, func(_ []byte, c AuthCode) {
				if !expired(c.ExpiresAt, now) {
					s.codes = append(s.codes, c)
				}
			}),
			each(tx, bucketTokens, func(_ []byte, t RefreshToken) {
				if !expired(t.ExpiresAt, now) {
					s.tokens = append(s.tokens, t)
				}
			}),
			each(tx, bucketRevokedFamilies, func(k []byte, at time.Time) { s.revoked[string(k)] = at }),
			each(tx, bucketDenylist, func(k []byte, exp time.Time) {
				if !expired(exp, now) {
					s.denylist[string(k)] = exp
				}
			}),
			each(tx, bucketConsents, func(_ []byte, c Consent) { s.consents = append(s.consents, c) }),
			each(tx, bucketKeys, func(_ []byte, k SigningKey) { s.keys = append(s.keys, k) }),
			each(tx, bucketSessions, func(_ []byte, ss Session) {
				if ss.live(now) {
					s.sessions = append(s.sessions, ss)
				}
			}),
			eachIfThere(tx, bucketSubjects, func(k []byte, r SubjectRevocation) {
				if !expired(r.Until, now) {
					s.subjects[string(k)] = r
				}
			}),
		)
	})
	sortSnapshot(&s)
	return s, err
}

// eachIfThere is each for a bucket made on first use, which may not exist yet.
func eachIfThere[T any](tx *bbolt.Tx, bucket []byte, fn func(key []byte, v T)) error {
	if tx.Bucket(bucket) == nil {
		return nil
	}
	return each(tx, bucket, fn)
}

// each decodes every record of bucket and hands it to fn with its key.
func each[T any](tx *bbolt.Tx, bucket []byte, fn func(key []byte, v T)) error {
	return tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
		v, err := decode[T](bucket, raw)
		if err == nil {
			fn(k, v)
		}
		return err
	})
}

// dump implements dumper from the indexes. It is not one transaction: run it while no
// replica writes, as `mcpguard store migrate` asks.
func (r *redisStore) dump(ctx context.Context, now time.Time) (s snapshot, err error) {
	if err := r.begin(ctx); err != nil {
		return s, err
	}
	s = snapshot{revoked: map[string]time.Time{}, denylist: map[string]time.Time{}}
	live := "(" + scoreArg(now)
	members := func(index, min string) ([]redis.Z, error) {
		z, err := r.db.ZRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
		if err != nil {
			return nil, redisError(err)
		}
		return z, nil
	}
	// records reads the JSON records of the live members of index.
	records := func(index string, key func(string) string, add func([]byte) error) error {
		z, err := members(index, live)
		if err != nil {
			return err
		}
		for _, m := range z {
			raw, err := r.db.Get(ctx, key(m.Member.(string))).Bytes()
			if errors.Is(err, redis.Nil) {
				continue // dropped by its TTL
			} else if err != nil {
				return redisError(err)
			}
			if err := add(raw); err != nil {
				return fmt.Errorf("store: decode a redis record: %w", err)
			}
		}
		return nil
	}
	err = errors.Join(
		records(rkClients, rkClient, func(raw []byte) error { return appendJSON(&s.clients, raw) }),
		records(rkCodes, rkCode, func(raw []byte) error { return appendJSON(&s.codes, raw) }),
		records(rkTokens, rkToken, func(raw []byte) error { return appendJSON(&s.tokens, raw) }),
		records(rkSessions, rkSession, func(raw []byte) error { return appendJSON(&s.sessions, raw) }),
	)
	if err != nil {
		return s, err
	}
	revoked, err := members(rkRevoked, "-inf")
	if err != nil {
		return s, err
	}
	for _, m := range revoked {
		s.revoked[m.Member.(string)] = time.UnixMicro(int64(m.Score)).UTC()
	}
	denied, err := members(rkDenylist, live)
	if err != nil {
		return s, err
	}
	for _, m := range denied {
		exp := time.Time{}
		if !math.IsInf(m.Score, 1) {
			exp = time.UnixMicro(int64(m.Score)).UTC()
		}
		s.denylist[m.Member.(string)] = exp
	}
	consents, err := r.db.SMembers(ctx, rkConsents).Result()
	if err != nil {
		return s, redisError(err)
	}
	for _, k := range consents {
		c, ok, err := getJSON[Consent](ctx, r.db, rkConsent(k))
		if err != nil {
			return s, err
		}
		if ok {
			s.consents = append(s.consents, c)
		}
	}
	if s.keys, err = r.SigningKeys(ctx); err != nil {
		return s, err
	}
	if s.subjects, err = r.subjectRevocations(ctx, now); err != nil {
		return s, err
	}
	sortSnapshot(&s)
	return s, nil
}

// appendJSON decodes raw and appends it to list.
func appendJSON[T any](list *[]T, raw []byte) error {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// dump implements dumper, in one repeatable-read transaction.
func (p *postgresStore) dump(ctx context.Context, now time.Time) (s snapshot, err error) {
	if err := p.begin(ctx); err != nil {
		return s, err
	}
	s = snapshot{revoked: map[string]time.Time{}, denylist: map[string]time.Time{}, subjects: map[string]SubjectRevocation{}}
	err = pgx.BeginTxFunc(ctx, p.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows := func(sql string, add func([]byte) error) error {
			rs, _ := tx.Query(ctx, sql, now)
			raws, err := pgx.CollectRows(rs, pgx.RowTo[[]byte])
			if err != nil {
				return err
			}
			for _, raw := range raws {
				if err := add(raw); err != nil {
					return fmt.Errorf("decode a postgres record: %w", err)
				}
			}
			return nil
		}
		err := errors.Join(
			rows("SELECT data FROM mcpguard_clients WHERE expires_at IS NULL OR expires_at > $1", func(raw []byte) error { return appendJSON(&s.clients, raw) }),
			rows("SELECT data FROM mcpguard_auth_codes WHERE expires_at > $1", func(raw []byte) error { return appendJSON(&s.codes, raw) }),
			rows("SELECT data FROM mcpguard_refresh_tokens WHERE expires_at > $1", func(raw []byte) error { return appendJSON(&s.tokens, raw) }),
			rows("SELECT data FROM mcpguard_consents WHERE $1::timestamptz IS NOT NULL", func(raw []byte) error { return appendJSON(&s.consents, raw) }),
			rows("SELECT data FROM mcpguard_signing_keys WHERE $1::timestamptz IS NOT NULL", func(raw []byte) error { return appendJSON(&s.keys, raw) }),
			rows("SELECT data FROM mcpguard_sessions WHERE ends_at > $1", func(raw []byte) error { return appendJSON(&s.sessions, raw) }),
		)
		if err != nil {
			return err
		}
		times := func(sql string, into map[string]time.Time) error {
			rs, _ := tx.Query(ctx, sql, now)
			var k string
			var at time.Time
			_, err := pgx.ForEachRow(rs, []any{&k, &at}, func() error { into[k] = at.UTC(); return nil })
			return err
		}
		subjects := func() error {
			rs, _ := tx.Query(ctx, "SELECT subject, revoked_at, expires_at FROM mcpguard_subject_revocations WHERE expires_at > $1", now)
			var k string
			var r SubjectRevocation
			_, err := pgx.ForEachRow(rs, []any{&k, &r.At, &r.Until}, func() error {
				s.subjects[k] = SubjectRevocation{At: r.At.UTC(), Until: r.Until.UTC()}
				return nil
			})
			return err
		}
		return errors.Join(
			times("SELECT family_id, revoked_at FROM mcpguard_families WHERE revoked_at IS NOT NULL AND $1::timestamptz IS NOT NULL", s.revoked),
			times("SELECT jti, expires_at FROM mcpguard_access_denylist WHERE expires_at > $1", s.denylist),
			subjects(),
		)
	})
	if err != nil {
		return s, pgError(err)
	}
	sortSnapshot(&s)
	return s, nil
}
