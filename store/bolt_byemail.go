package store

import (
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// SubjectsByEmail implements [GrantStore] in one read transaction over every session
// and refresh token.
func (b *boltStore) SubjectsByEmail(ctx context.Context, email string, now time.Time) ([]string, error) {
	folded := foldEmail(email)
	if folded == "" {
		return nil, errNoEmail
	}
	var out []string
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		sessions, err := decodeAll[Session](tx, bucketSessions)
		if err != nil {
			return err
		}
		tokens, err := decodeAll[RefreshToken](tx, bucketTokens)
		if err != nil {
			return err
		}
		out = subjectsWithEmail(folded, sessions, tokens, now, boltFamilyRevoked(tx))
		return nil
	})
	return out, err
}
