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
		var tokens []RefreshToken
		err := tx.Bucket(bucketTokens).ForEach(func(_, raw []byte) error {
			t, err := decode[RefreshToken](bucketTokens, raw)
			if err == nil {
				tokens = append(tokens, t)
			}
			return err
		})
		if err != nil {
			return err
		}
		revoked := tx.Bucket(bucketRevokedFamilies)
		out = grantsOf(tokens, subject, clientID, now, func(family string) bool {
			return revoked.Get([]byte(family)) != nil
		})
		return nil
	})
	return out, err
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
