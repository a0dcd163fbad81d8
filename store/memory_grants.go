package store

import (
	"context"
	"maps"
	"slices"
	"time"
)

// ListClients implements [GrantStore].
func (m *memory) ListClients(ctx context.Context) ([]Client, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	now := m.now()
	out := make([]Client, 0, len(m.clients))
	for _, c := range m.clients {
		if !expired(c.ExpiresAt, now) {
			out = append(out, c.clone())
		}
	}
	sortClients(out)
	return out, nil
}

// ListGrants implements [GrantStore].
func (m *memory) ListGrants(ctx context.Context, subject, clientID string, now time.Time) ([]Grant, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	return grantsOf(slices.Collect(maps.Values(m.tokens)), subject, clientID, now, m.familyRevoked), nil
}

// familyRevoked reports whether family was revoked; the caller holds the mutex.
func (m *memory) familyRevoked(family string) bool {
	_, ok := m.revokedFamilies[family]
	return ok
}

// DeleteConsents implements [GrantStore].
func (m *memory) DeleteConsents(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errNoConsentFilter
	}
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	n := 0
	for k, c := range m.consents {
		if (subject == "" || c.Subject == subject) && (clientID == "" || c.ClientID == clientID) {
			delete(m.consents, k)
			n++
		}
	}
	return n, nil
}
