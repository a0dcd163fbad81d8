package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

const (
	testAudience  = "https://mcp.example.com/mcp"
	otherAudience = "https://other.example.com/mcp"
)

// fakeClock is an injectable clock that starts at the real time (the test issuer signs
// with real timestamps) and moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// issuerConfig returns the configuration of iss with the test audience.
func issuerConfig(iss *authtest.Issuer) IssuerConfig {
	return IssuerConfig{Issuer: iss.URL(), Audiences: []string{testAudience}}
}

// newTestVerifier starts a verifier for c, stopped when the test ends, and waits until
// it is ready.
func newTestVerifier(tb testing.TB, c JWTConfig) *JWTVerifier {
	tb.Helper()
	v, err := NewJWTVerifier(tb.Context(), c)
	if err != nil {
		tb.Fatalf("NewJWTVerifier: %v", err)
	}
	waitFor(tb, "Ready() = nil", func() bool { return v.Ready() == nil })
	return v
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bearer returns a request carrying token as a bearer token.
func bearer(token string) *Request {
	return &Request{Header: http.Header{"Authorization": {"Bearer " + token}}}
}

// claims returns the standard claims of a valid test token, with extra merged in.
func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "alice", "aud": testAudience}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// badToken is one row of the bad-token table: a token each verifier must refuse.
type badToken struct {
	name string
	// token builds the token from the configured issuer and a second one configured for
	// otherAudience.
	token func(tb testing.TB, iss, other *authtest.Issuer) string
	// auth is what Authenticate must return for it: ErrInvalidCredential unless the
	// token does not even look like a JWT (ErrNoCredentials: it is left to API keys).
	auth error
}

var badTokens = []badToken{
	{name: "alg none", auth: ErrNoCredentials, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithAlg("none"))
	}},
	{name: "alg none with a signature", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithAlg("none")) + "c2lnbmF0dXJl"
	}},
	// The 2015 algorithm-confusion attack (CVE-2015-9235 and its kin): an HMAC keyed
	// with the issuer's public RSA key, which anyone can compute.
	{name: "HS256 keyed with the RSA public key", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithAlg("HS256"))
	}},
	{name: "unknown kid", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithKeyID("no-such-key"))
	}},
	{name: "forged signature under a known kid", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithUnpublishedKey())
	}},
	{name: "forged signature without kid", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithUnpublishedKey(), authtest.WithKeyID(""))
	}},
	{name: "ES256 under the RSA key's kid", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithAlg("ES256"), authtest.WithKeyID(iss.RSAKeyID()))
	}},
	{name: "PS256 with a key published for RS256", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(nil), authtest.WithAlg("PS256"))
	}},
	{name: "wrong iss", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"iss": "https://evil.example.com"}))
	}},
	{name: "iss with a trailing slash", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"iss": iss.URL() + "/"}))
	}},
	{name: "no iss", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"iss": nil}))
	}},
	{name: "wrong aud", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"aud": []string{"https://mcp.example.com/other", "account"}}))
	}},
	{name: "missing aud", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"aud": nil}))
	}},
	{name: "aud not a string", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"aud": []any{testAudience, 7}}))
	}},
	{name: "expired", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"exp": time.Now().Add(-2 * time.Minute)}))
	}},
	{name: "nbf in the future", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"nbf": time.Now().Add(2 * time.Minute)}))
	}},
	{name: "iat in the future", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"iat": time.Now().Add(2 * time.Minute)}))
	}},
	{name: "no exp", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"exp": nil}))
	}},
	{name: "exp a string", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"exp": "4102444800"}))
	}},
	{name: "exp beyond year 9999", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"exp": 1e300}))
	}},
	{name: "no sub", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"sub": nil}))
	}},
	{name: "sub with a newline", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"sub": "alice\r\nX-Forwarded-User: admin"}))
	}},
	{name: "payload not an object", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Sign(tb, []byte(`["sub","alice"]`))
	}},
	{name: "malformed base64", auth: ErrNoCredentials, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		tok := iss.Token(tb, claims(nil))
		return "eyJ+" + tok[3:] // the standard alphabet, not base64url
	}},
	{name: "malformed base64 outside b64token", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		tok := iss.Token(tb, claims(nil))
		return "eyJ!" + tok[3:]
	}},
	{name: "base64 of impossible length", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		_, rest, _ := strings.Cut(iss.Token(tb, claims(nil)), ".")
		return "e." + rest
	}},
	{name: "three-part garbage", auth: ErrInvalidCredential, token: func(testing.TB, *authtest.Issuer, *authtest.Issuer) string {
		return "abc.def.ghi"
	}},
	{name: "64 KB token", auth: ErrInvalidCredential, token: func(tb testing.TB, iss, _ *authtest.Issuer) string {
		return iss.Token(tb, claims(map[string]any{"pad": strings.Repeat("x", 64<<10)}))
	}},
	{name: "16 KiB + 1 of garbage", auth: ErrInvalidCredential, token: func(testing.TB, *authtest.Issuer, *authtest.Issuer) string {
		return "a.b." + strings.Repeat("c", 16<<10-3)
	}},
	// A valid token of an issuer that is trusted, but for another resource.
	{name: "valid token of an issuer configured for another audience", auth: ErrInvalidCredential, token: func(tb testing.TB, _, other *authtest.Issuer) string {
		return other.Token(tb, claims(nil))
	}},
}

// newBadTokenVerifier returns two issuers and a verifier that trusts the first for
// testAudience and the second for otherAudience.
func newBadTokenVerifier(tb testing.TB) (v *JWTVerifier, iss, other *authtest.Issuer) {
	tb.Helper()
	iss, other = authtest.NewIssuer(tb), authtest.NewIssuer(tb)
	v = newTestVerifier(tb, JWTConfig{Issuers: []IssuerConfig{
		issuerConfig(iss),
		{Issuer: other.URL(), Audiences: []string{otherAudience}},
	}})
	return v, iss, other
}

func TestVerifyBadTokens(t *testing.T) {
	v, iss, other := newBadTokenVerifier(t)
	if _, err := v.Verify(t.Context(), iss.Token(t, claims(nil))); err != nil {
		t.Fatalf("Verify(valid token) = %v, want nil: the table below would prove nothing", err)
	}
	if _, err := v.Verify(t.Context(), other.Token(t, claims(map[string]any{"aud": otherAudience}))); err != nil {
		t.Fatalf("Verify(valid token of the other issuer) = %v, want nil", err)
	}
	checks := v.sigChecks.Load()
	for _, tt := range badTokens {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t, iss, other)
			p, err := v.Verify(t.Context(), tok)
			if !errors.Is(err, ErrInvalidCredential) {
				t.Errorf("Verify(%.40q...) = %+v, %v; want an error wrapping ErrInvalidCredential", tok, p, err)
			}
			checkOnePrefix(t, err)
			checkNoLeak(t, err, tok)
			for _, seg := range strings.Split(tok, ".") {
				checkNoLeak(t, err, seg)
			}
			decodes := v.decodes.Load()
			_, err = v.Authenticate(bearer(tok))
			if got := errOutcome(t, err); got != tt.auth {
				t.Errorf("Authenticate(Bearer %.40q...) = %v, want %v", tok, err, tt.auth)
			}
			// The repeat is answered by the rejected-token cache.
			if n := v.decodes.Load() - decodes; n != 0 {
				t.Errorf("Authenticate(Bearer %.40q...) after Verify decoded the token %d times, want 0", tok, n)
			}
		})
	}
	// Claims, alg and kid are checked before any signature, so only the two forged rows
	// reach one, and only once: expired, foreign or confused tokens cost no
	// cryptography, and the repeat through Authenticate none either.
	if n := v.sigChecks.Load() - checks; n != 2 {
		t.Errorf("the bad-token table made %d signature checks, want 2", n)
	}
}

func TestVerifyErrorText(t *testing.T) {
	v, iss, _ := newBadTokenVerifier(t)
	tests := []struct {
		name, token, want string
	}{
		{"forged signature", iss.Token(t, claims(nil), authtest.WithUnpublishedKey()),
			fmt.Sprintf("auth: jwt issuer %q: signature does not verify with the issuer's keys: invalid credential", iss.URL())},
		{"expired", iss.Token(t, claims(map[string]any{"exp": time.Now().Add(-time.Hour)})),
			fmt.Sprintf("auth: jwt issuer %q: token expired: invalid credential", iss.URL())},
		{"unknown issuer", iss.Token(t, claims(map[string]any{"iss": "https://evil.example.com"})),
			"auth: jwt iss is missing or not a configured issuer: invalid credential"},
		{"garbage", "abc.def.ghi", "auth: jwt header is not a base64url JSON object with a string alg: invalid credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second answer comes from the rejected-token cache
				_, err := v.Verify(t.Context(), tt.token)
				if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalidCredential) {
					t.Errorf("Verify() = %v, want %s (wrapping ErrInvalidCredential)", err, tt.want)
				}
			}
		})
	}
}

func TestVerifyValid(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}})
	want := Principal{Subject: "alice", Source: SourceJWT, Issuer: iss.URL(), Audiences: []string{testAudience}, Scopes: []string{"mcp:read"}}
	tests := []struct {
		name string
		opts []authtest.TokenOption
	}{
		{"RS256", nil},
		{"ES256", []authtest.TokenOption{authtest.WithAlg("ES256")}},
		{"RS256 without kid", []authtest.TokenOption{authtest.WithKeyID("")}},
		{"ES256 without kid", []authtest.TokenOption{authtest.WithAlg("ES256"), authtest.WithKeyID("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := iss.Token(t, claims(map[string]any{"scope": "mcp:read"}), tt.opts...)
			for _, via := range []string{"Verify", "Authenticate", "Authenticate cached"} {
				var p Principal
				var err error
				if via == "Verify" {
					p, err = v.Verify(t.Context(), tok)
				} else {
					p, err = v.Authenticate(bearer(tok))
				}
				if err != nil || !reflect.DeepEqual(unprepared(p), want) {
					t.Errorf("%s = %+v, %v; want %+v, nil", via, p, err, want)
				}
			}
		})
	}
}

func TestAuthenticateNoCredentials(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}})
	tests := []struct {
		name string
		req  *Request
		want error
	}{
		{"nil request", nil, ErrNoCredentials},
		{"no header", &Request{Header: http.Header{}}, ErrNoCredentials},
		{"basic", &Request{Header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}}, ErrNoCredentials},
		{"api key", bearer("mcpg_q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83"), ErrNoCredentials},
		{"api key header only", &Request{Header: http.Header{"X-Api-Key": {iss.Token(t, claims(nil))}}}, ErrNoCredentials},
		{"two bearer headers", &Request{Header: http.Header{"Authorization": {"Bearer a.b.c", "Bearer a.b.c"}}}, ErrInvalidCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Authenticate(tt.req)
			if got := errOutcome(t, err); got != tt.want {
				t.Errorf("Authenticate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyClockSkew(t *testing.T) {
	iss := authtest.NewIssuer(t)
	clock := newFakeClock()
	ic := issuerConfig(iss)
	ic.ClockSkew = Duration(30 * time.Second)
	v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{ic}, Now: clock.Now, CacheSize: -1})
	now := clock.Now()
	tests := []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"expired within the skew", map[string]any{"exp": now.Add(-20 * time.Second)}, true},
		{"expired beyond the skew", map[string]any{"exp": now.Add(-40 * time.Second)}, false},
		{"nbf within the skew", map[string]any{"nbf": now.Add(20 * time.Second)}, true},
		{"nbf beyond the skew", map[string]any{"nbf": now.Add(40 * time.Second)}, false},
		{"iat within the skew", map[string]any{"iat": now.Add(20 * time.Second)}, true},
		{"iat beyond the skew", map[string]any{"iat": now.Add(40 * time.Second)}, false},
		{"fractional exp", map[string]any{"exp": float64(now.Unix()) + 90.5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), iss.Token(t, claims(tt.claims)))
			if (err == nil) != tt.ok {
				t.Errorf("Verify() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	v, iss, other := newBadTokenVerifier(f)
	for _, tt := range badTokens {
		f.Add(tt.token(f, iss, other))
	}
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		if p, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("Verify(%q) = %+v, %v; want an error wrapping ErrInvalidCredential", tok, p, err)
		}
		p, err := v.Authenticate(&Request{Header: http.Header{"Authorization": {"Bearer " + tok}}})
		if errOutcome(t, err) == nil {
			t.Errorf("Authenticate(Bearer %q) = %+v, want an error", tok, p)
		}
	})
}

// benchVerifier returns a verifier for one test issuer, with the cache on or off.
func benchVerifier(b *testing.B, cache bool) (*JWTVerifier, *authtest.Issuer) {
	b.Helper()
	iss := authtest.NewIssuer(b)
	c := JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}}
	if !cache {
		c.CacheSize = -1
	}
	return newTestVerifier(b, c), iss
}

// benchClaims are the claims of a typical access token.
var benchClaims = map[string]any{
	"sub": "248289761001", "aud": testAudience, "email": "alice@example.com", "email_verified": true,
	"azp": "mcp-inspector", "scope": "openid email mcp:read mcp:write", "groups": []string{"staff", "mcp-users"},
	"exp": time.Now().Add(time.Hour),
}

func BenchmarkVerifyCached(b *testing.B) {
	v, iss := benchVerifier(b, true)
	req := bearer(iss.Token(b, benchClaims))
	if _, err := v.Authenticate(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkUncached(b *testing.B, alg string) {
	v, iss := benchVerifier(b, false)
	req := bearer(iss.Token(b, benchClaims, authtest.WithAlg(alg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncachedRS256(b *testing.B) { benchmarkUncached(b, "RS256") }

func BenchmarkVerifyUncachedES256(b *testing.B) { benchmarkUncached(b, "ES256") }

// BenchmarkVerifyRejected measures a rejected token verified in full each time: the
// rejected-token cache is off.
func BenchmarkVerifyRejected(b *testing.B) { benchmarkRejected(b, -1) }

// BenchmarkVerifyRejectedCached measures a rejected token that is presented again: the
// rejected-token cache answers.
func BenchmarkVerifyRejectedCached(b *testing.B) { benchmarkRejected(b, 0) }

func benchmarkRejected(b *testing.B, negativeTTL time.Duration) {
	iss := authtest.NewIssuer(b)
	v := newTestVerifier(b, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, NegativeCacheTTL: negativeTTL})
	tokens := []struct{ name, token string }{
		{"expired", iss.Token(b, claims(map[string]any{"exp": time.Now().Add(-time.Hour)}))},
		{"wrong-audience", iss.Token(b, claims(map[string]any{"aud": otherAudience}))},
		{"unknown-issuer", iss.Token(b, claims(map[string]any{"iss": "https://evil.example.com"}))},
		{"forged-signature", iss.Token(b, claims(nil), authtest.WithUnpublishedKey())},
		{"unknown-kid", iss.Token(b, claims(nil), authtest.WithKeyID("no-such-key"))},
		{"garbage", "abc.def.ghi"},
	}
	for _, tt := range tokens {
		b.Run(tt.name, func(b *testing.B) {
			req := bearer(tt.token)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Authenticate(req); err == nil {
					b.Fatal("authenticated")
				}
			}
		})
	}
}

// BenchmarkVerifyRejectedDistinct measures a flood of different expired tokens, more than
// the rejected-token cache holds, so that each one misses it and evicts another: what the
// cache adds to a rejection it cannot answer.
func BenchmarkVerifyRejectedDistinct(b *testing.B) {
	for _, tt := range []struct {
		name string
		ttl  time.Duration
	}{{"cache-off", -1}, {"cache-on", 0}} {
		b.Run(tt.name, func(b *testing.B) {
			iss := authtest.NewIssuer(b)
			v := newTestVerifier(b, JWTConfig{Issuers: []IssuerConfig{issuerConfig(iss)}, NegativeCacheTTL: tt.ttl})
			reqs := make([]*Request, 2*rejectCacheSize)
			for i := range reqs {
				// Rejected for exp before the signature is looked at: no need to sign.
				reqs[i] = bearer(unsignedToken(b, claims(map[string]any{
					"iss": iss.URL(), "exp": time.Now().Add(-time.Hour).Unix(), "jti": fmt.Sprint(i),
				})))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Authenticate(reqs[i%len(reqs)]); err == nil {
					b.Fatal("authenticated")
				}
				i++
			}
		})
	}
}

// unsignedToken returns a JWT with claims, an RS256 header and a signature segment that
// is not one.
func unsignedToken(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2lnbmF0dXJl"
}
