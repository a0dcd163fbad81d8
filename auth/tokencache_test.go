package auth

import (
	"crypto/sha256"
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
	c.put(sum("a"), entry("a", now.Add(time.Minute)))
	c.put(sum("b"), entry("b", now.Add(time.Minute)))
	if got := get(c, "a", now); got != "a" { // a is now the most recently used
		t.Errorf("get(a) = %s, want a", got)
	}
	c.put(sum("c"), entry("c", now.Add(time.Minute)))
	for tok, want := range map[string]string{"a": "a", "b": "miss", "c": "c", "d": "miss"} {
		if got := get(c, tok, now); got != want {
			t.Errorf("get(%s) after eviction = %s, want %s", tok, got, want)
		}
	}
	if c.len() != 2 {
		t.Errorf("len() = %d, want 2", c.len())
	}

	// Never returned at or past exp; the expired entry is dropped.
	if got := get(c, "a", now.Add(time.Minute-time.Nanosecond)); got != "a" {
		t.Errorf("get(a) just before exp = %s, want a", got)
	}
	if got := get(c, "a", now.Add(time.Minute)); got != "miss" {
		t.Errorf("get(a) at exp = %s, want miss", got)
	}
	if c.len() != 1 {
		t.Errorf("len() after expiry = %d, want 1", c.len())
	}

	// A token whose key left the key set is dropped.
	delete(present, "k1")
	if got := get(c, "c", now); got != "miss" || c.len() != 0 {
		t.Errorf("get(c) after its key was removed = %s (len %d), want miss (len 0)", got, c.len())
	}

	// The caller owns what get returns.
	present["k1"] = true
	c.put(sum("e"), entry("e", now.Add(time.Minute)))
	p, _ := c.get(sum("e"), now, keyPresent)
	p.Scopes[0] = "changed"
	if p, _ := c.get(sum("e"), now, keyPresent); !reflect.DeepEqual(p.Scopes, []string{"s"}) {
		t.Errorf("cached scopes = %q after the caller changed its copy, want [s]", p.Scopes)
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
	want := first.clone()
	first.Groups[0] = "changed by the caller" // must not reach the cache

	iss.SetDown(true) // the issuer is gone: only the cache can answer
	for range 100 {
		got, err := v.Authenticate(bearer(tok))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Authenticate(cached token) = %+v, %v; want %+v", got, err, want)
		}
		got.Groups[0] = "changed by the caller"
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
