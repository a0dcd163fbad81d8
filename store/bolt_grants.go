package store

import (
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// ListClients implements [GrantStore] in one read transaction.
func (b *boltStore) ListClients(ctx context.Context) ([]Client, error) {
	now := b.now()
	var out []Client
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketClients).ForEach(func(_, raw []byte) error {
			c, err := decode[Client](bucketClients, raw)
			if err == nil && !expired(c.ExpiresAt, now) {
				out = append(out, c)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	sortClients(out)
	return out, nil
}

// ListGrants implements [GrantStore] in one read transaction over every refresh token.
func (b *boltStore) ListGrants(ctx context.Context, subject, clientID string, now time.Time) ([]Grant, error) {
	var out []Grant
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		tokens, err := decodeAll[RefreshToken](tx, bucketTokens)
		if err != nil {
			return err
		}
		out = grantsOf(tokens, subject, clientID, now, boltFamilyRevoked(tx))
		return nil
	})
	return out, err
}

// decodeAll decodes every record of bucket.
func decodeAll[T any](tx *bbolt.Tx, bucket []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(bucket).ForEach(func(_, raw []byte) error {
		v, err := decode[T](bucket, raw)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	return out, err
}

// boltFamilyRevoked reports, within tx, whether a family was revoked.
func boltFamilyRevoked(tx *bbolt.Tx) func(family string) bool {
	revoked := tx.Bucket(bucketRevokedFamilies)
	return func(family string) bool { return revoked.Get([]byte(family)) != nil }
}

// DeleteConsents implements [GrantStore] in one write transaction.
func (b *boltStore) DeleteConsents(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errNoConsentFilter
	}
	var n int
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = sweep(tx, bucketConsents, func(_ []byte, c Consent) bool {
			return (subject == "" || c.Subject == subject) && (clientID == "" || c.ClientID == clientID)
		})
		return err
	})
	return n, err
}
