package oauth

import (
	"net/http"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// benchServer is an authorization server on a memory store, and a grant to mint tokens
// for.
func benchServer(b *testing.B) (*Server, grant) {
	b.Helper()
	st, err := store.Open("memory://")
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
	})
	if err != nil {
		b.Fatal(err)
	}
	g := grant{
		clientID: "https://client.example.com/metadata.json",
		resource: "https://mcp.example.com/mcp",
		scopes:   []string{"mcp:read", "mcp:write"},
		identity: store.Identity{Subject: "alice@example.com", Email: "alice@example.com", EmailVerified: true, Name: "Alice", Groups: []string{"eng"}},
		family:   randomString(16),
	}
	return s, g
}

// BenchmarkAccessTokenCached is /auth's common case for mcpguard's own tokens: an MCP
// client sends the same access token on every request, so after the first one neither
// the signature nor the store is consulted again.
func BenchmarkAccessTokenCached(b *testing.B) {
	s, g := benchServer(b)
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
		r := auth.Request{Header: h}
		if _, err := v.Authenticate(&r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccessTokenUncached is a token's first use: the signature, the claims and
// the store's revocation checks (a memory store here).
func BenchmarkAccessTokenUncached(b *testing.B) {
	s, g := benchServer(b)
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
		r := auth.Request{Header: headers[i]}
		if _, err := v.Authenticate(&r); err != nil {
			b.Fatal(err)
		}
	}
}
