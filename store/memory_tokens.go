package store

import (
	"context"
	"errors"
	"time"
)

// CreateAuthCode implements [Store].
func (m *memory) CreateAuthCode(ctx context.Context, c AuthCode) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.codes[c.CodeHash]; ok {
		return ErrExists
	}
	m.codes[c.CodeHash] = c.clone()
	return nil
}

// UseAuthCode implements [Store].
func (m *memory) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (AuthCode, error) {
	if err := m.lock(ctx); err != nil {
		return AuthCode{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.codes[codeHash]
	if !ok {
		return AuthCode{}, ErrNotFound
	}
	if err := useCheck(c, now); err != nil {
		return c.clone(), err
	}
	c.UsedAt = now
	m.codes[codeHash] = c
	return c.clone(), nil
}

// CreateRefreshToken implements [Store].
func (m *memory) CreateRefreshToken(ctx context.Context, t RefreshToken) error {
	if err := t.validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	return m.putToken(t)
}

// putToken stores a new token and indexes it under its family.
func (m *memory) putToken(t RefreshToken) error {
	if _, ok := m.tokens[t.TokenHash]; ok {
		return ErrExists
	}
	if _, ok := m.revokedFamilies[t.FamilyID]; ok {
		return ErrRevoked
	}
	m.tokens[t.TokenHash] = t.clone()
	if m.families[t.FamilyID] == nil {
		m.families[t.FamilyID] = map[string]struct{}{}
	}
	m.families[t.FamilyID][t.TokenHash] = struct{}{}
	return nil
}

// RotateRefreshToken implements [Store].
func (m *memory) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time, grace time.Duration) (RefreshToken, error) {
	if err := m.lock(ctx); err != nil {
		return RefreshToken{}, err
	}
	defer m.mu.Unlock()
	old, ok := m.tokens[oldHash]
	if !ok {
		return RefreshToken{}, ErrNotFound
	}
	_, familyRevoked := m.revokedFamilies[old.FamilyID]
	if err := rotateCheck(old, familyRevoked, now, grace); errors.Is(err, ErrTokenReused) {
		m.revokeFamily(old.FamilyID, now)
		return m.tokens[oldHash].clone(), err
	} else if err != nil {
		return old.clone(), err
	}
	next, err := nextToken(old, next)
	if err != nil {
		return old.clone(), err
	}
	if err := m.putToken(next); err != nil {
		return old.clone(), err
	}
	if old.RotatedAt.IsZero() {
		old.RotatedAt = now
		m.tokens[oldHash] = old
	}
	return old.clone(), nil
}

// GetRefreshToken implements [Store].
func (m *memory) GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	if err := m.lock(ctx); err != nil {
		return RefreshToken{}, err
	}
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok {
		return RefreshToken{}, ErrNotFound
	}
	return t.clone(), nil
}

// RevokeFamily implements [Store].
func (m *memory) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if familyID == "" {
		return errNoFamily
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.revokeFamily(familyID, now)
	return nil
}

// revokeFamily marks familyID revoked (keeping the first time) and revokes its tokens.
func (m *memory) revokeFamily(familyID string, now time.Time) {
	if _, ok := m.revokedFamilies[familyID]; !ok {
		m.revokedFamilies[familyID] = now
	}
	for h := range m.families[familyID] {
		if t := m.tokens[h]; t.RevokedAt.IsZero() {
			t.RevokedAt = now
			m.tokens[h] = t
		}
	}
}

// FamilyRevoked implements [Store].
func (m *memory) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	if err := m.lock(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	_, ok := m.revokedFamilies[familyID]
	return ok, nil
}

// GC implements [Store].
func (m *memory) GC(ctx context.Context, now time.Time) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	n := 0
	for id, c := range m.clients {
		if expired(c.ExpiresAt, now) {
			delete(m.clients, id)
			n++
		}
	}
	for h, c := range m.codes {
		if expired(c.ExpiresAt, now) {
			delete(m.codes, h)
			n++
		}
	}
	for h, t := range m.tokens {
		if expired(t.ExpiresAt, now) {
			delete(m.tokens, h)
			if delete(m.families[t.FamilyID], h); len(m.families[t.FamilyID]) == 0 {
				delete(m.families, t.FamilyID)
			}
			n++
		}
	}
	for f, at := range m.revokedFamilies {
		if len(m.families[f]) == 0 && expired(at.Add(familyRetention), now) {
			delete(m.revokedFamilies, f)
			n++
		}
	}
	for jti, exp := range m.denylist {
		if expired(exp, now) {
			delete(m.denylist, jti)
			n++
		}
	}
	n += m.gcAssertions(now)
	n += m.gcSubjects(now)
	n += m.gcSessions(now)
	n += m.gcRates(now)
	return n, nil
}
