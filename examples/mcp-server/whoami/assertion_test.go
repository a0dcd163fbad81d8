package whoami_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

const assertedResource = "https://mcp.example.com/mcp"

// issuer is mcpguard's authorization server serving /jwks, and a second one on the same
// store (the same keys) whose clock is ten minutes behind, to mint expired assertions.
type issuer struct {
	url        string
	now, stale *oauth.IdentityAssertions
}

func startIssuer(t *testing.T) *issuer {
	t.Helper()
	st, err := store.New(store.Config{DSN: "memory://"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	hash, err := bcrypt.GenerateFromPassword([]byte("unused-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	build := func(now func() time.Time) *oauth.Server {
		as, err := oauth.New(t.Context(), oauth.Config{Issuer: srv.URL, Store: st, Resources: []string{assertedResource},
			Provider: "local", LocalUsers: []oauth.LocalUser{{Email: "a@example.com", PasswordHash: string(hash)}},
			SessionSecret: []byte(strings.Repeat("s", 32)), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	as := build(time.Now)
	as.Routes(mux)
	stale := build(func() time.Time { return time.Now().Add(-10 * time.Minute) })
	return &issuer{url: srv.URL, now: as.IdentityAssertions(), stale: stale.IdentityAssertions()}
}

var alice = &auth.Principal{Subject: "alice@example.com", Email: "alice@example.com", Groups: []string{"eng"}, Source: "oauth", ClientID: "cli"}

// forged signs claims with a key of its own under the kid of the issuer's key.
func forged(t *testing.T, iss *issuer, typ string, claims map[string]any) string {
	t.Helper()
	resp, err := http.Get(iss.url + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: set.Keys[0].KeyID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, _ := signer.Sign(payload)
	s, _ := jws.CompactSerialize()
	return s
}

func TestAssertionVerifier(t *testing.T) {
	iss := startIssuer(t)
	v, err := whoami.NewAssertionVerifier(t.Context(), whoami.AssertionOptions{Issuer: iss.url, Audience: assertedResource})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(ia *oauth.IdentityAssertions, resource string) string {
		tok, err := ia.Assertion(resource, alice)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint(iss.now, assertedResource)
	claims := map[string]any{"iss": iss.url, "aud": assertedResource, "sub": "mallory", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	tests := []struct {
		name   string
		header []string
		ok     bool
	}{
		{"mcpguard's assertion", []string{good}, true},
		{"missing", nil, false},
		{"empty (what /auth sends for an anonymous request)", []string{""}, false},
		{"twice", []string{good, good}, false},
		{"forged: another key under the issuer's kid", []string{forged(t, iss, whoami.AssertionType, claims)}, false},
		{"forged as an access token (typ at+jwt)", []string{forged(t, iss, "at+jwt", claims)}, false},
		{"another resource's", []string{mint(iss.now, "https://other.example.com/mcp")}, false},
		{"expired", []string{mint(iss.stale, assertedResource)}, false},
		{"tampered payload", []string{tamper(good)}, false},
		{"not a JWT", []string{"hello"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{whoami.DefaultAssertionHeader: tt.header}
			c, err := v.Verify(t.Context(), h)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %+v, %v; want ok %v", c, err, tt.ok)
			}
			if tt.ok && (c.Subject != alice.Subject || c.Email != alice.Email || c.ClientID != "cli" || c.AuthSource != "oauth" || len(c.Groups) != 1) {
				t.Errorf("Verify = %+v, want alice's claims", c)
			}
		})
	}
}

// tamper changes the subject in a compact JWS while keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	claims := map[string]any{}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(b, &claims)
	claims["sub"] = "mallory"
	b, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestRequireAssertion: the MCP endpoint answers only requests with mcpguard's
// assertion, and its whoami tool reports the verified subject, not a client's copy.
func TestRequireAssertion(t *testing.T) {
	iss := startIssuer(t)
	v, err := whoami.NewAssertionVerifier(t.Context(), whoami.AssertionOptions{Issuer: iss.url, Audience: assertedResource})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(whoami.Handler(whoami.Options{AllowedHosts: []string{"mcp.example.com"}, Assertions: v}))
	defer srv.Close()

	for name, h := range map[string]http.Header{"missing": {}, "forged": {whoami.DefaultAssertionHeader: {tamper(must(iss.now.Assertion(assertedResource, alice)))}}} {
		if got := postInitialize(t, srv.URL, "mcp.example.com", h); got != http.StatusUnauthorized {
			t.Errorf("%s assertion: POST /mcp = %d, want 401", name, got)
		}
	}

	set := http.Header{whoami.DefaultAssertionHeader: {must(iss.now.Assertion(assertedResource, alice))}, whoami.VerifiedSubjectHeader: {"mallory"}}
	s := connect(t, srv.URL+whoami.Path, headerTransport{host: "mcp.example.com", set: set})
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("CallTool(whoami) = %v", err)
	}
	var got whoami.Identity
	structured(t, res, &got)
	if got.VerifiedSubject != alice.Subject {
		t.Errorf("whoami verified_subject = %q, want %q", got.VerifiedSubject, alice.Subject)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
