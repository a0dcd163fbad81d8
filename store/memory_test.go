package store_test

import (
	"testing"

	"github.com/mcpguard/mcpguard/store"
	"github.com/mcpguard/mcpguard/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, "memory://")
	})
}

// mustOpen opens dsn and closes the store when the test ends.
func mustOpen(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := store.Open(dsn)
	if err != nil {
		t.Fatalf("Open(%q) = %v, want a store", dsn, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func BenchmarkMemoryGetClient(b *testing.B) {
	s := mustOpen(b, "memory://")
	ctx := b.Context()
	c := store.Client{ID: "c1", RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"authorization_code"}, Kind: "dcr"}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetClient(ctx, "c1"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMemoryReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		s := mustOpen(t, "memory://")
		return s, s // one process holds a memory store alone
	})
}
