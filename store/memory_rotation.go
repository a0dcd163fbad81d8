package store

import (
	"context"
	"time"
)

// lease is a held lease of the memory and bolt backends.
type lease struct {
	Holder    string
	ExpiresAt time.Time
}

// AcquireLease implements [RotationStore] under the store's mutex.
func (m *memory) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	if err := m.lock(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && l.Holder != holder && now.Before(l.ExpiresAt) {
		return false, nil
	}
	if m.leases == nil {
		m.leases = map[string]lease{}
	}
	m.leases[name] = lease{Holder: holder, ExpiresAt: now.Add(ttl)}
	return true, nil
}

// DeleteSigningKey implements [RotationStore].
func (m *memory) DeleteSigningKey(ctx context.Context, id string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		return ErrNotFound
	}
	delete(m.keys, id)
	return nil
}
