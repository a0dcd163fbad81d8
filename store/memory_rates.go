package store

import (
	"context"
	"time"
)

// TakeToken implements [RateStore] under the store's one mutex.
func (m *memory) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, time.Duration, error) {
	if err := checkRate(key, perMinute); err != nil {
		return false, 0, err
	}
	if err := m.lock(ctx); err != nil {
		return false, 0, err
	}
	defer m.mu.Unlock()
	next, ok, wait := takeAt(m.rates[key], now, perMinute)
	if ok {
		if m.rates == nil {
			m.rates = map[string]time.Time{}
		}
		m.rates[key] = next
	}
	return ok, wait, nil
}

// gcRates deletes the buckets that are full again at now; the caller holds the mutex.
func (m *memory) gcRates(now time.Time) int {
	n := 0
	for k, tat := range m.rates {
		if !tat.After(now) {
			delete(m.rates, k)
			n++
		}
	}
	return n
}
