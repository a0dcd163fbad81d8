package store

import (
	"context"
	"time"
)

// UseAssertionID implements [AssertionStore] under the store's one mutex.
func (m *memory) UseAssertionID(ctx context.Context, issuer, jti string, exp time.Time) error {
	if err := checkAssertion(issuer, jti); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	k := assertionKey(issuer, jti)
	if old, ok := m.assertions[k]; ok && !expired(old, m.now()) {
		return ErrReplayed
	}
	if m.assertions == nil {
		m.assertions = map[string]time.Time{}
	}
	m.assertions[k] = exp
	return nil
}

// gcAssertions deletes the assertion records that expired at or before now; the
// caller holds the mutex.
func (m *memory) gcAssertions(now time.Time) int {
	n := 0
	for k, exp := range m.assertions {
		if expired(exp, now) {
			delete(m.assertions, k)
			n++
		}
	}
	return n
}
