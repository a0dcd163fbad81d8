package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// signJWT signs header and claims with key (ES256), or leaves the signature empty
// when key is nil.
func signJWT(t testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if key == nil {
		return signed + "."
	}
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	var rs [64]byte
	r.FillBytes(rs[:32])
	s.FillBytes(rs[32:])
	return signed + "." + enc.EncodeToString(rs[:])
}

// countingStore counts the calls /auth's verifier makes.
type countingStore struct {
	store.Store
	revoked, other, keys atomic.Int64
}

func (c *countingStore) TokenRevoked(ctx context.Context, tc store.TokenCheck) (bool, error) {
	c.revoked.Add(1)
	return c.Store.TokenRevoked(ctx, tc)
}

// The single questions TokenRevoked replaces: /auth must not ask them.

func (c *countingStore) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	c.other.Add(1)
	return c.Store.AccessTokenRevoked(ctx, jti)
}

func (c *countingStore) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	c.other.Add(1)
	return c.Store.FamilyRevoked(ctx, family)
}

func (c *countingStore) SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error) {
	c.other.Add(1)
	return c.Store.SubjectRevokedAt(ctx, subject)
}

func (c *countingStore) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	c.keys.Add(1)
	return c.Store.SigningKeys(ctx)
}

// signingKey returns the kid and private key this server signs with, from the store.
func (e *flowEnv) signingKey() (string, *ecdsa.PrivateKey) {
	e.t.Helper()
	keys, err := e.st.SigningKeys(e.t.Context())
	if err != nil || len(keys) == 0 {
		e.t.Fatalf("SigningKeys = %v, %v", keys, err)
	}
	k := keys[len(keys)-1]
	priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.ID, priv.(*ecdsa.PrivateKey)
}

// TestAccessTokenVerifier: the verifier /auth asks is wired to this server's issuer,
// keys and resources. Hostile tokens are tested where the verifier lives, in package
// auth (TestOwnTokensAuthenticate).
func TestAccessTokenVerifier(t *testing.T) {
	e := newFlowEnv(t, nil)
	good := e.tokens().str("access_token")
	kid, key := e.signingKey()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := e.clock.Now()
	header := func() map[string]any { return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid} }
	claims := func() map[string]any {
		return map[string]any{
			"iss": e.srv.URL, "sub": "mallory", "aud": flowResource, "scope": "mcp:read mcp:write", "client_id": pubClient,
			"jti": "j1", "fam": "f1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	hs256 := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid})
		c, _ := json.Marshal(claims())
		signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		m := hmac.New(sha256.New, e.as.keys.set.Load().jwks) // the published JWK Set as the secret
		m.Write([]byte(signed))
		return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name   string
		header http.Header
		want   error // nil: valid
	}{
		{"issued token", bearerHeader(good), nil},
		{"forged with our key is still ours", bearerHeader(signJWT(t, key, header(), claims())), nil},
		{"second resource", bearerHeader(signJWT(t, key, header(), with(claims(), "aud", flowOtherResource, "jti", "j2"))), nil},
		{"api key", bearerHeader("mcpg_0123456789abcdef"), auth.ErrNoCredentials},
		{"other issuer", bearerHeader(signJWT(t, other, header(), with(claims(), "iss", "https://idp.example"))), auth.ErrNoCredentials},
		{"other key", bearerHeader(signJWT(t, other, header(), claims())), auth.ErrInvalidCredential},
		{"unknown kid", bearerHeader(signJWT(t, other, with(header(), "kid", "nope"), claims())), auth.ErrInvalidCredential},
		{"alg HS256 with the JWK Set", bearerHeader(hs256()), auth.ErrInvalidCredential},
		{"expired", bearerHeader(signJWT(t, key, header(), with(claims(), "exp", now.Unix()))), auth.ErrInvalidCredential},
		{"other audience", bearerHeader(signJWT(t, key, header(), with(claims(), "aud", "https://evil.example/mcp"))), auth.ErrInvalidCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.as.AccessTokens().Authenticate(&auth.Request{Header: tt.header})
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Authenticate = %v, want a principal", err)
			case tt.want == nil && (p.Source != "oauth" || p.Issuer != e.srv.URL):
				t.Errorf("Authenticate = %+v, want source oauth and our issuer", p)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Authenticate = %+v, %v; want %v", p, err, tt.want)
			}
		})
	}
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestAccessTokenExpiry: a token verifies until its exp, from the cache too, not after.
func TestAccessTokenExpiry(t *testing.T) {
	e := newFlowEnv(t, nil)
	at := e.tokens().str("access_token")
	e.clock.Advance(10*time.Minute - time.Second)
	if _, err := e.verify(at); err != nil {
		t.Fatalf("Authenticate 1 s before exp = %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.verify(at); !isInvalid(err) {
		t.Errorf("Authenticate at exp = %v, want invalid credential", err)
	}
}

// TestAccessTokenResourceRemoved: a token for a resource no longer configured fails.
func TestAccessTokenResourceRemoved(t *testing.T) {
	e := newFlowEnv(t, nil)
	at := e.tokens().str("access_token")
	e.cfg.Resources = []string{flowOtherResource}
	e.restart()
	if _, err := e.verify(at); !isInvalid(err) {
		t.Errorf("Authenticate for a removed resource = %v, want invalid credential", err)
	}
}

// TestAccessTokenCache: the store is asked about a token once; keys never per request.
func TestAccessTokenCache(t *testing.T) {
	var cs *countingStore
	e := newFlowEnv(t, func(c *Config) { cs = &countingStore{Store: c.Store}; c.Store = cs })
	at := e.tokens().str("access_token")
	keys, other := cs.keys.Load(), cs.other.Load() // the flow's own questions, at /token
	cs.revoked.Store(0)
	first, err := e.verify(at)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		p, err := e.verify(at)
		if err != nil {
			t.Fatal(err)
		}
		// The cache shares the principal it verified, header values rendered once.
		if p.Scopes[0] != "mcp:read" || &p.Scopes[0] != &first.Scopes[0] || p.HeaderValues() != first.HeaderValues() {
			t.Fatalf("cached principal = %v, not the shared, prepared one", p.Scopes)
		}
	}
	if cs.revoked.Load() != 1 || cs.other.Load() != other {
		t.Errorf("store revocation checks = %d TokenRevoked + %d single questions for 6 verifications, want 1 + 0", cs.revoked.Load(), cs.other.Load()-other)
	}
	if cs.keys.Load() != keys {
		t.Errorf("verification read the keys from the store %d times", cs.keys.Load()-keys)
	}
}

// failingStore fails the revocation checks.
type failingStore struct{ store.Store }

func (failingStore) TokenRevoked(context.Context, store.TokenCheck) (bool, error) {
	return false, errors.New("store down")
}

// TestAccessTokenStoreDown: a store failure is neither "no credential" nor "invalid":
// the caller fails closed.
func TestAccessTokenStoreDown(t *testing.T) {
	e := newFlowEnv(t, nil)
	at := e.tokens().str("access_token")
	e.cfg.Store = failingStore{e.st}
	e.restart()
	_, err := e.verify(at)
	if err == nil || errors.Is(err, auth.ErrNoCredentials) || errors.Is(err, auth.ErrInvalidCredential) {
		t.Errorf("Authenticate with the store down = %v, want an internal error", err)
	}
}

// ExampleServer_AccessTokens shows the verifier /auth asks about bearer tokens: a token
// that is not one of this server's is left to the next authenticator.
func ExampleServer_AccessTokens() {
	st, _ := store.Open("memory://")
	as, err := New(context.Background(), Config{
		Issuer:        "https://auth.example.com",
		Store:         st,
		Resources:     []string{"https://mcp.example.com/mcp"},
		AllowedScopes: []string{"mcp:read"},
		Provider:      "local",
		SessionSecret: []byte("a secret of at least thirty-two bytes"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	as.Routes(mux) // /authorize, /token, /jwks, ... under the issuer

	_, err = as.AccessTokens().Authenticate(&auth.Request{Header: http.Header{"Authorization": {"Bearer an-api-key"}}})
	fmt.Println(errors.Is(err, auth.ErrNoCredentials))
	// Output: true
}
