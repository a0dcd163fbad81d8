package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	rsClient  = "rs"
	rsSecret  = "rs-secret-0123456789abcdef"
	rsMachine = "rs-machine"
	rsMSecret = "rs-machine-secret-0123456789"
)

// newIntrospectEnv is a flow environment with a resource server and a machine.
func newIntrospectEnv(t *testing.T) *flowEnv {
	return newFlowEnv(t, func(c *Config) {
		c.Clients = append(c.Clients,
			StaticClient{ID: rsClient, Secret: rsSecret, Introspection: true},
			StaticClient{ID: rsMachine, Secret: rsMSecret, GrantTypes: []string{grantClientCredentials}, Resources: []string{flowResource}},
		)
	})
}

func (e *flowEnv) introspect(form url.Values, basic ...string) tokenAnswer {
	e.t.Helper()
	return e.postToken("/introspect", form, basic...)
}

// introspectBearer posts form to /introspect with Basic credentials or, when bearer
// is set, an Authorization: Bearer header instead.
func (e *flowEnv) introspectBearer(t *testing.T, form url.Values, bearer string, basic ...string) tokenAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a := tokenAnswer{status: resp.StatusCode, header: resp.Header}
	if b := readBody(t, resp); b != "" {
		if err := json.Unmarshal([]byte(b), &a.body); err != nil {
			t.Fatalf("/introspect answer %q is not JSON: %v", b, err)
		}
	}
	return a
}

// otherIssuerJWT is a well-formed ES256 access token of another issuer.
func otherIssuerJWT(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "x"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(map[string]any{"iss": "https://other.example", "sub": "alice", "aud": flowResource,
		"client_id": pubClient, "jti": "j", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestIntrospectRequests: hostile and malformed requests get an error or
// {"active":false}, never anything that tells inactive tokens apart.
func TestIntrospectRequests(t *testing.T) {
	e := newIntrospectEnv(t)
	a := e.tokens()
	at := a.str("access_token")
	rs := []string{rsClient, rsSecret}
	parts := strings.Split(strings.TrimPrefix(at, "mcpg_at_"), ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	tests := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		code   string // error code; "" for an answer
	}{
		{name: "no client authentication", form: url.Values{"token": {at}}, status: 401, code: codeInvalidClient},
		{name: "wrong secret", form: url.Values{"token": {at}}, basic: []string{rsClient, "wrong"}, status: 401, code: codeInvalidClient},
		{name: "secret in the form and Basic", form: url.Values{"token": {at}, "client_secret": {rsSecret}}, basic: rs, status: 400, code: codeInvalidRequest},
		{name: "unknown client", form: url.Values{"token": {at}}, basic: []string{"nobody", "x"}, status: 401, code: codeInvalidClient},
		{name: "confidential client, not a resource server", form: url.Values{"token": {at}}, basic: []string{confClient, confSecret}, status: 401, code: codeInvalidClient},
		{name: "machine, not a resource server", form: url.Values{"token": {at}}, basic: []string{rsMachine, rsMSecret}, status: 401, code: codeInvalidClient},
		{name: "public client", form: url.Values{"token": {at}, "client_id": {pubClient}}, status: 401, code: codeInvalidClient},
		{name: "bearer instead of client authentication", form: url.Values{"token": {at}}, status: 401, code: codeInvalidClient},
		{name: "no token", form: url.Values{}, basic: rs, status: 400, code: codeInvalidRequest},
		{name: "empty token", form: url.Values{"token": {""}}, basic: rs, status: 400, code: codeInvalidRequest},
		{name: "repeated token", form: url.Values{"token": {at, at}}, basic: rs, status: 400, code: codeInvalidRequest},
		{name: "oversized body", form: url.Values{"token": {at}, "pad": {strings.Repeat("x", 70<<10)}}, basic: rs, status: 400, code: codeInvalidRequest},
		{name: "garbage", form: url.Values{"token": {"not a token at all"}}, basic: rs, status: 200},
		{name: "garbage JWT", form: url.Values{"token": {"eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}}, basic: rs, status: 200},
		{name: "forged signature", form: url.Values{"token": {forged}}, basic: rs, status: 200},
		{name: "other issuer's JWT", form: url.Values{"token": {otherIssuerJWT(t)}}, basic: rs, status: 200},
		{name: "unknown refresh token", form: url.Values{"token": {"mcpg_rt_nothing"}, "token_type_hint": {"refresh_token"}}, basic: rs, status: 200},
		{name: "refresh token without the hint", form: url.Values{"token": {a.str("refresh_token")}}, basic: rs, status: 200},
		{name: "refresh token with another hint", form: url.Values{"token": {a.str("refresh_token")}, "token_type_hint": {"access_token"}}, basic: rs, status: 200},
		{name: "overlong token", form: url.Values{"token": {strings.Repeat("a", 20<<10)}}, basic: rs, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bearer string
			if tt.name == "bearer instead of client authentication" {
				bearer = at
			}
			a := e.introspectBearer(t, tt.form, bearer, tt.basic...)
			if a.status != tt.status || a.str("error") != tt.code {
				t.Fatalf("introspect = %d %v, want %d %q", a.status, a.body, tt.status, tt.code)
			}
			if tt.code == "" && (len(a.body) != 1 || a.body["active"] != false) {
				t.Errorf("introspect = %v, want exactly {\"active\":false}", a.body)
			}
			if got := a.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// TestIntrospectLive: a live access token is described, and stops being active when
// revoked or expired; a refresh token is described with its hint while current.
func TestIntrospectLive(t *testing.T) {
	e := newIntrospectEnv(t)
	a := e.tokens()
	at := a.str("access_token")
	got := e.introspect(url.Values{"token": {at}}, rsClient, rsSecret)
	if got.status != http.StatusOK || got.body["active"] != true {
		t.Fatalf("introspect(live) = %d %v, want active", got.status, got.body)
	}
	var claims map[string]any
	if err := json.Unmarshal(mustJWTPayload(t, at), &claims); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti"} {
		if got.body[k] != claims[k] || got.body[k] == nil {
			t.Errorf("introspect(live)[%q] = %v, want the token's %v", k, got.body[k], claims[k])
		}
	}
	if got.body["token_type"] != "Bearer" || got.body["client_id"] != pubClient || got.body["iss"] != e.srv.URL {
		t.Errorf("introspect(live) = %v, want token_type Bearer, client_id %q, iss %q", got.body, pubClient, e.srv.URL)
	}
	if got.body["username"] == nil || got.body["username"] != claims["email"] {
		t.Errorf("introspect(live) username = %v, want the email %v", got.body["username"], claims["email"])
	}
	// Post with the secret in the form works too (no method configured).
	if p := e.introspect(url.Values{"token": {at}, "client_id": {rsClient}, "client_secret": {rsSecret}}); p.body["active"] != true {
		t.Errorf("introspect(client_secret_post) = %d %v, want active", p.status, p.body)
	}

	rt := a.str("refresh_token")
	r := e.introspect(url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, rsClient, rsSecret)
	if r.body["active"] != true || r.body["token_type"] != "refresh_token" || r.body["client_id"] != pubClient || r.body["aud"] != flowResource {
		t.Errorf("introspect(refresh token) = %d %v, want active refresh_token of %q for %q", r.status, r.body, pubClient, flowResource)
	}

	// A machine's token.
	m := e.postToken("/token", url.Values{"grant_type": {grantClientCredentials}}, rsMachine, rsMSecret)
	mt := e.introspect(url.Values{"token": {m.str("access_token")}}, rsClient, rsSecret)
	if mt.body["active"] != true || mt.body["client_id"] != rsMachine || mt.body["sub"] != rsMachine {
		t.Errorf("introspect(machine token) = %d %v, want active for %q", mt.status, mt.body, rsMachine)
	}

	// Rotation: the old refresh token is no longer current.
	if n := e.refresh(rt); n.status != http.StatusOK {
		t.Fatalf("refresh = %d %v", n.status, n.body)
	}
	if r := e.introspect(url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, rsClient, rsSecret); len(r.body) != 1 || r.body["active"] != false {
		t.Errorf("introspect(rotated refresh token) = %v, want {\"active\":false}", r.body)
	}

	// Revoked.
	if r := e.revoke(at); r.status != http.StatusOK {
		t.Fatalf("revoke = %d %v", r.status, r.body)
	}
	if r := e.introspect(url.Values{"token": {at}}, rsClient, rsSecret); len(r.body) != 1 || r.body["active"] != false {
		t.Errorf("introspect(revoked) = %v, want {\"active\":false}", r.body)
	}

	// Expired.
	e.clock.Advance(2 * time.Hour)
	if r := e.introspect(url.Values{"token": {m.str("access_token")}}, rsClient, rsSecret); len(r.body) != 1 || r.body["active"] != false {
		t.Errorf("introspect(expired) = %v, want {\"active\":false}", r.body)
	}
}

// mustJWTPayload decodes the payload of a JWT, mcpguard's prefix removed.
func mustJWTPayload(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(tok, "mcpg_at_"), ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in a JWT", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIntrospectionConfig: the endpoint is advertised only with a resource server
// configured, and without one refuses every client; a public resource server is
// refused at start-up.
func TestIntrospectionConfig(t *testing.T) {
	e := newFlowEnv(t, nil)
	if a := e.introspectBearer(t, url.Values{"token": {"x"}}, "", confClient, confSecret); a.status != http.StatusUnauthorized || a.str("error") != codeInvalidClient {
		t.Errorf("introspect without a resource server = %d %v, want 401 invalid_client", a.status, a.body)
	}
	md := readBody(t, e.get(WellKnownAuthorizationServer))
	if strings.Contains(md, "introspection") {
		t.Errorf("metadata without a resource server = %s, want no introspection_endpoint", md)
	}
	r := newIntrospectEnv(t)
	md = readBody(t, r.get(WellKnownAuthorizationServer))
	var doc map[string]any
	if err := json.Unmarshal([]byte(md), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["introspection_endpoint"] != r.srv.URL+"/introspect" {
		t.Errorf("introspection_endpoint = %v, want %q", doc["introspection_endpoint"], r.srv.URL+"/introspect")
	}
	methods, _ := json.Marshal(doc["introspection_endpoint_auth_methods_supported"])
	if string(methods) != `["client_secret_basic","client_secret_post"]` {
		t.Errorf("introspection_endpoint_auth_methods_supported = %s", methods)
	}

	cfg := e.cfg
	cfg.Clients = []StaticClient{{ID: "rs-public", Introspection: true}}
	if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "introspection needs a confidential client") {
		t.Errorf("New(public resource server) = %v, want a confidential client error", err)
	}
}

// TestIntrospectPrivateKeyJWT: a resource server may authenticate with a signed
// assertion, and the metadata then lists private_key_jwt for introspection.
func TestIntrospectPrivateKeyJWT(t *testing.T) {
	key := newMachineKey(t, "rs1")
	e := newFlowEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, StaticClient{ID: "rs-jwt", JWKS: key.jwks(t), Introspection: true})
	})
	at := e.tokens().str("access_token")
	assertion := func(aud string) string {
		now := e.clock.Now()
		return signAssertion(t, jose.ES256, key.priv, key.kid, jwt.Claims{Issuer: "rs-jwt", Subject: "rs-jwt", Audience: jwt.Audience{aud},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomString(8)})
	}
	form := func(a string) url.Values {
		return url.Values{"token": {at}, "client_assertion_type": {assertionTypeJWTBearer}, "client_assertion": {a}}
	}
	if a := e.introspect(form(assertion(e.srv.URL))); a.status != http.StatusOK || a.body["active"] != true {
		t.Errorf("introspect with private_key_jwt = %d %v, want active", a.status, a.body)
	}
	replayed := assertion(e.srv.URL)
	e.introspect(form(replayed))
	if a := e.introspect(form(replayed)); a.status != http.StatusUnauthorized || a.str("error") != codeInvalidClient {
		t.Errorf("introspect with a replayed assertion = %d %v, want 401 invalid_client", a.status, a.body)
	}
	if a := e.introspect(form(assertion("https://other.example"))); a.status != http.StatusUnauthorized {
		t.Errorf("introspect with an assertion for another audience = %d %v, want 401", a.status, a.body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(readBody(t, e.get(WellKnownAuthorizationServer))), &doc); err != nil {
		t.Fatal(err)
	}
	methods, _ := json.Marshal(doc["introspection_endpoint_auth_methods_supported"])
	if string(methods) != `["client_secret_basic","client_secret_post","private_key_jwt"]` {
		t.Errorf("introspection_endpoint_auth_methods_supported = %s, want private_key_jwt listed", methods)
	}
}
