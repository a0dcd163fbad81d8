package oauth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

func (s *downStore) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, time.Duration, error) {
	if err := s.err(); err != nil {
		return false, 0, err
	}
	return s.Store.TakeToken(ctx, key, perMinute, now)
}

// TestRegisterRateLimitShared: two servers on one store (two replicas) draw from the
// same buckets, per address and in all, so together they allow the configured rate.
func TestRegisterRateLimitShared(t *testing.T) {
	clock := newTestClock()
	st, err := store.New(store.Config{DSN: "memory://", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	replica := func() *clientsServer {
		return newClientsServer(t, func(c *Config) {
			c.Now = clock.Now
			c.Store = st
			c.RegistrationsPerMinute = 2
			c.RegistrationsPerMinuteTotal = 3
		})
	}
	a, b := replica(), replica()
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for i, s := range []*clientsServer{a, b} {
		if w, got := register(t, s, "192.0.2.1:1000", body); w.Code != http.StatusCreated {
			t.Fatalf("registration %d from .1 = %d %v, want 201", i+1, w.Code, got)
		}
	}
	w, _ := register(t, a, "192.0.2.1:1000", body)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Errorf("3rd registration from .1, the 1st on this replica = %d Retry-After %q, want 429 Retry-After 30", w.Code, w.Header().Get("Retry-After"))
	}
	if w, _ := register(t, b, "192.0.2.2:1000", body); w.Code != http.StatusCreated {
		t.Errorf("registration from .2 = %d, want 201", w.Code)
	}
	if w, _ := register(t, a, "192.0.2.3:1000", body); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("4th registration in all = %d Retry-After %q, want 429 with Retry-After (the total of 3 is shared)", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestRegisterRateLimitStoreDown: when the store cannot count, registration fails
// closed: 503 temporarily_unavailable, not a registration past the limit.
func TestRegisterRateLimitStoreDown(t *testing.T) {
	var ds *downStore
	s := newClientsServer(t, func(c *Config) {
		st, err := store.New(store.Config{DSN: "memory://"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ds = &downStore{Store: st}
		c.Store = ds
	})
	ds.down.Store(true)
	w, got := register(t, s, "192.0.2.1:1000", `{"redirect_uris":["https://a.example/cb"]}`)
	if w.Code != http.StatusServiceUnavailable || got["error"] != codeTemporarilyUnavailable {
		t.Errorf("registration with the store down = %d %v, want 503 %s", w.Code, got, codeTemporarilyUnavailable)
	}
}
