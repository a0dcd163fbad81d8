package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	ownIssuer   = "https://auth.example.com"
	ownResource = "https://mcp.example.com/mcp"
	ownKID      = "key-1"
)

// ownKeys is a KeySource: the keys "held" (what PublicKeys returns) and the keys
// "stored" (what a reload finds), with a count of reloads.
type ownKeys struct {
	mu      sync.Mutex
	held    *jose.JSONWebKeySet
	stored  jose.JSONWebKeySet
	fail    bool
	reloads atomic.Int64
}

func (k *ownKeys) PublicKeys() *jose.JSONWebKeySet {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.held
}

func (k *ownKeys) ReloadPublicKeys(context.Context) (*jose.JSONWebKeySet, error) {
	k.reloads.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail {
		return nil, errors.New("store down")
	}
	set := &jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), k.stored.Keys...)}
	k.held = set
	return set, nil
}

// store adds a public key where a reload finds it, as another replica does.
func (k *ownKeys) store(kid string, pub any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stored.Keys = append(k.stored.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: "ES256", Use: "sig"})
}

// ownRevocations is a RevocationChecker with a count of the calls and an optional
// failure.
type ownRevocations struct {
	mu                sync.Mutex
	jtis, families    map[string]bool
	subjects, clients map[string]time.Time
	fail              error
	calls             atomic.Int64
}

func (r *ownRevocations) Revoked(_ context.Context, jti, family, subject, client string, iat time.Time) (bool, error) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	covered := func(at time.Time, ok bool) bool { return ok && !iat.After(at) }
	sub, subOK := r.subjects[subject]
	cl, clOK := r.clients[client]
	return r.jtis[jti] || r.families[family] || covered(sub, subOK) || covered(cl, clOK), r.fail
}

// ownDenylist is a Denylist.
type ownDenylist struct {
	mu                sync.RWMutex
	jtis, families    map[string]bool
	subjects, clients map[string]time.Time
}

func (d *ownDenylist) Denied(jti, family, subject, client string, issued, _ time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	at, ok := d.subjects[subject]
	cat, cok := d.clients[client]
	return d.jtis[jti] || d.families[family] || (ok && !issued.After(at)) || (cok && !issued.After(cat))
}

func (d *ownDenylist) deny(jti, family string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if jti != "" {
		d.jtis[jti] = true
	}
	if family != "" {
		d.families[family] = true
	}
}

// ownEnv is an OwnTokens over one ES256 key, with its collaborators.
type ownEnv struct {
	v     *OwnTokens
	key   *ecdsa.PrivateKey
	keys  *ownKeys
	revs  *ownRevocations
	deny  *ownDenylist
	clock *fakeOwnClock
}

// fakeOwnClock is an injectable clock, moved only when told.
type fakeOwnClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeOwnClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeOwnClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newOwnEnv(tb testing.TB) *ownEnv {
	tb.Helper()
	key := ownGenerateKey(tb)
	e := &ownEnv{
		key:   key,
		keys:  &ownKeys{},
		revs:  &ownRevocations{jtis: map[string]bool{}, families: map[string]bool{}, subjects: map[string]time.Time{}, clients: map[string]time.Time{}},
		deny:  &ownDenylist{jtis: map[string]bool{}, families: map[string]bool{}, subjects: map[string]time.Time{}, clients: map[string]time.Time{}},
		clock: &fakeOwnClock{t: time.Now().Truncate(time.Second)},
	}
	e.keys.store(ownKID, key.Public())
	e.keys.held = &jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), e.keys.stored.Keys...)}
	v, err := NewOwnTokens(tb.Context(), OwnTokensConfig{
		Issuer:      ownIssuer,
		Resources:   []string{ownResource, "https://other.example.com/mcp"},
		Keys:        e.keys,
		Revocations: e.revs,
		Denylist:    e.deny,
		Now:         e.clock.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.v = v
	return e
}

func ownGenerateKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// header and claims of a valid token of ownEnv.
func ownHeader() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ownKID}
}

func (e *ownEnv) claims() map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": ownIssuer, "sub": "alice@example.com", "aud": ownResource, "scope": "mcp:read mcp:write",
		"client_id": "https://client.example.com/metadata.json", "email": "alice@example.com", "email_verified": true,
		"name": "Alice", "groups": []string{"eng"}, "jti": "j1", "fam": "f1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// ownWith returns m with the pairs of kv set, or deleted for a nil value.
func ownWith(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func ownBearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestOwnTokensPrincipal: the claims become the principal, prepared.
func TestOwnTokensPrincipal(t *testing.T) {
	e := newOwnEnv(t)
	p, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))})
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{
		Subject: "alice@example.com", Email: "alice@example.com", EmailVerified: true, Name: "Alice",
		Groups: []string{"eng"}, Scopes: []string{"mcp:read", "mcp:write"}, Source: SourceOAuth,
		ClientID: "https://client.example.com/metadata.json", Issuer: ownIssuer, Audiences: []string{ownResource},
	}
	if got := unprepared(p); !reflect.DeepEqual(got, want) {
		t.Errorf("Authenticate = %+v, want %+v", got, want)
	}
	if p.headers == nil {
		t.Error("Authenticate returned a principal that is not prepared")
	}
	// email_verified absent or false: the email is not verified.
	for i, ev := range []any{nil, false} {
		c := ownWith(e.claims(), "email_verified", ev, "jti", "ev"+string(rune('0'+i)))
		p, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), c))})
		if err != nil || p.EmailVerified {
			t.Errorf("email_verified %v: Authenticate = %+v, %v; want an unverified email", ev, p, err)
		}
	}
}

// TestOwnTokensCache: the revocation checker is asked about a token once; the keys are
// never reloaded for a known kid; the cache shares the principal it verified.
func TestOwnTokensCache(t *testing.T) {
	e := newOwnEnv(t)
	h := ownBearer(ownCompact(t, ownJOSE(t, jose.ES256, e.key, ownKID, e.claims())))
	first, err := e.v.Authenticate(&Request{Header: h})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		p, err := e.v.Authenticate(&Request{Header: h})
		if err != nil {
			t.Fatal(err)
		}
		if p.Scopes[0] != "mcp:read" || &p.Scopes[0] != &first.Scopes[0] || p.HeaderValues() != first.HeaderValues() {
			t.Fatalf("cached principal = %v, not the shared, prepared one", p.Scopes)
		}
	}
	if n := e.revs.calls.Load(); n != 1 {
		t.Errorf("revocation checks = %d for 6 verifications, want 1", n)
	}
	if n := e.keys.reloads.Load(); n != 0 {
		t.Errorf("verification reloaded the keys %d times", n)
	}
}

// TestOwnTokensExpiry: a token verifies until its exp, from the cache too, not after.
func TestOwnTokensExpiry(t *testing.T) {
	e := newOwnEnv(t)
	h := ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))
	if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10*time.Minute - time.Second)
	if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
		t.Fatalf("Authenticate 1 s before exp = %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.v.Authenticate(&Request{Header: h}); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("Authenticate at exp = %v, want invalid credential", err)
	}
}

// TestOwnTokensDenylist: a revocation this process made takes effect at once, for a
// cached token too.
func TestOwnTokensDenylist(t *testing.T) {
	for _, tt := range []struct{ name, jti, family string }{{"jti", "j1", ""}, {"family", "", "f1"}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newOwnEnv(t)
			h := ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))
			if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
				t.Fatal(err)
			}
			e.deny.deny(tt.jti, tt.family)
			if _, err := e.v.Authenticate(&Request{Header: h}); !errors.Is(err, ErrInvalidCredential) {
				t.Errorf("Authenticate of a cached token after its revocation = %v, want invalid credential", err)
			}
			// Uncached too: a fresh verifier on the same denylist.
			v, _ := NewOwnTokens(t.Context(), OwnTokensConfig{Issuer: ownIssuer, Resources: []string{ownResource},
				Keys: e.keys, Revocations: e.revs, Denylist: e.deny, Now: e.clock.Now})
			if _, err := v.Authenticate(&Request{Header: h}); !errors.Is(err, ErrInvalidCredential) {
				t.Errorf("Authenticate of a denied token = %v, want invalid credential", err)
			}
		})
	}
}

// TestOwnTokensRevoked: a token the revocation checker calls revoked, or whose family
// it calls revoked, is invalid.
func TestOwnTokensRevoked(t *testing.T) {
	for _, tt := range []struct{ name, jti, family string }{{"jti", "j1", ""}, {"family", "", "f1"}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newOwnEnv(t)
			e.revs.jtis[tt.jti], e.revs.families[tt.family] = tt.jti != "", tt.family != ""
			_, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))})
			if !errors.Is(err, ErrInvalidCredential) {
				t.Errorf("Authenticate of a revoked token = %v, want invalid credential", err)
			}
		})
	}
}

// TestOwnTokensSubjectRevoked: a person or a client revoked at or after a token's iat
// makes it invalid, in the store (first use) or on the denylist (cached); a token
// issued after the revocation, or another person's or client's, still verifies.
func TestOwnTokensSubjectRevoked(t *testing.T) {
	const client = "https://client.example.com/metadata.json"
	tests := []struct {
		name            string
		subject, client string
		at              time.Duration // the revocation, from the token's iat
		denied          bool
	}{
		{"revoked after iat", "alice@example.com", "", time.Minute, true},
		{"revoked in iat's second", "alice@example.com", "", 0, true},
		{"revoked before iat", "alice@example.com", "", -time.Second, false},
		{"another subject", "bob@example.com", "", time.Minute, false},
		{"client revoked after iat", "", client, time.Minute, true},
		{"client revoked before iat", "", client, -time.Second, false},
		{"another client", "", "other", time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, where := range []string{"store", "denylist"} {
				e := newOwnEnv(t)
				h := ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))
				at := e.clock.Now().Add(tt.at)
				subjects, clients := e.revs.subjects, e.revs.clients
				if where == "denylist" {
					if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
						t.Fatal(err)
					}
					subjects, clients = e.deny.subjects, e.deny.clients
				}
				e.deny.mu.Lock()
				if tt.subject != "" {
					subjects[tt.subject] = at
				} else {
					clients[tt.client] = at
				}
				e.deny.mu.Unlock()
				_, err := e.v.Authenticate(&Request{Header: h})
				if got := errors.Is(err, ErrInvalidCredential); got != tt.denied || (!tt.denied && err != nil) {
					t.Errorf("%s: Authenticate = %v, want denied %v", where, err, tt.denied)
				}
			}
		})
	}
}

// TestOwnTokensRevocationCheckFails: a failure of the revocation checker is neither
// "no credential" nor "invalid": the caller fails closed. Nothing is cached.
func TestOwnTokensRevocationCheckFails(t *testing.T) {
	e := newOwnEnv(t)
	e.revs.fail = errors.New("store down")
	h := ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))
	for range 2 {
		_, err := e.v.Authenticate(&Request{Header: h})
		if err == nil || errors.Is(err, ErrNoCredentials) || errors.Is(err, ErrInvalidCredential) || !errors.Is(err, e.revs.fail) {
			t.Errorf("Authenticate with the store down = %v, want an internal error wrapping the store's", err)
		}
	}
	if e.revs.calls.Load() != 2 {
		t.Errorf("revocation checks = %d, want 2 (a failure is not cached)", e.revs.calls.Load())
	}
}

// TestOwnTokensKeyReload: a token whose kid is unknown reloads the keys, at most once
// per cooldown, and verifies once a reload finds its key (another replica added it).
func TestOwnTokensKeyReload(t *testing.T) {
	e := newOwnEnv(t)
	fresh := ownGenerateKey(t)
	h := ownBearer(ownSign(t, fresh, ownWith(ownHeader(), "kid", "key-2"), e.claims()))
	if _, err := e.v.Authenticate(&Request{Header: h}); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("Authenticate with an unknown kid = %v, want invalid credential", err)
	}
	if n := e.keys.reloads.Load(); n != 1 {
		t.Fatalf("reloads after an unknown kid = %d, want 1", n)
	}
	e.keys.store("key-2", fresh.Public())
	e.clock.Advance(ownKeyReloadCooldown - time.Second)
	if _, err := e.v.Authenticate(&Request{Header: h}); !errors.Is(err, ErrInvalidCredential) || e.keys.reloads.Load() != 1 {
		t.Fatalf("Authenticate within the cooldown = %v after %d reloads, want invalid credential and no reload", err, e.keys.reloads.Load())
	}
	e.clock.Advance(time.Second)
	if _, err := e.v.Authenticate(&Request{Header: h}); err != nil || e.keys.reloads.Load() != 2 {
		t.Fatalf("Authenticate after the cooldown = %v after %d reloads, want a principal and 2 reloads", err, e.keys.reloads.Load())
	}
	// A failing reload leaves the held keys in place, and is no verdict on the token
	// that needed it: its error (the store's), not an invalid credential, until a
	// reload after ownKeyRetryCooldown succeeds.
	e.keys.mu.Lock()
	e.keys.fail = true
	e.keys.mu.Unlock()
	e.clock.Advance(ownKeyReloadCooldown)
	fresh3 := ownGenerateKey(t)
	h3 := ownBearer(ownSign(t, fresh3, ownWith(ownHeader(), "kid", "key-3"), e.claims()))
	for _, when := range []string{"with the key store down", "within the retry cooldown"} {
		if _, err := e.v.Authenticate(&Request{Header: h3}); err == nil || errors.Is(err, ErrInvalidCredential) || !strings.Contains(err.Error(), "store down") {
			t.Errorf("Authenticate %s = %v, want the reload's error, not an invalid credential", when, err)
		}
	}
	if n := e.keys.reloads.Load(); n != 3 {
		t.Errorf("reloads after a failed one, within the retry cooldown = %d, want 3", n)
	}
	if _, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), ownWith(e.claims(), "jti", "j9")))}); err != nil {
		t.Errorf("Authenticate with a held key after a failed reload = %v", err)
	}
	e.keys.mu.Lock()
	e.keys.fail = false
	e.keys.mu.Unlock()
	e.keys.store("key-3", fresh3.Public())
	e.clock.Advance(ownKeyRetryCooldown)
	if _, err := e.v.Authenticate(&Request{Header: h3}); err != nil {
		t.Errorf("Authenticate once the store is back, after the retry cooldown = %v, want a principal", err)
	}
}

// TestOwnTokensNoKeys: a source that holds no keys refuses every token of ours.
func TestOwnTokensNoKeys(t *testing.T) {
	e := newOwnEnv(t)
	e.keys.held, e.keys.stored = nil, jose.JSONWebKeySet{}
	if _, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), e.claims()))}); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("Authenticate without keys = %v, want invalid credential", err)
	}
}

func TestNewOwnTokens(t *testing.T) {
	keys, revs := &ownKeys{}, &ownRevocations{}
	ok := func() OwnTokensConfig {
		return OwnTokensConfig{Issuer: ownIssuer, Resources: []string{ownResource}, Keys: keys, Revocations: revs}
	}
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		mutate func(*OwnTokensConfig)
	}{
		{"nil context", nil, func(*OwnTokensConfig) {}},
		{"no issuer", t.Context(), func(c *OwnTokensConfig) { c.Issuer = "" }},
		{"no resources", t.Context(), func(c *OwnTokensConfig) { c.Resources = nil }},
		{"no keys", t.Context(), func(c *OwnTokensConfig) { c.Keys = nil }},
		{"no revocations", t.Context(), func(c *OwnTokensConfig) { c.Revocations = nil }},
		{"negative cache size", t.Context(), func(c *OwnTokensConfig) { c.CacheSize = -1 }},
	} {
		c := ok()
		tt.mutate(&c)
		if _, err := NewOwnTokens(tt.ctx, c); err == nil {
			t.Errorf("NewOwnTokens(%s) = nil error, want one", tt.name)
		}
	}
	if _, err := NewOwnTokens(t.Context(), ok()); err != nil {
		t.Errorf("NewOwnTokens = %v", err)
	}
}

// ownCachedAllocs is what Authenticate allocated for a cached own token when the
// verifier lived in package oauth (oauth.AccessTokenVerifier, measured with
// BenchmarkAccessTokenCached before the move to go-jose): nothing. The cached path
// must not allocate more.
const ownCachedAllocs = 0

// TestOwnTokensCachedAllocs: /auth's hot path for an own token allocates nothing.
func TestOwnTokensCachedAllocs(t *testing.T) {
	e := newOwnEnv(t)
	h := ownBearer(ownCompact(t, ownJOSE(t, jose.ES256, e.key, ownKID, e.claims())))
	if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
		t.Fatal(err)
	}
	var err error
	got := testing.AllocsPerRun(100, func() {
		r := Request{Header: h}
		_, err = e.v.Authenticate(&r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got > ownCachedAllocs {
		t.Errorf("Authenticate of a cached token allocates %v times, want at most %d", got, ownCachedAllocs)
	}
}

// BenchmarkOwnTokenCached is /auth's common case: an MCP client sends the same access
// token on every request, so after the first one neither the signature nor the
// revocation checker is consulted again.
func BenchmarkOwnTokenCached(b *testing.B) {
	e := newOwnEnv(b)
	h := ownBearer(ownCompact(b, ownJOSE(b, jose.ES256, e.key, ownKID, e.claims())))
	if _, err := e.v.Authenticate(&Request{Header: h}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := Request{Header: h}
		if _, err := e.v.Authenticate(&r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOwnTokenUncached is a token's first use: go-jose parses it and checks the
// signature, then the claims, the denylist and the (in-memory) revocation checker.
func BenchmarkOwnTokenUncached(b *testing.B) {
	e := newOwnEnv(b)
	headers := make([]http.Header, b.N)
	for i := range headers {
		c := ownWith(e.claims(), "jti", base64.RawURLEncoding.EncodeToString([]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)}))
		headers[i] = ownBearer(ownCompact(b, ownJOSE(b, jose.ES256, e.key, ownKID, c)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := Request{Header: headers[i]}
		if _, err := e.v.Authenticate(&r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOwnTokensClientSource: a token with gty client_credentials whose sub is its
// client_id is a machine's, Source "client"; the claim alone, with another sub, is not.
func TestOwnTokensClientSource(t *testing.T) {
	e := newOwnEnv(t)
	tests := []struct {
		name, sub, gty, jti string
		want                string
	}{
		{"machine", "ci-bot", GrantClientCredentials, "m1", SourceClient},
		{"person", "alice@example.com", "", "m2", SourceOAuth},
		{"marker with another sub", "alice@example.com", GrantClientCredentials, "m3", SourceOAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ownWith(e.claims(), "sub", tt.sub, "client_id", "ci-bot", "jti", tt.jti)
			if tt.gty != "" {
				c["gty"] = tt.gty
			}
			p, err := e.v.Authenticate(&Request{Header: ownBearer(ownSign(t, e.key, ownHeader(), c))})
			if err != nil || p.Source != tt.want {
				t.Errorf("Authenticate = %+v, %v; want Source %q", p, err, tt.want)
			}
		})
	}
}
