package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// benchStores are the backends the store benchmarks run on: memory and a bolt file
// always, Redis and PostgreSQL when MCPGUARD_BENCH_REDIS and MCPGUARD_BENCH_POSTGRES
// name a database (bench/stores.sh starts both on loopback ports and sets them).
func benchStores(b *testing.B) map[string]string {
	b.Helper()
	dsns := map[string]string{
		"memory": "memory://",
		"bolt":   "bolt://" + filepath.Join(b.TempDir(), "bench.db"),
	}
	if dsn := os.Getenv("MCPGUARD_BENCH_REDIS"); dsn != "" {
		dsns["redis"] = dsn
	}
	if dsn := os.Getenv("MCPGUARD_BENCH_POSTGRES"); dsn != "" {
		dsns["postgres"] = dsn
	}
	return dsns
}

// benchStoreServer is an authorization server on the store dsn names, with one public
// static client.
func benchStoreServer(b *testing.B, dsn string) (*Server, store.Store, grant) {
	b.Helper()
	st, err := store.Open(dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s, err := New(b.Context(), Config{
		Issuer:        "https://auth.example.com",
		Store:         st,
		Resources:     []string{"https://mcp.example.com/mcp"},
		AllowedScopes: []string{"mcp:read", "mcp:write"},
		Provider:      "local",
		SessionSecret: []byte("0123456789abcdef0123456789abcdef-session"),
		Clients:       []StaticClient{{ID: "bench-cli", Name: "Bench", RedirectURIs: []string{"http://127.0.0.1/callback"}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	g := grant{
		clientID: "bench-cli",
		resource: "https://mcp.example.com/mcp",
		scopes:   []string{"mcp:read"},
		identity: store.Identity{Subject: "alice@example.com", Email: "alice@example.com", EmailVerified: true, Name: "Alice"},
		family:   randomString(16),
	}
	return s, st, g
}

// BenchmarkStoreAccessToken is /auth's check of one of mcpguard's own access tokens on
// each backend: cached (the same token again: no store call) and first-seen (signature,
// claims and the store's revocation checks, one round trip to a shared store).
func BenchmarkStoreAccessToken(b *testing.B) {
	for name, dsn := range benchStores(b) {
		b.Run(name+"/cached", func(b *testing.B) {
			s, _, g := benchStoreServer(b, dsn)
			tok, _, err := s.mintAccessToken(g, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			h := http.Header{"Authorization": {"Bearer " + tok}}
			v := s.AccessTokens()
			if _, err := v.Authenticate(&auth.Request{Header: h}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Authenticate(&auth.Request{Header: h}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/first-seen", func(b *testing.B) {
			s, _, g := benchStoreServer(b, dsn)
			headers := make([]http.Header, b.N)
			for i := range headers {
				tok, _, err := s.mintAccessToken(g, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				headers[i] = http.Header{"Authorization": {"Bearer " + tok}}
			}
			v := s.AccessTokens()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Authenticate(&auth.Request{Header: headers[i]}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStoreCodeExchange is the store's share of a login on each backend: an
// authorization code stored (what /authorize does once the user consented) and
// exchanged at /token with PKCE for an access and a refresh token. The login page,
// bcrypt and the consent page are left out.
func BenchmarkStoreCodeExchange(b *testing.B) {
	for name, dsn := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			s, st, g := benchStoreServer(b, dsn)
			mux := http.NewServeMux()
			s.Routes(mux)
			verifier := strings.Repeat("v", 43)
			sum := sha256.Sum256([]byte(verifier))
			challenge := base64.RawURLEncoding.EncodeToString(sum[:])
			b.ReportAllocs()
			for b.Loop() {
				code := randomString(32)
				h := sha256.Sum256([]byte(code))
				if err := st.CreateAuthCode(b.Context(), store.AuthCode{
					CodeHash: hex.EncodeToString(h[:]), ClientID: g.clientID, RedirectURI: "http://127.0.0.1/callback",
					CodeChallenge: challenge, Resource: g.resource, Scopes: g.scopes, Identity: g.identity,
					FamilyID: randomString(16), ExpiresAt: time.Now().Add(time.Minute),
				}); err != nil {
					b.Fatal(err)
				}
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {g.clientID},
					"redirect_uri": {"http://127.0.0.1/callback"}, "code_verifier": {verifier}, "resource": {g.resource}}
				r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("POST /token = %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
