package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// broadcastStore is a store that hands the revocations a test sends to Subscribe, as a
// shared store does with the ones other replicas publish.
type broadcastStore struct {
	store.Store
	heard  chan store.Revocation
	missed chan struct{}
}

func (b *broadcastStore) Subscribe(ctx context.Context, heard func(store.Revocation), missed func()) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-b.heard:
			heard(r)
		case <-b.missed:
			missed()
		}
	}
}

// TestRevocationsFromOtherReplicas: a family revoked on another replica is refused here
// within a second, though this replica had verified and cached its access token; after a
// reconnection the cache is forgotten, so a revocation whose message was lost is found in
// the store on the token's next use.
func TestRevocationsFromOtherReplicas(t *testing.T) {
	var bs *broadcastStore
	e := newFlowEnv(t, func(c *Config) {
		bs = &broadcastStore{Store: c.Store, heard: make(chan store.Revocation), missed: make(chan struct{})}
		c.Store = bs
	})
	refusedWithin := func(what, tok string) {
		t.Helper()
		for start := time.Now(); time.Since(start) < time.Second; time.Sleep(5 * time.Millisecond) {
			if _, err := e.verify(tok); err != nil {
				return
			}
		}
		t.Fatalf("%s: the access token is still accepted after 1s", what)
	}
	family := func(tok string) string {
		t.Helper()
		c, err := e.as.verifyAccessSignature(t.Context(), tok, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Family
	}

	tok := e.tokens().str("access_token")
	if _, err := e.verify(tok); err != nil {
		t.Fatalf("verify(fresh token) = %v", err)
	}
	bs.heard <- store.Revocation{Family: family(tok)}
	refusedWithin("a family revoked on another replica", tok)

	tok = e.tokens().str("access_token")
	if _, err := e.verify(tok); err != nil {
		t.Fatalf("verify(token before a person's revocation) = %v", err)
	}
	bs.heard <- store.Revocation{Subject: aliceEmail, At: e.clock.Now(), Expires: e.clock.Now().Add(time.Hour)}
	refusedWithin("a person revoked on another replica", tok)
	e.clock.Advance(2 * time.Second)

	tok = e.tokens().str("access_token")
	if _, err := e.verify(tok); err != nil {
		t.Fatalf("verify(second token) = %v", err)
	}
	// Revoked elsewhere, and the message lost: the cached token still passes...
	if err := bs.Store.RevokeFamily(t.Context(), family(tok), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(tok); err != nil {
		t.Fatalf("verify(cached token, revocation not heard) = %v, want it cached", err)
	}
	// ...until the reconnection makes this replica forget what it cached.
	bs.missed <- struct{}{}
	refusedWithin("a revocation missed during a reconnection", tok)
}
