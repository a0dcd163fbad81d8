package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// refreshCounter is a JWTConfig.OnRefresh hook that counts successes and failures.
type refreshCounter struct{ ok, failed atomic.Int64 }

func (c *refreshCounter) hook(issuer string, err error) {
	if err != nil {
		c.failed.Add(1)
	} else {
		c.ok.Add(1)
	}
}

// checkInvalid fails unless err wraps ErrInvalidCredential.
func checkInvalid(tb testing.TB, what string, err error) {
	tb.Helper()
	if !errors.Is(err, ErrInvalidCredential) {
		tb.Errorf("%s = %v, want an error wrapping ErrInvalidCredential", what, err)
	}
}

func TestRefetchCooldown(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	var refreshes refreshCounter
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now, OnRefresh: refreshes.hook})
	if got := iss.JWKSFetches(); got != 1 {
		t.Fatalf("JWKSFetches() after start = %d, want 1", got)
	}
	unknown := make([]string, 1000)
	for i := range unknown {
		unknown[i] = iss.Token(t, claims(nil), authtest.WithAlg("ES256"), authtest.WithKeyID(fmt.Sprintf("unknown-%d", i)))
	}
	verifyAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, tok := range unknown {
			wg.Go(func() {
				_, err := v.Verify(t.Context(), tok)
				checkInvalid(t, "Verify(unknown kid)", err)
			})
		}
		wg.Wait()
	}

	// Within the cooldown after the initial load: no fetch at all.
	verifyAll()
	if got := iss.JWKSFetches(); got != 1 {
		t.Errorf("JWKSFetches() after 1,000 unknown kids right after start = %d, want 1", got)
	}
	// Past the cooldown: 1,000 concurrent misses share one fetch, and so do the next
	// 1,000 within the new window.
	clock.Advance(31 * time.Second)
	verifyAll()
	verifyAll()
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches() after 2,000 unknown kids in one window = %d, want 2", got)
	}
	clock.Advance(29 * time.Second)
	verifyAll()
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches() 29s later = %d, want 2", got)
	}
	clock.Advance(2 * time.Second)
	verifyAll()
	if got := iss.JWKSFetches(); got != 3 {
		t.Errorf("JWKSFetches() past the next window = %d, want 3", got)
	}
	if ok, failed := refreshes.ok.Load(), refreshes.failed.Load(); ok != 3 || failed != 0 {
		t.Errorf("OnRefresh calls = %d ok, %d failed; want 3, 0", ok, failed)
	}
	// Known keys still verify without a fetch; and a bad signature under a known kid,
	// even past the cooldown, is not a reason to fetch: the key would not change.
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
		t.Errorf("Verify(valid token) = %v", err)
	}
	clock.Advance(31 * time.Second)
	_, err := v.Verify(t.Context(), iss.Token(t, claims(nil), authtest.WithUnpublishedKey()))
	checkInvalid(t, "Verify(forged signature under a known kid)", err)
	if got := iss.JWKSFetches(); got != 3 {
		t.Errorf("JWKSFetches() after a valid and a forged token = %d, want 3", got)
	}
}

func TestKeyRotation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now})
	cachedOld := iss.Token(t, claims(map[string]any{"sub": "cached"}))
	uncachedOld := iss.Token(t, claims(map[string]any{"sub": "uncached"}), authtest.WithAlg("ES256"))
	if _, err := v.Verify(t.Context(), cachedOld); err != nil {
		t.Fatalf("Verify(old-key token) before rotation = %v", err)
	}
	if n := v.cache.Len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}

	iss.Rotate()
	newTok := iss.Token(t, claims(nil))
	// Within the cooldown of the initial load the new kid is unknown and not fetched.
	_, err := v.Verify(t.Context(), newTok)
	checkInvalid(t, "Verify(new-key token) within the cooldown", err)
	if got := iss.JWKSFetches(); got != 1 {
		t.Errorf("JWKSFetches() = %d, want 1", got)
	}
	clock.Advance(31 * time.Second)
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Errorf("Verify(new-key token) after the cooldown = %v, want nil", err)
	}
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches() after rotation = %d, want 2 (one refetch)", got)
	}
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil), authtest.WithAlg("ES256"))); err != nil {
		t.Errorf("Verify(new EC key token) = %v, want nil", err)
	}

	// The old keys are gone: the cached token is dropped, and neither old token verifies.
	_, err = v.Verify(t.Context(), cachedOld)
	checkInvalid(t, "Verify(cached old-key token)", err)
	_, err = v.Verify(t.Context(), uncachedOld)
	checkInvalid(t, "Verify(uncached old-key token)", err)
	if n := v.cache.Len(); n != 2 {
		t.Errorf("cache holds %d tokens, want 2 (the new ones; the old one dropped)", n)
	}
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches() after old tokens = %d, want 2 (cooldown)", got)
	}
}

func TestIssuerOutage(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	var refreshes refreshCounter
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, Now: clock.Now, OnRefresh: refreshes.hook})
	iss.SetDown(true)

	// New tokens signed with known keys keep verifying: no fetch is needed.
	for _, alg := range []string{"RS256", "ES256"} {
		if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil), authtest.WithAlg(alg))); err != nil {
			t.Errorf("Verify(%s token) during the outage = %v, want nil", alg, err)
		}
	}
	// A refetch during the outage fails and keeps the keys.
	clock.Advance(31 * time.Second)
	_, err := v.Verify(t.Context(), iss.Token(t, claims(nil), authtest.WithKeyID("unknown")))
	checkInvalid(t, "Verify(unknown kid) during the outage", err)
	if got := refreshes.failed.Load(); got != 1 {
		t.Errorf("OnRefresh failures = %d, want 1", got)
	}
	st := v.Status()
	if len(st) != 1 || !st[0].Loaded || st[0].Keys != 2 || !strings.Contains(st[0].LastError, "503") || st[0].LastRefresh.IsZero() {
		t.Errorf("Status() during the outage = %+v, want loaded, 2 keys, a 503 error", st)
	}
	if err := v.Ready(); err != nil {
		t.Errorf("Ready() during the outage = %v, want nil: the cached keys still work", err)
	}
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(map[string]any{"sub": "bob"}))); err != nil {
		t.Errorf("Verify(known-key token) after the failed refetch = %v, want nil", err)
	}

	// The issuer comes back with new keys: the next refetch recovers.
	iss.Rotate()
	iss.SetDown(false)
	newTok := iss.Token(t, claims(nil))
	_, err = v.Verify(t.Context(), newTok)
	checkInvalid(t, "Verify(new key) within the cooldown", err)
	clock.Advance(31 * time.Second)
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Errorf("Verify(new key) after recovery = %v, want nil", err)
	}
	if st := v.Status(); st[0].LastError != "" || !st[0].Loaded {
		t.Errorf("Status() after recovery = %+v, want loaded without error", st)
	}
}

func TestReady(t *testing.T) {
	iss, opt := authtest.NewIssuer(t), authtest.NewIssuer(t)
	iss.SetDown(true)
	opt.SetDown(true)
	optional := issuerConfig(opt)
	optional.Optional = true
	v, err := NewJWTVerifier(t.Context(), JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss), optional}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Ready(); err == nil || !strings.Contains(err.Error(), iss.URL()) || strings.Contains(err.Error(), opt.URL()) {
		t.Errorf("Ready() while down = %v, want an error naming %s and not the optional issuer", err, iss.URL())
	}
	_, err = v.Verify(t.Context(), iss.Token(t, claims(nil)))
	checkInvalid(t, "Verify() before the keys are loaded", err)

	waitFor(t, "a failed discovery", func() bool { return v.Status()[0].LastError != "" })
	if err := v.Ready(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Ready() after a failed discovery = %v, want an error with the status", err)
	}
	iss.SetDown(false)
	waitFor(t, "Ready() = nil after the issuer is back", func() bool { return v.Ready() == nil }) // the first retry is 1s later
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
		t.Errorf("Verify() when ready = %v, want nil", err)
	}
	st := v.Status()
	if st[1].Loaded || !st[1].Optional || st[1].LastError == "" {
		t.Errorf("Status() of the optional issuer = %+v, want not loaded, optional, with an error", st[1])
	}
	if iss.DiscoveryFetches() < 2 {
		t.Errorf("DiscoveryFetches() = %d, want at least 2 (a retry)", iss.DiscoveryFetches())
	}
}

func TestDiscovery(t *testing.T) {
	t.Run("issuer mismatch", func(t *testing.T) {
		iss := authtest.NewIssuer(t)
		iss.SetDiscoveryIssuer("https://evil.example.com")
		v, err := NewJWTVerifier(t.Context(), JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a failed discovery", func() bool { return v.Status()[0].LastError != "" })
		if st := v.Status()[0]; st.Loaded || !strings.Contains(st.LastError, "discovery") || iss.JWKSFetches() != 0 {
			t.Errorf("Status() = %+v, JWKSFetches() = %d; want not loaded, a discovery error, no JWKS fetch", st, iss.JWKSFetches())
		}
	})
	t.Run("explicit jwks_uri", func(t *testing.T) {
		iss := authtest.NewIssuer(t)
		ic := issuerConfig(iss)
		ic.JWKSURI = iss.JWKSURL()
		v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{ic}})
		if iss.DiscoveryFetches() != 0 {
			t.Errorf("DiscoveryFetches() = %d, want 0", iss.DiscoveryFetches())
		}
		if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
			t.Errorf("Verify() = %v", err)
		}
	})
	t.Run("algorithm allowlist drops keys", func(t *testing.T) {
		iss := authtest.NewIssuer(t)
		ic := issuerConfig(iss)
		ic.Algorithms = []string{"ES256"}
		v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{ic}})
		if st := v.Status()[0]; st.Keys != 1 {
			t.Errorf("Status().Keys = %d, want 1 (the RS256 key is not allowed)", st.Keys)
		}
		_, err := v.Verify(t.Context(), iss.Token(t, claims(nil)))
		checkInvalid(t, "Verify(RS256 token)", err)
		if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil), authtest.WithAlg("ES256"))); err != nil {
			t.Errorf("Verify(ES256 token) = %v", err)
		}
	})
}

func TestParseKeySet(t *testing.T) {
	rsa2048, rsa1024 := mustGenerateRSA(t, 2048), mustGenerateRSA(t, 1024)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(k jose.JSONWebKey) json.RawMessage {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set := func(keys ...json.RawMessage) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return b
	}
	tests := []struct {
		name     string
		body     []byte
		wantKIDs []string // nil: an error
	}{
		{"usable keys", set(
			jwk(jose.JSONWebKey{Key: rsa2048.Public(), KeyID: "rsa", Algorithm: "RS256", Use: "sig"}),
			jwk(jose.JSONWebKey{Key: p256.Public(), KeyID: "ec"}),
			jwk(jose.JSONWebKey{Key: edPub, KeyID: "ed", Algorithm: "EdDSA"}),
		), []string{"rsa", "ec", "ed"}},
		{"unusable keys skipped", set(
			jwk(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"}),
			jwk(jose.JSONWebKey{Key: rsa2048, KeyID: "private-rsa"}),
			jwk(jose.JSONWebKey{Key: edPriv, KeyID: "private-ed"}),
			jwk(jose.JSONWebKey{Key: rsa2048.Public(), KeyID: "enc", Use: "enc"}),
			jwk(jose.JSONWebKey{Key: rsa1024.Public(), KeyID: "short-rsa"}),
			jwk(jose.JSONWebKey{Key: rsa2048.Public(), KeyID: "rsa-oaep", Algorithm: "RSA-OAEP"}),
			json.RawMessage(`{"kty":"OKP","crv":"Ed448","x":"AAAA","kid":"ed448"}`),
			json.RawMessage(`{"kty":"EC","crv":"secp256k1","kid":"k1","alg":"ES256K"}`),
			json.RawMessage(`{"kty":"RSA","kid":"broken"}`),
			json.RawMessage(`"not an object"`),
			jwk(jose.JSONWebKey{Key: p256.Public(), KeyID: "ec"}),
			jwk(jose.JSONWebKey{Key: p256.Public(), KeyID: "ec-again"}), // same key: one entry
		), []string{"ec"}},
		{"no usable key", set(jwk(jose.JSONWebKey{Key: rsa1024.Public(), KeyID: "short-rsa"})), nil},
		{"empty set", []byte(`{"keys":[]}`), nil},
		{"not JSON", []byte(`<html>`), nil},
	}
	is, err := compileIssuer(0, IssuerConfig{Issuer: "https://idp.example.com", Audiences: []string{testAudience}})
	if err != nil {
		t.Fatal(err)
	}
	is.v = &JWTVerifier{now: time.Now}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := is.parseKeySet(tt.body)
			var got []string
			if err == nil {
				for _, k := range ks.keys {
					got = append(got, k.kid)
				}
			}
			if !reflect.DeepEqual(got, tt.wantKIDs) {
				t.Errorf("parseKeySet() = kids %q, error %v; want kids %q", got, err, tt.wantKIDs)
			}
		})
	}
}

func mustGenerateRSA(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestPeriodicRefresh(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, RefreshInterval: 20 * time.Millisecond})
	old := iss.Token(t, claims(nil))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	// The issuer rotates; no token with a new kid arrives, yet the refresh drops the
	// old key, and with it the cached token.
	iss.Rotate()
	waitFor(t, "the rotated keys", func() bool {
		_, err := v.Verify(t.Context(), old)
		return err != nil
	})
	if n := v.cache.Len(); n != 0 {
		t.Errorf("cache holds %d tokens after the key was removed, want 0", n)
	}
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
		t.Errorf("Verify(new-key token) = %v", err)
	}
}

func TestFetchRedirects(t *testing.T) {
	iss := authtest.NewIssuer(t)
	mux := http.NewServeMux()
	mux.Handle("GET /same-origin", http.RedirectHandler("/jwks", http.StatusFound))
	mux.Handle("GET /other-origin", http.RedirectHandler(iss.JWKSURL(), http.StatusFound))
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(iss.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})
	proxy := httptest.NewServer(mux)
	t.Cleanup(proxy.Close)

	for _, tt := range []struct {
		path   string
		loaded bool
	}{{"/same-origin", true}, {"/other-origin", false}} {
		t.Run(tt.path, func(t *testing.T) {
			ic := issuerConfig(iss)
			ic.JWKSURI = proxy.URL + tt.path
			v, err := NewJWTVerifier(t.Context(), JWTConfig{Issuers: []IssuerConfig{ic}})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the first fetch", func() bool { st := v.Status()[0]; return st.Loaded || st.LastError != "" })
			st := v.Status()[0]
			if st.Loaded != tt.loaded || !tt.loaded && !strings.Contains(st.LastError, "redirect to another origin") {
				t.Errorf("Status() = %+v, want Loaded %v (or a refused redirect)", st, tt.loaded)
			}
		})
	}
}
