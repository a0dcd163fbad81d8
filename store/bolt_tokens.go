package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// familyKey is the family_tokens index key of a token: family ID, NUL, token hash.
func familyKey(familyID, tokenHash string) string {
	return familyID + "\x00" + tokenHash
}

// familyPrefix is the index prefix under which familyID's tokens are listed.
func familyPrefix(familyID string) []byte {
	return []byte(familyID + "\x00")
}

// familyHashes returns the hashes of familyID's tokens.
func familyHashes(tx *bbolt.Tx, familyID string) []string {
	prefix := familyPrefix(familyID)
	var hashes []string
	c := tx.Bucket(bucketFamilyTokens).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		hashes = append(hashes, string(k[len(prefix):]))
	}
	return hashes
}

// familyRevoked reports whether familyID is recorded as revoked.
func familyRevoked(tx *bbolt.Tx, familyID string) bool {
	return tx.Bucket(bucketRevokedFamilies).Get([]byte(familyID)) != nil
}

// CreateAuthCode implements [Store].
func (b *boltStore) CreateAuthCode(ctx context.Context, c AuthCode) error {
	if err := c.validate(); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketCodes).Get([]byte(c.CodeHash)) != nil {
			return ErrExists
		}
		return put(tx, bucketCodes, c.CodeHash, c)
	})
}

// UseAuthCode implements [Store]: read, check and mark used in one transaction.
func (b *boltStore) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (c AuthCode, err error) {
	err = b.update(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		if c, ok, err = get[AuthCode](tx, bucketCodes, codeHash); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := useCheck(c, now); err != nil {
			return err
		}
		c.UsedAt = now
		return put(tx, bucketCodes, codeHash, c)
	})
	if errors.Is(err, ErrNotFound) {
		return AuthCode{}, err
	}
	return c, err
}

// CreateRefreshToken implements [Store].
func (b *boltStore) CreateRefreshToken(ctx context.Context, t RefreshToken) error {
	if err := t.validate(); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error { return putToken(tx, t) })
}

// putToken stores a new token and indexes it under its family.
func putToken(tx *bbolt.Tx, t RefreshToken) error {
	if tx.Bucket(bucketTokens).Get([]byte(t.TokenHash)) != nil {
		return ErrExists
	}
	if familyRevoked(tx, t.FamilyID) {
		return ErrRevoked
	}
	if err := put(tx, bucketTokens, t.TokenHash, t); err != nil {
		return err
	}
	if err := tx.Bucket(bucketFamilyTokens).Put([]byte(familyKey(t.FamilyID, t.TokenHash)), nil); err != nil {
		return fmt.Errorf("store: write the family index: %w", err)
	}
	return nil
}

// RotateRefreshToken implements [Store]: the checks, the revocation on reuse and the
// writes of old and next share one transaction.
func (b *boltStore) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time, grace time.Duration) (old RefreshToken, err error) {
	var reused bool
	err = b.update(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		if old, ok, err = get[RefreshToken](tx, bucketTokens, oldHash); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		err := rotateCheck(old, familyRevoked(tx, old.FamilyID), now, grace)
		if errors.Is(err, ErrTokenReused) {
			// Commit the revocation, then report the reuse.
			reused = true
			if err := revokeFamily(tx, old.FamilyID, now); err != nil {
				return err
			}
			old, _, err = get[RefreshToken](tx, bucketTokens, oldHash)
			return err
		} else if err != nil {
			return err
		}
		if next, err = nextToken(old, next); err != nil {
			return err
		}
		if err := putToken(tx, next); err != nil {
			return err
		}
		if !old.RotatedAt.IsZero() {
			return nil
		}
		old.RotatedAt = now
		return put(tx, bucketTokens, oldHash, old)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return RefreshToken{}, err
	case err == nil && reused:
		return old, ErrTokenReused
	}
	return old, err
}

// GetRefreshToken implements [Store].
func (b *boltStore) GetRefreshToken(ctx context.Context, hash string) (t RefreshToken, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		if t, ok, err = get[RefreshToken](tx, bucketTokens, hash); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return t, err
}

// RevokeFamily implements [Store].
func (b *boltStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if familyID == "" {
		return errNoFamily
	}
	return b.update(ctx, func(tx *bbolt.Tx) error { return revokeFamily(tx, familyID, now) })
}

// revokeFamily records familyID as revoked (keeping the first time) and revokes its tokens.
func revokeFamily(tx *bbolt.Tx, familyID string, now time.Time) error {
	if !familyRevoked(tx, familyID) {
		if err := put(tx, bucketRevokedFamilies, familyID, now); err != nil {
			return err
		}
	}
	for _, h := range familyHashes(tx, familyID) {
		t, ok, err := get[RefreshToken](tx, bucketTokens, h)
		if err != nil {
			return err
		}
		if !ok || !t.RevokedAt.IsZero() {
			continue
		}
		t.RevokedAt = now
		if err := put(tx, bucketTokens, h, t); err != nil {
			return err
		}
	}
	return nil
}

// FamilyRevoked implements [Store].
func (b *boltStore) FamilyRevoked(ctx context.Context, familyID string) (revoked bool, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		revoked = familyRevoked(tx, familyID)
		return nil
	})
	return revoked, err
}

// GC implements [Store] in one transaction. Tokens go before revoked families, so a
// family whose last token expires now can go in the same pass.
func (b *boltStore) GC(ctx context.Context, now time.Time) (n int, err error) {
	err = b.update(ctx, func(tx *bbolt.Tx) error {
		add := func(d int, err error) error { n += d; return err }
		if err := add(sweep(tx, bucketClients, func(_ []byte, c Client) bool { return expired(c.ExpiresAt, now) })); err != nil {
			return err
		}
		if err := add(sweep(tx, bucketCodes, func(_ []byte, c AuthCode) bool { return expired(c.ExpiresAt, now) })); err != nil {
			return err
		}
		var index []string // family index keys of the deleted tokens
		if err := add(sweep(tx, bucketTokens, func(_ []byte, t RefreshToken) bool {
			if !expired(t.ExpiresAt, now) {
				return false
			}
			index = append(index, familyKey(t.FamilyID, t.TokenHash))
			return true
		})); err != nil {
			return err
		}
		for _, k := range index {
			if err := del(tx, bucketFamilyTokens, k); err != nil {
				return err
			}
		}
		if err := add(sweep(tx, bucketRevokedFamilies, func(f []byte, at time.Time) bool {
			prefix := familyPrefix(string(f))
			k, _ := tx.Bucket(bucketFamilyTokens).Cursor().Seek(prefix)
			return !bytes.HasPrefix(k, prefix) && expired(at.Add(familyRetention), now)
		})); err != nil {
			return err
		}
		if err := add(sweep(tx, bucketSessions, func(_ []byte, s Session) bool { return !s.live(now) })); err != nil {
			return err
		}
		if err := add(sweep(tx, bucketDenylist, func(_ []byte, exp time.Time) bool { return expired(exp, now) })); err != nil {
			return err
		}
		if err := add(gcSubjects(tx, now)); err != nil {
			return err
		}
		if err := add(gcRates(tx, now)); err != nil {
			return err
		}
		return add(gcAssertions(tx, now))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// sweep deletes the records of bucket that dead reports and returns how many it deleted.
func sweep[T any](tx *bbolt.Tx, bucket []byte, dead func(key []byte, v T) bool) (int, error) {
	var keys [][]byte
	err := tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
		v, err := decode[T](bucket, raw)
		if err == nil && dead(k, v) {
			keys = append(keys, slices.Clone(k)) // k is only valid until the bucket changes
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := del(tx, bucket, string(k)); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
