package store

import (
	"context"
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
	sessions := make([]Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	tokens := make([]RefreshToken, 0, len(m.tokens))
	for _, t := range m.tokens {
		tokens = append(tokens, t)
	}
	return subjectsWithEmail(folded, sessions, tokens, now, func(family string) bool {
		_, ok := m.revokedFamilies[family]
		return ok
	}), nil
}
