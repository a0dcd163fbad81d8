package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpguard/mcpguard/auth"
)

const (
	basicMachine  = "m-basic"
	basicSecret   = "s3cret-basic"
	postMachine   = "m-post"
	postSecret    = "s3cret-post"
	jwtMachine    = "m-jwt"
	jwksMachine   = "m-jwks-uri"
	machineScopes = "mcp:read"
)

// machineKey is a client's ES256 key and its public JWK Set.
type machineKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newMachineKey(t testing.TB, kid string) machineKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return machineKey{priv: k, kid: kid}
}

func (k machineKey) jwks(t testing.TB) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sign signs claims with key as alg (an ecdsa key for ES256, a []byte for HS256).
func signAssertion(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// machineEnv is a flow environment with the machine clients configured.
type machineEnv struct {
	*flowEnv
	key, uriKey machineKey
	uriKeys     atomic.Pointer[json.RawMessage] // what the jwks_uri server serves
	fetches     atomic.Int32
}

func newMachineEnv(t *testing.T) *machineEnv {
	m := &machineEnv{key: newMachineKey(t, "k1"), uriKey: newMachineKey(t, "u1")}
	raw := m.uriKey.jwks(t)
	m.uriKeys.Store(&raw)
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*m.uriKeys.Load())
	}))
	t.Cleanup(keys.Close)
	m.flowEnv = newFlowEnv(t, func(c *Config) {
		c.InsecureCIMDAllowPrivate = true
		c.Clients = append(c.Clients,
			StaticClient{ID: basicMachine, Secret: basicSecret, TokenEndpointAuthMethod: authMethodSecretBasic,
				GrantTypes: []string{grantClientCredentials}, Scope: machineScopes, Resources: []string{flowResource}},
			StaticClient{ID: postMachine, SecretHash: clientSecretHash(postSecret), TokenEndpointAuthMethod: authMethodSecretPost,
				GrantTypes: []string{grantClientCredentials}},
			StaticClient{ID: jwtMachine, JWKS: m.key.jwks(t), GrantTypes: []string{grantClientCredentials}, Scope: "mcp:read mcp:write"},
			StaticClient{ID: jwksMachine, JWKSURI: keys.URL + "/jwks.json", GrantTypes: []string{grantClientCredentials}},
		)
	})
	return m
}

// assertion is a valid client assertion of jwtMachine, changed by edit.
func (m *machineEnv) assertion(t testing.TB, edit func(c *jwt.Claims)) string {
	now := m.clock.Now()
	c := jwt.Claims{Issuer: jwtMachine, Subject: jwtMachine, Audience: jwt.Audience{m.srv.URL},
		Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomString(8)}
	if edit != nil {
		edit(&c)
	}
	return signAssertion(t, jose.ES256, m.key.priv, m.key.kid, c)
}

func jwtForm(assertion string, extra ...string) url.Values {
	f := url.Values{"grant_type": {grantClientCredentials}, "client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func ccForm(extra ...string) url.Values {
	f := url.Values{"grant_type": {grantClientCredentials}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// TestClientCredentials ports the expectations of the MCP conformance scenarios
// auth/client-credentials-basic and auth/client-credentials-jwt.
func TestClientCredentials(t *testing.T) {
	m := newMachineEnv(t)
	replayed := m.assertion(t, nil)
	if a := m.postToken("/token", jwtForm(replayed)); a.status != http.StatusOK {
		t.Fatalf("first use of an assertion = %d %v, want 200", a.status, a.body)
	}
	other := newMachineKey(t, "k1")
	tests := []struct {
		name      string
		form      url.Values
		basic     []string
		status    int
		code      string // error code, "" on success
		challenge bool   // WWW-Authenticate: Basic
		client    string // on success: the client id the token is for
		resource  string
		scope     string
	}{
		{name: "basic", form: ccForm(), basic: []string{basicMachine, basicSecret}, status: 200, client: basicMachine, resource: flowResource, scope: "mcp:read"},
		{name: "basic wrong secret", form: ccForm(), basic: []string{basicMachine, "wrong"}, status: 401, code: codeInvalidClient, challenge: true},
		{name: "basic unknown client", form: ccForm(), basic: []string{"nobody", "x"}, status: 401, code: codeInvalidClient, challenge: true},
		{name: "basic client sends post", form: ccForm("client_id", basicMachine, "client_secret", basicSecret), status: 401, code: codeInvalidClient},
		{name: "post", form: ccForm("client_id", postMachine, "client_secret", postSecret), status: 200, client: postMachine, resource: flowResource, scope: "mcp:read mcp:write"},
		{name: "post wrong secret", form: ccForm("client_id", postMachine, "client_secret", "wrong"), status: 401, code: codeInvalidClient},
		{name: "post client sends basic", form: ccForm(), basic: []string{postMachine, postSecret}, status: 401, code: codeInvalidClient, challenge: true},
		{name: "post other resource", form: ccForm("client_id", postMachine, "client_secret", postSecret, "resource", flowOtherResource), status: 200, client: postMachine, resource: flowOtherResource, scope: "mcp:read mcp:write"},
		{name: "scope beyond the client's", form: ccForm("scope", "mcp:write"), basic: []string{basicMachine, basicSecret}, status: 400, code: codeInvalidScope},
		{name: "scope unknown", form: ccForm("scope", "admin"), basic: []string{basicMachine, basicSecret}, status: 400, code: codeInvalidScope},
		{name: "resource not allowed", form: ccForm("resource", flowOtherResource), basic: []string{basicMachine, basicSecret}, status: 400, code: codeInvalidTarget},
		{name: "resource unknown", form: ccForm("resource", "https://elsewhere.example/mcp"), basic: []string{basicMachine, basicSecret}, status: 400, code: codeInvalidTarget},
		{name: "public client", form: ccForm("client_id", pubClient), status: 400, code: codeUnauthorizedClient},
		{name: "browser client", form: ccForm(), basic: []string{confClient, confSecret}, status: 400, code: codeUnauthorizedClient},
		{name: "jwt aud issuer", form: jwtForm(m.assertion(t, nil)), status: 200, client: jwtMachine, resource: flowResource, scope: "mcp:read mcp:write"},
		{name: "jwt aud issuer slash", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Audience = jwt.Audience{m.srv.URL + "/"} })), status: 200, client: jwtMachine, resource: flowResource, scope: "mcp:read mcp:write"},
		{name: "jwt aud token endpoint", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Audience = jwt.Audience{m.srv.URL + "/token"} }), "scope", "mcp:write"), status: 200, client: jwtMachine, resource: flowResource, scope: "mcp:write"},
		{name: "jwt aud two slashes", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Audience = jwt.Audience{m.srv.URL + "//"} })), status: 401, code: codeInvalidClient},
		{name: "jwt aud other", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://other.example"} })), status: 401, code: codeInvalidClient},
		{name: "jwt expired", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(m.clock.Now().Add(-time.Minute)) })), status: 401, code: codeInvalidClient},
		{name: "jwt expired within skew", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(m.clock.Now().Add(-10 * time.Second)) })), status: 200, client: jwtMachine, resource: flowResource, scope: "mcp:read mcp:write"},
		{name: "jwt exp too far ahead", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(m.clock.Now().Add(10 * time.Minute)) })), status: 401, code: codeInvalidClient},
		{name: "jwt no exp", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Expiry = nil })), status: 401, code: codeInvalidClient},
		{name: "jwt nbf ahead", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(m.clock.Now().Add(2 * time.Minute)) })), status: 401, code: codeInvalidClient},
		{name: "jwt no jti", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.ID = "" })), status: 401, code: codeInvalidClient},
		{name: "jwt replayed", form: jwtForm(replayed), status: 401, code: codeInvalidClient},
		{name: "jwt wrong iss", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Issuer = postMachine })), status: 401, code: codeInvalidClient},
		{name: "jwt wrong sub", form: jwtForm(m.assertion(t, func(c *jwt.Claims) { c.Subject = "someone" })), status: 401, code: codeInvalidClient},
		{name: "jwt client_id differs", form: jwtForm(m.assertion(t, nil), "client_id", postMachine), status: 401, code: codeInvalidClient},
		{name: "jwt HS256", form: jwtForm(signAssertion(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "k1",
			jwt.Claims{Issuer: jwtMachine, Subject: jwtMachine, Audience: jwt.Audience{m.srv.URL}, Expiry: jwt.NewNumericDate(m.clock.Now().Add(time.Minute)), ID: "hs"})), status: 401, code: codeInvalidClient},
		{name: "jwt unknown kid", form: jwtForm(signAssertion(t, jose.ES256, m.key.priv, "k9",
			jwt.Claims{Issuer: jwtMachine, Subject: jwtMachine, Audience: jwt.Audience{m.srv.URL}, Expiry: jwt.NewNumericDate(m.clock.Now().Add(time.Minute)), ID: "kid"})), status: 401, code: codeInvalidClient},
		{name: "jwt other key same kid", form: jwtForm(signAssertion(t, jose.ES256, other.priv, "k1",
			jwt.Claims{Issuer: jwtMachine, Subject: jwtMachine, Audience: jwt.Audience{m.srv.URL}, Expiry: jwt.NewNumericDate(m.clock.Now().Add(time.Minute)), ID: "other"})), status: 401, code: codeInvalidClient},
		{name: "jwt wrong assertion type", form: func() url.Values {
			f := jwtForm(m.assertion(t, nil))
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return f
		}(), status: 401, code: codeInvalidClient},
		{name: "jwt and basic", form: jwtForm(m.assertion(t, nil)), basic: []string{jwtMachine, "x"}, status: 400, code: codeInvalidRequest},
		{name: "jwt client without assertion", form: ccForm("client_id", jwtMachine), status: 401, code: codeInvalidClient},
		{name: "assertion of a secret client", form: jwtForm(signAssertion(t, jose.ES256, m.key.priv, "k1",
			jwt.Claims{Issuer: postMachine, Subject: postMachine, Audience: jwt.Audience{m.srv.URL}, Expiry: jwt.NewNumericDate(m.clock.Now().Add(time.Minute)), ID: "sec"})), status: 401, code: codeInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := m.postToken("/token", tt.form, tt.basic...)
			if a.status != tt.status || a.str("error") != tt.code {
				t.Fatalf("POST /token = %d %v, want %d %q", a.status, a.body, tt.status, tt.code)
			}
			if got := strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", a.header.Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.code != "" {
				return
			}
			if a.body["refresh_token"] != nil {
				t.Errorf("refresh_token = %v, want none (RFC 6749 §4.4.3)", a.body["refresh_token"])
			}
			if a.str("scope") != tt.scope {
				t.Errorf("scope = %q, want %q", a.str("scope"), tt.scope)
			}
			p, err := m.verify(a.str("access_token"))
			if err != nil {
				t.Fatalf("verify(access_token) = %v", err)
			}
			if p.Source != auth.SourceClient || p.Subject != tt.client || p.ClientID != tt.client || len(p.Audiences) != 1 || p.Audiences[0] != tt.resource {
				t.Errorf("verify(access_token) = %+v, want Source %q, Subject and ClientID %q, audience %q", p, auth.SourceClient, tt.client, tt.resource)
			}
		})
	}
}

// TestClientCredentialsJWKSURI: keys from a jwks_uri are fetched once and cached; an
// unknown kid fetches them again, at most once per cooldown, so a rotated key works.
func TestClientCredentialsJWKSURI(t *testing.T) {
	m := newMachineEnv(t)
	sign := func(k machineKey) string {
		return signAssertion(t, jose.ES256, k.priv, k.kid, jwt.Claims{Issuer: jwksMachine, Subject: jwksMachine,
			Audience: jwt.Audience{m.srv.URL}, Expiry: jwt.NewNumericDate(m.clock.Now().Add(time.Minute)), ID: randomString(8)})
	}
	for range 2 {
		if a := m.postToken("/token", jwtForm(sign(m.uriKey))); a.status != http.StatusOK {
			t.Fatalf("POST /token = %d %v, want 200", a.status, a.body)
		}
	}
	if n := m.fetches.Load(); n != 1 {
		t.Fatalf("jwks_uri fetches = %d, want 1", n)
	}
	rotated := newMachineKey(t, "u2")
	raw := rotated.jwks(t)
	m.uriKeys.Store(&raw)
	m.clock.Advance(jwksCooldown)
	if a := m.postToken("/token", jwtForm(sign(rotated))); a.status != http.StatusOK {
		t.Fatalf("POST /token with a rotated key = %d %v, want 200", a.status, a.body)
	}
	// Another unknown kid within the cooldown: refused without a fetch.
	if a := m.postToken("/token", jwtForm(sign(newMachineKey(t, "u3")))); a.status != http.StatusUnauthorized {
		t.Fatalf("POST /token with an unknown kid = %d %v, want 401", a.status, a.body)
	}
	if n := m.fetches.Load(); n != 2 {
		t.Fatalf("jwks_uri fetches = %d, want 2", n)
	}
}

// TestASMetadataMachines: the metadata names client_credentials, private_key_jwt and
// its algorithms only when a configured client uses them, and keeps none always.
func TestASMetadataMachines(t *testing.T) {
	secretOnly := StaticClient{ID: "m", Secret: "s", GrantTypes: []string{grantClientCredentials}}
	keysOnly := StaticClient{ID: "k", JWKS: newMachineKey(t, "k1").jwks(t)} // private_key_jwt, authorization_code
	keysOnly.RedirectURIs = []string{"https://app.example/cb"}
	tests := []struct {
		name    string
		clients []StaticClient
		grants  []string
		methods []string
		algs    []string
	}{
		{"none configured", nil, []string{"authorization_code", "refresh_token"}, []string{"none", "client_secret_basic", "client_secret_post"}, nil},
		{"secret machine", []StaticClient{secretOnly}, []string{"authorization_code", "refresh_token", "client_credentials"}, []string{"none", "client_secret_basic", "client_secret_post"}, nil},
		{"keys without client_credentials", []StaticClient{keysOnly}, []string{"authorization_code", "refresh_token"},
			[]string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"}, []string{"ES256", "RS256", "EdDSA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t, func(c *Config) { c.Clients = tt.clients })
			resp := e.get(e.srv.URL + WellKnownAuthorizationServer)
			var doc struct {
				Grants  []string `json:"grant_types_supported"`
				Methods []string `json:"token_endpoint_auth_methods_supported"`
				Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
			}
			if err := json.Unmarshal([]byte(readBody(t, resp)), &doc); err != nil {
				t.Fatal(err)
			}
			if !slicesEqual(doc.Grants, tt.grants) || !slicesEqual(doc.Methods, tt.methods) || !slicesEqual(doc.Algs, tt.algs) {
				t.Errorf("metadata = %+v, want grants %q, methods %q, algs %q", doc, tt.grants, tt.methods, tt.algs)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, " ") == strings.Join(b, " ") }

// TestMachineClientConfig: bad combinations are errors naming the client.
func TestMachineClientConfig(t *testing.T) {
	jwks := newMachineKey(t, "k1").jwks(t)
	cc := []string{grantClientCredentials}
	tests := []struct {
		name   string
		client StaticClient
		want   string // in the error
	}{
		{"secret and hash", StaticClient{ID: "c", Secret: "s", SecretHash: clientSecretHash("s"), GrantTypes: cc}, "not both"},
		{"bad hash", StaticClient{ID: "c", SecretHash: "abc", GrantTypes: cc}, "64 lower-case hex"},
		{"jwt with secret", StaticClient{ID: "c", Secret: "s", TokenEndpointAuthMethod: authMethodPrivateKeyJWT, JWKS: jwks, GrantTypes: cc}, "takes no client_secret"},
		{"jwt without keys", StaticClient{ID: "c", TokenEndpointAuthMethod: authMethodPrivateKeyJWT, GrantTypes: cc}, "needs jwks or jwks_uri"},
		{"jwks and uri", StaticClient{ID: "c", JWKS: jwks, JWKSURI: "https://k.example/jwks", GrantTypes: cc}, "not both"},
		{"basic without secret", StaticClient{ID: "c", TokenEndpointAuthMethod: authMethodSecretBasic, GrantTypes: cc}, "needs client_secret"},
		{"keys with basic", StaticClient{ID: "c", Secret: "s", TokenEndpointAuthMethod: authMethodSecretBasic, JWKS: jwks, GrantTypes: cc}, "for private_key_jwt"},
		{"unknown method", StaticClient{ID: "c", Secret: "s", TokenEndpointAuthMethod: "tls_client_auth", GrantTypes: cc}, "not one of"},
		{"public machine", StaticClient{ID: "c", GrantTypes: cc}, "confidential"},
		{"unknown grant", StaticClient{ID: "c", Secret: "s", GrantTypes: []string{"password"}}, "not one of"},
		{"unknown scope", StaticClient{ID: "c", Secret: "s", GrantTypes: cc, Scope: "admin"}, "scope"},
		{"offline_access", StaticClient{ID: "c", Secret: "s", GrantTypes: cc, Scope: "offline_access"}, "offline_access"},
		{"unknown resource", StaticClient{ID: "c", Secret: "s", GrantTypes: cc, Resources: []string{"https://x.example/mcp"}}, "resource"},
		{"scope without client_credentials", StaticClient{ID: "c", Secret: "s", RedirectURIs: []string{"https://app.example/cb"}, Scope: "mcp:read"}, "grant_types"},
		{"redirect URIs without code", StaticClient{ID: "c", Secret: "s", GrantTypes: cc, RedirectURIs: []string{"https://app.example/cb"}}, "redirect_uris"},
		{"private jwks", StaticClient{ID: "c", JWKS: privateJWKS(t), GrantTypes: cc}, "public key"},
		{"http jwks_uri", StaticClient{ID: "c", JWKSURI: "http://k.example/jwks", GrantTypes: cc}, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFlowEnv(t, nil).st
			_, err := New(t.Context(), Config{Issuer: "https://auth.example.com", Store: st, Resources: []string{flowResource},
				AllowedScopes: []string{"mcp:read"}, Clients: []StaticClient{tt.client}, Provider: "local",
				SessionSecret: []byte("0123456789abcdef0123456789abcdef-session")})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"c"`) {
				t.Fatalf("New() = %v, want an error naming client \"c\" and containing %q", err, tt.want)
			}
		})
	}
}

func privateJWKS(t testing.TB) json.RawMessage {
	k := newMachineKey(t, "p1")
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv, KeyID: "p1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestClientCredentialsAlgorithms: RS256 and EdDSA assertions verify as ES256 ones do.
func TestClientCredentialsAlgorithms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  jose.SignatureAlgorithm
		priv any
		pub  any
	}{
		{"RS256", jose.RS256, rsaKey, &rsaKey.PublicKey},
		{"EdDSA", jose.EdDSA, edPriv, edPub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: tt.pub, KeyID: "k1", Algorithm: string(tt.alg)}}})
			if err != nil {
				t.Fatal(err)
			}
			e := newFlowEnv(t, func(c *Config) {
				c.Clients = append(c.Clients, StaticClient{ID: "m", JWKS: jwks, GrantTypes: []string{grantClientCredentials}})
			})
			a := e.postToken("/token", jwtForm(signAssertion(t, tt.alg, tt.priv, "k1", jwt.Claims{Issuer: "m", Subject: "m",
				Audience: jwt.Audience{e.srv.URL}, Expiry: jwt.NewNumericDate(e.clock.Now().Add(time.Minute)), ID: "j"})))
			if a.status != http.StatusOK {
				t.Fatalf("POST /token = %d %v, want 200", a.status, a.body)
			}
		})
	}
}
