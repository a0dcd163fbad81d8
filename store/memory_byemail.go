package store

import (
	"context"
	"maps"
	"slices"
	"time"
)

// SubjectsByEmail implements [GrantStore] under the store's one mutex.
func (m *memory) SubjectsByEmail(ctx context.Context, email string, now time.Time) ([]string, error) {
	folded := foldEmail(email)
	if folded == "" {
		return nil, errNoEmail
	}
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	sessions, tokens := slices.Collect(maps.Values(m.sessions)), slices.Collect(maps.Values(m.tokens))
	return subjectsWithEmail(folded, sessions, tokens, now, m.familyRevoked), nil
}
