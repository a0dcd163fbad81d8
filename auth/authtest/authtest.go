// Package authtest is an in-process OpenID Connect issuer for tests: it serves
// discovery and a JWK Set over HTTP and signs tokens with its keys, so tests of token
// verification run the real verifier against a real network peer. Only tests import it.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is an OpenID Connect issuer served by an httptest.Server. It publishes an RSA
// key (RS256) and a P-256 key (ES256) at /jwks, and its discovery document at
// /.well-known/openid-configuration. An Issuer is safe for concurrent use.
type Issuer struct {
	srv *httptest.Server

	mu         sync.Mutex
	gen        int // key generation, bumped by Rotate
	rsaKey     *rsa.PrivateKey
	ecKey      *ecdsa.PrivateKey
	down       bool
	discIssuer string // the issuer the discovery document names; "" for URL()
	jwksHits   int
	discHits   int
	unpub      *rsa.PrivateKey // a key never published, for forged signatures
}

// NewIssuer starts an issuer with fresh keys; it stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{gen: 1, rsaKey: mustRSAKey(), ecKey: mustECKey(), unpub: mustRSAKey()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.serveDiscovery)
	mux.HandleFunc("GET /jwks", iss.serveJWKS)
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// URL returns the issuer identifier: the server's base URL, without trailing slash.
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSURL returns the URL of the key set.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/jwks" }

// RSAKeyID returns the kid of the current RSA key ("rsa-1", then "rsa-2" after Rotate).
func (i *Issuer) RSAKeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return fmt.Sprintf("rsa-%d", i.gen)
}

// ECKeyID returns the kid of the current EC key ("ec-1", then "ec-2" after Rotate).
func (i *Issuer) ECKeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return fmt.Sprintf("ec-%d", i.gen)
}

// Rotate replaces both keys with new ones under new kids; the old keys are no longer
// published, and tokens signed before Rotate keep the old kids.
func (i *Issuer) Rotate() {
	r, e := mustRSAKey(), mustECKey()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.gen++
	i.rsaKey, i.ecKey = r, e
}

// SetDown makes discovery and the key set answer 503 (true) or serve again (false).
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// SetDiscoveryIssuer makes the discovery document name issuer instead of URL(), as a
// misconfigured or impersonating provider would; "" restores URL().
func (i *Issuer) SetDiscoveryIssuer(issuer string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discIssuer = issuer
}

// JWKSFetches returns how many requests /jwks received, including those answered 503.
func (i *Issuer) JWKSFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksHits
}

// DiscoveryFetches returns how many requests the discovery document received.
func (i *Issuer) DiscoveryFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.discHits
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.discHits++
	down, iss := i.down, i.discIssuer
	i.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if iss == "" {
		iss = i.URL()
	}
	writeJSON(w, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              i.JWKSURL(),
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.jwksHits++
	down := i.down
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: i.rsaKey.Public(), KeyID: fmt.Sprintf("rsa-%d", i.gen), Algorithm: string(jose.RS256), Use: "sig"},
		{Key: i.ecKey.Public(), KeyID: fmt.Sprintf("ec-%d", i.gen), Algorithm: string(jose.ES256), Use: "sig"},
	}}
	i.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// TokenOption changes how Token signs.
type TokenOption func(*tokenOptions)

type tokenOptions struct {
	alg      string
	kid      *string
	unpub    bool
	macOfPEM bool
	typ      string
}

// WithAlg signs with alg: RS256, RS384, RS512, PS256, PS384, PS512 use the RSA key,
// ES256 the EC key; HS256, HS384 and HS512 use the PEM of the RSA public key as the MAC
// secret (the algorithm-confusion attack); "none" produces an unsecured JWT (RFC 7519
// §6) with an empty signature. Default RS256.
func WithAlg(alg string) TokenOption { return func(o *tokenOptions) { o.alg = alg } }

// WithType sets the typ header to typ instead of JWT.
func WithType(typ string) TokenOption { return func(o *tokenOptions) { o.typ = typ } }

// WithKeyID sets the kid header to kid instead of the signing key's; "" omits it.
func WithKeyID(kid string) TokenOption { return func(o *tokenOptions) { o.kid = &kid } }

// WithUnpublishedKey signs with an RSA key the issuer never publishes (under the
// current RSA kid unless WithKeyID says otherwise): a forged signature.
func WithUnpublishedKey() TokenOption { return func(o *tokenOptions) { o.unpub = true } }

// Token returns a compact JWS with claims. iss (URL()), iat (now) and exp (now + 5
// minutes) are set unless claims sets them; a nil value in claims removes a claim.
// Numbers may be given as int64, float64 or time.Time (converted to a NumericDate).
func (i *Issuer) Token(t testing.TB, claims map[string]any, opts ...TokenOption) string {
	t.Helper()
	now := time.Now()
	all := map[string]any{"iss": i.URL(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range claims {
		switch v := v.(type) {
		case nil:
			delete(all, k)
		case time.Time:
			all[k] = v.Unix()
		default:
			all[k] = v
		}
	}
	payload, err := json.Marshal(all)
	if err != nil {
		t.Fatalf("authtest: claims: %v", err)
	}
	return i.Sign(t, payload, opts...)
}

// Sign signs payload, taken as is, as Token does; for payloads that are not JSON
// objects or that Token cannot express.
func (i *Issuer) Sign(t testing.TB, payload []byte, opts ...TokenOption) string {
	t.Helper()
	o := tokenOptions{alg: "RS256"}
	for _, opt := range opts {
		opt(&o)
	}
	i.mu.Lock()
	rsaKey, ecKey, gen, unpub := i.rsaKey, i.ecKey, i.gen, i.unpub
	i.mu.Unlock()

	var key any
	var kid string
	switch o.alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		key, kid = rsaKey, fmt.Sprintf("rsa-%d", gen)
		if o.unpub {
			key = unpub
		}
	case "ES256":
		key, kid = ecKey, fmt.Sprintf("ec-%d", gen)
	case "HS256", "HS384", "HS512":
		der, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
		if err != nil {
			t.Fatalf("authtest: %v", err)
		}
		key, kid = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), fmt.Sprintf("rsa-%d", gen)
	case "none":
		kid = fmt.Sprintf("rsa-%d", gen)
	default:
		t.Fatalf("authtest: unsupported alg %q", o.alg)
	}
	if o.kid != nil {
		kid = *o.kid
	}
	if o.alg == "none" {
		h := map[string]any{"alg": "none", "typ": "JWT"}
		if kid != "" {
			h["kid"] = kid
		}
		hj, _ := json.Marshal(h)
		return b64(hj) + "." + b64(payload) + "."
	}
	typ := "JWT"
	if o.typ != "" {
		typ = o.typ
	}
	so := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if kid != "" {
		so = so.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(o.alg), Key: key}, so)
	if err != nil {
		t.Fatalf("authtest: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("authtest: sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("authtest: serialize: %v", err)
	}
	return s
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mustRSAKey returns a new 2048-bit RSA key. Key generation reads crypto/rand, which
// never fails.
func mustRSAKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("authtest: rsa key: " + err.Error())
	}
	return k
}

// mustECKey returns a new P-256 key.
func mustECKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("authtest: ec key: " + err.Error())
	}
	return k
}
