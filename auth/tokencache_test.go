package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

func TestTokenCacheLRU(t *testing.T) {
	now := time.Now()
	present := map[string]bool{"k1": true}
	keyPresent := func(issuer, keyID string) bool { return issuer == "https://idp" && present[keyID] }
	entry := func(sub string, exp time.Time) cachedToken {
		return cachedToken{p: Principal{Subject: sub, Scopes: []string{"s"}}, exp: exp, issuer: "https://idp", keyID: "k1"}
	}
	sum := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	get := func(c *tokenCache, tok string, at time.Time) string {
		p, ok := c.get(sum(tok), at, keyPresent)
		if !ok {
			return "miss"
		}
		return p.Subject
	}

	c := newTokenCache(2)
	c.Put(sum("a"), entry("a", now.Add(time.Minute)))
	c.Put(sum("b"), entry("b", now.Add(time.Minute)))
	if got := get(c, "a", now); got != "a" { // a is now the most recently used
		t.Errorf("get(a) = %s, want a", got)
	}
	c.Put(sum("c"), entry("c", now.Add(time.Minute)))
	for tok, want := range map[string]string{"a": "a", "b": "miss", "c": "c", "d": "miss"} {
		if got := get(c, tok, now); got != want {
			t.Errorf("get(%s) after eviction = %s, want %s", tok, got, want)
		}
	}
	if c.Len() != 2 {
		t.Errorf("len() = %d, want 2", c.Len())
	}

	// Never returned at or past exp; the expired entry is dropped.
	if got := get(c, "a", now.Add(time.Minute-time.Nanosecond)); got != "a" {
		t.Errorf("get(a) just before exp = %s, want a", got)
	}
	if got := get(c, "a", now.Add(time.Minute)); got != "miss" {
		t.Errorf("get(a) at exp = %s, want miss", got)
	}
	if c.Len() != 1 {
		t.Errorf("len() after expiry = %d, want 1", c.Len())
	}

	// A token whose key left the key set is dropped.
	delete(present, "k1")
	if got := get(c, "c", now); got != "miss" || c.Len() != 0 {
		t.Errorf("get(c) after its key was removed = %s (len %d), want miss (len 0)", got, c.Len())
	}

	// What put stored comes back prepared and shared, not copied.
	present["k1"] = true
	e := entry("e", now.Add(time.Minute))
	e.p.Prepare()
	c.Put(sum("e"), e)
	p1, _ := c.get(sum("e"), now, keyPresent)
	p2, _ := c.get(sum("e"), now, keyPresent)
	if &p1.Scopes[0] != &p2.Scopes[0] || p1.HeaderValues() != p2.HeaderValues() {
		t.Error("two gets of one token returned copies; want the shared, prepared principal")
	}
}

func TestVerifyCachedDoesNoCrypto(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now})
	tok := iss.Token(t, claims(map[string]any{"scope": "mcp:read", "groups": []string{"staff"}}))
	first, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if n := v.sigChecks.Load(); n != 1 {
		t.Fatalf("signature checks after the first Verify = %d, want 1", n)
	}
	want := first

	iss.SetDown(true) // the issuer is gone: only the cache can answer
	for range 100 {
		got, err := v.Authenticate(bearer(tok))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Authenticate(cached token) = %+v, %v; want %+v", got, err, want)
		}
	}
	if n := v.sigChecks.Load(); n != 1 {
		t.Errorf("signature checks after 100 cached verifications = %d, want 1", n)
	}

	// The entry dies at exp (5 minutes); within the 60s skew the token still verifies in
	// full, each time, and is not cached again.
	clock.Advance(5*time.Minute + 10*time.Second)
	for range 2 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("Verify() within the skew after exp = %v, want nil", err)
		}
	}
	if n := v.sigChecks.Load(); n != 3 {
		t.Errorf("signature checks after exp = %d, want 3", n)
	}
	clock.Advance(time.Minute)
	_, err = v.Verify(t.Context(), tok)
	checkInvalid(t, "Verify() after exp and skew", err)
}

func TestVerifyCacheDisabled(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, CacheSize: -1})
	tok := iss.Token(t, claims(nil))
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify() = %v", err)
		}
	}
	if n := v.sigChecks.Load(); n != 3 {
		t.Errorf("signature checks with the cache disabled = %d, want 3", n)
	}
}

func TestRejectCache(t *testing.T) {
	now := time.Now()
	sum := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	is := &issuer{}
	ks := &keySet{}
	is.keys.Store(ks)
	c := newRejectCache(2, 30*time.Second)
	c.put(sum("ttl"), rejection{err: errJWTHeader}, now)
	c.put(sum("early"), rejection{err: errJWTHeader, until: now.Add(10 * time.Second)}, now)
	c.put(sum("late"), rejection{err: errJWTHeader, until: now.Add(time.Hour)}, now)      // evicts "ttl"
	c.put(sum("passed"), rejection{err: errJWTHeader, until: now.Add(-time.Second)}, now) // not cached
	tests := []struct {
		name string
		tok  string
		at   time.Time
		want bool
	}{
		{"evicted", "ttl", now, false},
		{"before until", "early", now.Add(10*time.Second - 1), true},
		{"at until", "early", now.Add(10 * time.Second), false},
		{"until past the TTL: the TTL wins", "late", now.Add(30 * time.Second), false},
		{"until already passed", "passed", now, false},
	}
	for _, tt := range tests {
		if _, got := c.get(sum(tt.tok), tt.at); got != tt.want {
			t.Errorf("%s: get(%s) hit = %v, want %v", tt.name, tt.tok, got, tt.want)
		}
	}

	// A rejection found with an issuer's keys ends when they change.
	c.put(sum("keys"), rejection{err: errJWTHeader, is: is, keys: ks}, now)
	if err, ok := c.get(sum("keys"), now); !ok || err != errJWTHeader {
		t.Errorf("get(keys) = %v, %v; want %v, true", err, ok, errJWTHeader)
	}
	is.keys.Store(&keySet{})
	if _, ok := c.get(sum("keys"), now); ok || c.Len() != 0 {
		t.Errorf("get(keys) after the keys changed hit = %v (len %d), want a miss (len 0)", ok, c.Len())
	}
}

// counts are a verifier's decodes, signature checks and the issuer's JWKS fetches.
type counts struct{ decodes, sigChecks, fetches int64 }

func countsOf(v *JWTVerifier, iss *authtest.Issuer) counts {
	return counts{v.decodes.Load(), v.sigChecks.Load(), int64(iss.JWKSFetches())}
}

func TestVerifyRejectedCached(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now})
	tests := []struct {
		name  string
		token string
	}{
		{"expired", iss.Token(t, claims(map[string]any{"exp": clock.Now().Add(-time.Hour)}))},
		{"wrong audience", iss.Token(t, claims(map[string]any{"aud": otherAudience}))},
		{"no sub", iss.Token(t, claims(map[string]any{"sub": nil}))},
		{"unknown issuer", iss.Token(t, claims(map[string]any{"iss": "https://evil.example.com"}))},
		{"forged signature", iss.Token(t, claims(nil), authtest.WithUnpublishedKey())},
		{"forged signature without kid", iss.Token(t, claims(nil), authtest.WithUnpublishedKey(), authtest.WithKeyID(""))},
		{"unknown kid", iss.Token(t, claims(nil), authtest.WithKeyID("no-such-key"))},
		{"garbage", "abc.def.ghi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, first := v.Verify(t.Context(), tt.token)
			checkInvalid(t, "Verify()", first)
			before := countsOf(v, iss)
			for range 100 {
				_, err := v.Verify(t.Context(), tt.token)
				if err != first {
					t.Fatalf("Verify() again = %v, want the first error %v", err, first)
				}
				if _, err := v.Authenticate(bearer(tt.token)); err != first {
					t.Fatalf("Authenticate() = %v, want the first error %v", err, first)
				}
			}
			if after := countsOf(v, iss); after != before {
				t.Errorf("200 repeats of a rejected token: counts %+v, want %+v (no decode, no signature check, no fetch)", after, before)
			}
		})
	}
	if n := v.rejects.Len(); n != len(tests) {
		t.Errorf("rejects.len() = %d, want %d", n, len(tests))
	}

	// The default TTL is 30s; a rejection that the token's claims make permanent is
	// then found again in full, and cached again.
	tok := tests[0].token
	clock.Advance(30 * time.Second)
	before := countsOf(v, iss)
	for range 2 {
		_, err := v.Verify(t.Context(), tok)
		checkInvalid(t, "Verify(expired) after the TTL", err)
	}
	if got := countsOf(v, iss).decodes - before.decodes; got != 1 {
		t.Errorf("decodes of an expired token twice after the TTL = %d, want 1", got)
	}
}

func TestNegativeCacheTTL(t *testing.T) {
	iss := authtest.NewIssuer(t)
	tok := iss.Token(t, claims(map[string]any{"aud": otherAudience}))
	tests := []struct {
		name    string
		ttl     time.Duration
		advance time.Duration
		decodes int64 // of 3 Verify calls, the clock advanced before the third
	}{
		{"default, within it", 0, 29 * time.Second, 1},
		{"default, past it", 0, 30 * time.Second, 2},
		{"5s, past it", 5 * time.Second, 5 * time.Second, 2},
		{"disabled", -1, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now, NegativeCacheTTL: tt.ttl})
			for i := range 3 {
				if i == 2 {
					clock.Advance(tt.advance)
				}
				_, err := v.Verify(t.Context(), tok)
				checkInvalid(t, "Verify(wrong audience)", err)
			}
			if got := v.decodes.Load(); got != tt.decodes {
				t.Errorf("decodes = %d, want %d", got, tt.decodes)
			}
		})
	}
}

func TestRejectedNotYetValid(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now})
	start := clock.Now()
	// With the default 60s skew, each becomes valid 20s from now: before the 30s TTL.
	validAt := start.Truncate(time.Second).Add(20 * time.Second)
	tests := []struct {
		name   string
		claims map[string]any
		reason error
	}{
		{"nbf", map[string]any{"nbf": validAt.Add(defaultClockSkew)}, errJWTNotYetValid},
		{"iat", map[string]any{"iat": validAt.Add(defaultClockSkew)}, errJWTIssuedLater},
	}
	toks := make([]string, len(tests))
	for i, tt := range tests {
		toks[i] = iss.Token(t, claims(tt.claims))
		if _, err := v.Verify(t.Context(), toks[i]); !errors.Is(err, tt.reason) || !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("Verify(%s in the future) = %v, want %v", tt.name, err, tt.reason)
		}
	}
	decodes := v.decodes.Load()
	clock.Advance(validAt.Sub(start) - time.Nanosecond)
	for i, tt := range tests {
		if _, err := v.Verify(t.Context(), toks[i]); !errors.Is(err, tt.reason) {
			t.Errorf("Verify(%s) just before it is valid = %v, want %v", tt.name, err, tt.reason)
		}
	}
	if n := v.decodes.Load() - decodes; n != 0 {
		t.Errorf("decodes just before the tokens are valid = %d, want 0 (cached)", n)
	}
	clock.Advance(time.Nanosecond)
	for i, tt := range tests {
		if _, err := v.Verify(t.Context(), toks[i]); err != nil {
			t.Errorf("Verify(%s) when the skew allows it = %v, want nil", tt.name, err)
		}
	}
}

func TestRejectedUnknownKidAfterRotation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	start := clock.Now() // the initial fetch: the cooldown runs from here
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now})
	iss.Rotate()
	tok := iss.Token(t, claims(nil))
	// Rejected 10s after the initial fetch: the TTL would keep the entry until 40s.
	clock.Advance(10 * time.Second)
	_, err := v.Verify(t.Context(), tok)
	checkInvalid(t, "Verify(new kid) within the cooldown", err)
	before := countsOf(v, iss)
	clock.Advance(defaultRefetchCooldown - 10*time.Second - time.Nanosecond)
	for range 10 {
		_, err := v.Verify(t.Context(), tok)
		checkInvalid(t, "Verify(new kid) just before the cooldown ends", err)
	}
	if after := countsOf(v, iss); after != before {
		t.Errorf("counts within the cooldown = %+v, want %+v (cached: no decode, no fetch)", after, before)
	}
	// The entry ends when the cooldown allows a refetch (30s after the initial fetch),
	// not when the TTL counted from the rejection does.
	clock.Advance(time.Nanosecond)
	if got := clock.Now().Sub(start); got != defaultRefetchCooldown {
		t.Fatalf("clock moved %v, want %v", got, defaultRefetchCooldown)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify(new kid) once the cooldown allows a refetch = %v, want nil", err)
	}
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches() = %d, want 2", got)
	}
}

func TestRejectedEndsWhenKeysChange(t *testing.T) {
	t.Run("bad signature", func(t *testing.T) {
		iss := authtest.NewIssuer(t)
		clock := newFakeClock()
		v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now, NegativeCacheTTL: time.Hour})
		forged := iss.Token(t, claims(nil), authtest.WithUnpublishedKey())
		for range 2 {
			_, err := v.Verify(t.Context(), forged)
			checkInvalid(t, "Verify(forged)", err)
		}
		if n := v.sigChecks.Load(); n != 1 {
			t.Fatalf("signature checks = %d, want 1", n)
		}
		// Another token makes the verifier fetch new keys: the forged one is judged again.
		iss.Rotate()
		clock.Advance(defaultRefetchCooldown)
		if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
			t.Fatalf("Verify(new kid) = %v", err)
		}
		decodes := v.decodes.Load()
		_, err := v.Verify(t.Context(), forged)
		checkInvalid(t, "Verify(forged) after the keys changed", err)
		if n := v.decodes.Load() - decodes; n != 1 {
			t.Errorf("decodes of the forged token after the keys changed = %d, want 1", n)
		}
	})
	t.Run("keys not loaded yet", func(t *testing.T) {
		iss := authtest.NewIssuer(t)
		iss.SetDown(true)
		clock := newFakeClock()
		v, err := NewJWTVerifier(t.Context(), JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now, NegativeCacheTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a failed first fetch", func() bool { return v.Status()[0].LastError != "" })
		tok := iss.Token(t, claims(nil))
		for range 2 {
			_, err := v.Verify(t.Context(), tok)
			checkInvalid(t, "Verify() before the keys are loaded", err)
		}
		if n := v.decodes.Load(); n != 1 {
			t.Fatalf("decodes = %d, want 1 (cached)", n)
		}
		// The clock stands still: only the keys' arrival can end the entry.
		iss.SetDown(false)
		waitFor(t, "Ready() = nil", func() bool { return v.Ready() == nil })
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("Verify() once the keys are loaded = %v, want nil", err)
		}
	})
}

func TestRejectedNotCachedWhenContextDone(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := v.Verify(ctx, iss.Token(t, claims(nil), authtest.WithUnpublishedKey()))
	checkInvalid(t, "Verify(forged) with a done context", err)
	if n := v.rejects.Len(); n != 0 {
		t.Errorf("rejects.len() = %d, want 0", n)
	}
}

func TestRejectCacheBound(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}})
	garbage := func(i int) string { return fmt.Sprintf("abc.def.%d", i) }
	const n = rejectCacheSize + 100
	for i := range n {
		_, err := v.Verify(t.Context(), garbage(i))
		checkInvalid(t, "Verify(garbage)", err)
	}
	if got := v.rejects.Len(); got != rejectCacheSize {
		t.Errorf("rejects.len() after %d different bad tokens = %d, want %d", n, got, rejectCacheSize)
	}
	// The least recently used went first.
	for _, tt := range []struct {
		i       int
		decodes int64
	}{{n - 1, 0}, {100, 0}, {99, 1}, {0, 1}} {
		decodes := v.decodes.Load()
		v.Verify(t.Context(), garbage(tt.i))
		if got := v.decodes.Load() - decodes; got != tt.decodes {
			t.Errorf("decodes of bad token %d = %d, want %d", tt.i, got, tt.decodes)
		}
	}
}
