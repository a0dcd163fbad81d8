// Package oauthtest is an in-process OpenID Connect provider for tests of the upstream
// login: discovery, a JWK Set, an authorization endpoint that signs in a configured
// user at once (no page), and a token endpoint that checks the client, the redirect URI
// and PKCE S256 and answers with an ID token, and, once AllowIDJAG names a resource
// authorization server, the RFC 8693 token exchange of an enterprise IdP that turns
// one of its ID tokens into an ID-JAG (exchange.go). Only tests import it.
package oauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// UpstreamAccessToken is the access token the provider hands out; tests check that it
// never leaves the system under test.
const UpstreamAccessToken = "upstream-access-token-never-forwarded"

// User is who the provider signs in, as the claims of its ID tokens.
type User struct {
	Subject       string
	Email         string
	EmailVerified any // bool, a string, or nil to leave the claim out
	Name          string
	Groups        []string
	HostedDomain  string // Google's hd; "" leaves it out
}

// Provider is an OpenID Connect provider served by an httptest.Server. It is safe for
// concurrent use.
type Provider struct {
	srv          *httptest.Server
	key          *rsa.PrivateKey
	ecKey        *ecdsa.PrivateKey // signs ID-JAGs
	clientID     string
	clientSecret string

	mu       sync.Mutex
	user     User
	nonce    *string // when set, the nonce claim of every ID token
	codes    map[string]grant
	exchange int
	lastAuth url.Values
	jag      map[string]string // resource authorization server issuer -> client_id claim
	issued   []string          // the ID-JAGs handed out, oldest first
}

type grant struct {
	user                               User
	nonce, challenge, redirect, client string
}

// NewProvider starts a provider that knows one client; it stops when the test ends.
func NewProvider(t testing.TB, clientID, clientSecret string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{key: key, ecKey: ecKey, clientID: clientID, clientSecret: clientSecret, codes: map[string]grant{}, jag: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	mux.HandleFunc("GET /authorize", p.serveAuthorize)
	mux.HandleFunc("POST /token", p.serveToken)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// Close stops the provider before the test ends, as an identity provider that goes
// down does: connections to it are refused.
func (p *Provider) Close() { p.srv.Close() }

// URL returns the issuer identifier.
func (p *Provider) URL() string { return p.srv.URL }

// SetUser sets who the next authorizations sign in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetNonce makes every ID token carry nonce instead of the one the client sent, as a
// replayed or injected ID token would.
func (p *Provider) SetNonce(nonce string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonce = &nonce
}

// Exchanges returns how many code exchanges succeeded.
func (p *Provider) Exchanges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exchange
}

// LastAuthorization returns the query of the last authorization request.
func (p *Provider) LastAuthorization() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuth
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL(),
		"authorization_endpoint":                p.URL() + "/authorize",
		"token_endpoint":                        p.URL() + "/token",
		"jwks_uri":                              p.URL() + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"grant_types_supported":                 []string{"authorization_code", grantTokenExchange},
	})
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: p.key.Public(), KeyID: "k1", Algorithm: string(jose.RS256), Use: "sig"},
		{Key: p.ecKey.Public(), KeyID: "k2", Algorithm: string(jose.ES256), Use: "sig"},
	}})
}

// serveAuthorize signs the configured user in and redirects back with a code.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuth = q
	user := p.user
	p.mu.Unlock()
	switch {
	case q.Get("client_id") != p.clientID:
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code", q.Get("redirect_uri") == "":
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	code := random()
	p.mu.Lock()
	p.codes[code] = grant{user: user, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), client: q.Get("client_id")}
	p.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// serveToken authenticates the client and answers its grant: a code for an ID token,
// or an ID token for an ID-JAG.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	} else {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if id != p.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.clientSecret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		p.redeemCode(w, r, id)
	case grantTokenExchange:
		p.exchangeIDJAG(w, r)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	}
}

// redeemCode redeems a code for an ID token.
func (p *Provider) redeemCode(w http.ResponseWriter, r *http.Request, id string) {
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code)
	forced := p.nonce
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !found, g.redirect != r.PostForm.Get("redirect_uri"), g.client != id,
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	nonce := g.nonce
	if forced != nil {
		nonce = *forced
	}
	idToken, err := p.idToken(g.user, map[string]any{"nonce": nonce})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	p.mu.Lock()
	p.exchange++
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  UpstreamAccessToken,
		"refresh_token": "upstream-refresh-token-never-forwarded",
		"token_type":    "Bearer",
		"expires_in":    3600,
		"id_token":      idToken,
	})
}

// idToken is an ID token for u, for the provider's client, with the extra claims.
func (p *Provider) idToken(u User, extra map[string]any) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss": p.URL(), "sub": u.Subject, "aud": p.clientID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	for k, v := range userClaims(u) {
		claims[k] = v
	}
	return p.sign(claims)
}

// userClaims are the claims that describe u, each left out when empty.
func userClaims(u User) map[string]any {
	claims := map[string]any{}
	if u.Email != "" {
		claims["email"] = u.Email
	}
	if u.EmailVerified != nil {
		claims["email_verified"] = u.EmailVerified
	}
	if u.Name != "" {
		claims["name"] = u.Name
	}
	if u.Groups != nil {
		claims["groups"] = u.Groups
	}
	if u.HostedDomain != "" {
		claims["hd"] = u.HostedDomain
	}
	return claims
}

// sign signs claims with the RSA key (RS256, typ JWT), as ID tokens are.
func (p *Provider) sign(claims map[string]any) (string, error) {
	return signJWT(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: "k1"}}, "JWT", claims)
}

// signJWT signs claims with key under the header typ.
func signJWT(key jose.SigningKey, typ string, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
