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
		var (
			sessions []Session
			tokens   []RefreshToken
		)
		err := tx.Bucket(bucketSessions).ForEach(func(_, raw []byte) error {
			s, err := decode[Session](bucketSessions, raw)
			if err == nil {
				sessions = append(sessions, s)
			}
			return err
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketTokens).ForEach(func(_, raw []byte) error {
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
		out = subjectsWithEmail(folded, sessions, tokens, now, func(family string) bool {
			return revoked.Get([]byte(family)) != nil
		})
		return nil
	})
	return out, err
}
