package store

import (
	"context"
	"time"
)

// RevokeSubject implements [SubjectStore] under the store's one mutex.
func (m *memory) RevokeSubject(ctx context.Context, subject string, at, until time.Time) error {
	if subject == "" {
		return errNoSubject
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if m.subjects == nil {
		m.subjects = map[string]SubjectRevocation{}
	}
	old, ok := m.subjects[subject]
	m.subjects[subject] = laterRevocation(old, ok, SubjectRevocation{At: at, Until: until})
	return nil
}

// SubjectRevokedAt implements [SubjectStore].
func (m *memory) SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error) {
	if err := m.lock(ctx); err != nil {
		return time.Time{}, err
	}
	defer m.mu.Unlock()
	r, ok := m.subjects[subject]
	if !ok || expired(r.Until, m.now()) {
		return time.Time{}, nil
	}
	return r.At, nil
}

// gcSubjects deletes the subject revocations kept until at or before now; the caller
// holds the mutex.
func (m *memory) gcSubjects(now time.Time) int {
	n := 0
	for k, r := range m.subjects {
		if expired(r.Until, now) {
			delete(m.subjects, k)
			n++
		}
	}
	return n
}

// TokenRevoked implements [TokenChecker] under the store's one mutex.
func (m *memory) TokenRevoked(ctx context.Context, c TokenCheck) (bool, error) {
	if err := m.lock(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	if _, ok := m.denylist[c.JTI]; ok && c.JTI != "" {
		return true, nil
	}
	if _, ok := m.revokedFamilies[c.Family]; ok && c.Family != "" {
		return true, nil
	}
	now := m.now()
	for _, sub := range c.Subjects {
		if r, ok := m.subjects[sub]; ok && sub != "" && !expired(r.Until, now) && coveredBy(r.At, c.IssuedAt) {
			return true, nil
		}
	}
	return false, nil
}
