package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// testAssertionSingleUse: an assertion ID is accepted once per issuer; the same jti
// from another issuer is another assertion; IDs without an issuer or a jti are refused.
func testAssertionSingleUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := now().Add(5 * time.Minute)
	wantErr(t, "UseAssertionID(a, j1)", s.UseAssertionID(ctx, "a", "j1", exp), nil)
	wantErr(t, "UseAssertionID(a, j1) again", s.UseAssertionID(ctx, "a", "j1", exp), store.ErrReplayed)
	wantErr(t, "UseAssertionID(b, j1)", s.UseAssertionID(ctx, "b", "j1", exp), nil)
	wantErr(t, "UseAssertionID(a, j2)", s.UseAssertionID(ctx, "a", "j2", exp), nil)
	// The key joins issuer and jti; these two must not collide.
	wantErr(t, "UseAssertionID(a:b, c)", s.UseAssertionID(ctx, "a:b", "c", exp), nil)
	wantErr(t, "UseAssertionID(a, b:c)", s.UseAssertionID(ctx, "a", "b:c", exp), nil)
	if err := s.UseAssertionID(ctx, "", "j3", exp); err == nil {
		t.Fatal("UseAssertionID(\"\", j3) = nil, want an error")
	}
	if err := s.UseAssertionID(ctx, "a", "", exp); err == nil {
		t.Fatal("UseAssertionID(a, \"\") = nil, want an error")
	}
}

// testAssertionGC: once an assertion's expiry passed, GC forgets it and its ID is
// free again (an expired assertion is refused before the store is asked anyway).
func testAssertionGC(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := now().Add(time.Second)
	wantErr(t, "UseAssertionID(a, short)", s.UseAssertionID(ctx, "a", "short", exp), nil)
	wantErr(t, "UseAssertionID(a, long)", s.UseAssertionID(ctx, "a", "long", now().Add(time.Hour)), nil)
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	if _, err := s.GC(ctx, now()); err != nil {
		t.Fatalf("GC() = %v", err)
	}
	wantErr(t, "UseAssertionID(a, short) after GC", s.UseAssertionID(ctx, "a", "short", now().Add(time.Minute)), nil)
	wantErr(t, "UseAssertionID(a, long) after GC", s.UseAssertionID(ctx, "a", "long", now().Add(time.Hour)), store.ErrReplayed)
}

// testReplicaAssertionRace: one jti presented on both replicas at once has exactly one
// winner; every other call sees ErrReplayed.
func testReplicaAssertionRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	for round := range 5 {
		jti := fmt.Sprint("jti-", round)
		errs := race(func(i int) error {
			return s[i%2].UseAssertionID(ctx, "client-1", jti, now().Add(time.Minute))
		})
		wantEqual(t, "successes, ErrReplayed of UseAssertionID("+jti+") on two replicas", tally(t, errs, store.ErrReplayed), []int{1, racers - 1})
	}
}
