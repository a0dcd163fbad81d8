package store

import (
	"context"
	"time"
)

// SubjectsByEmail implements [GrantStore] from the session and refresh-token indexes,
// reading only the records whose expiry is after now. Like ListGrants it is a listing,
// not one transaction.
func (r *redisStore) SubjectsByEmail(ctx context.Context, email string, now time.Time) ([]string, error) {
	folded := foldEmail(email)
	if folded == "" {
		return nil, errNoEmail
	}
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	after := "(" + scoreArg(now)
	sessions, err := liveJSON[Session](ctx, r, rkSessions, after, rkSession)
	if err != nil {
		return nil, err
	}
	tokens, err := liveJSON[RefreshToken](ctx, r, rkTokens, after, rkToken)
	if err != nil {
		return nil, err
	}
	matching := tokens[:0]
	for _, t := range tokens {
		if foldEmail(t.Identity.Email) == folded {
			matching = append(matching, t)
		}
	}
	revoked, err := r.revokedFamilies(ctx, matching)
	if err != nil {
		return nil, err
	}
	return subjectsWithEmail(folded, sessions, matching, now, func(family string) bool { return revoked[family] }), nil
}
