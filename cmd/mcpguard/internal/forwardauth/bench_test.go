package forwardauth_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// benchServer is testServer at the info level, with the audit log going
// nowhere: a benchmark of the decision path and of encoding its audit line, not of the
// log writer. BENCH_LOG_LEVEL=warn leaves the audit line out.
func benchServer(b *testing.B, environ map[string]string) http.Handler {
	b.Helper()
	env := map[string]string{"LOG_LEVEL": "info"}
	if l := os.Getenv("BENCH_LOG_LEVEL"); l != "" {
		env["LOG_LEVEL"] = l
	}
	for k, v := range environ {
		env[k] = v
	}
	return testServerLog(b, env, io.Discard)
}

func benchAuth(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("status = %d, want %d", w.Code, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkAuthBaseline is the ceiling: a handler that answers 200 and does nothing.
func BenchmarkAuthBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	benchAuth(b, h, fwd("POST", "/mcp"), 200)
}

func BenchmarkAuthAPIKey(b *testing.B) {
	h := benchServer(b, map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp", "REQUIRED_SCOPES": "mcp:read"})
	benchAuth(b, h, fwd("POST", "/mcp", "X-Api-Key", testKey), 200)
}

func BenchmarkAuthProxyHeader(b *testing.B) {
	h := benchServer(b, map[string]string{"MCP_CLIENT_AUTH_ENABLED": "false", "TRUST_PROXY_AUTH": "true",
		"PROXY_AUTH_TRUSTED_CIDRS": "198.51.100.0/24", "RESOURCE_URL": "https://mcp.example.com/mcp"})
	benchAuth(b, h, fwd("POST", "/mcp", "X-Authenticated-User", "alice@example.com"), 200)
}

func BenchmarkAuthRejected(b *testing.B) {
	h := benchServer(b, map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp"})
	benchAuth(b, h, fwd("POST", "/mcp", "X-Api-Key", "wrong-key-0123456789"), 401)
}

// BenchmarkAuthJWTCached is the common case for external JWTs: an MCP client sends the
// same access token on every request, so after the first one the signature is not
// verified again. Uncached verification is measured in package auth.
func BenchmarkAuthJWTCached(b *testing.B) {
	iss := authtest.NewIssuer(b)
	h := benchServer(b, map[string]string{"JWT_ISSUERS": iss.URL() + "=https://mcp.example.com/mcp", "RESOURCE_URL": "https://mcp.example.com/mcp"})
	tok := iss.Token(b, map[string]any{"sub": "u", "aud": "https://mcp.example.com/mcp", "scope": "mcp:read"}, authtest.WithAlg("ES256"))
	r := fwd("POST", "/mcp", "Authorization", "Bearer "+tok)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w := httptest.NewRecorder()
		if h.ServeHTTP(w, r); w.Code == 200 {
			break
		}
	}
	benchAuth(b, h, r, 200)
}

// BenchmarkAuthOwnToken is one of mcpguard's own access tokens, cached, on a resource
// without identity_assertion: the baseline of BenchmarkAuthOwnTokenAssertion.
func BenchmarkAuthOwnToken(b *testing.B) {
	f := startFlowServer(b, browserPolicy)
	benchAuth(b, f.h, fwd("POST", "/mcp", "Authorization", "Bearer "+f.token("https://mcp.example.com/mcp")), 200)
}

// BenchmarkAuthOwnTokenAssertion is BenchmarkAuthOwnToken on a resource with
// identity_assertion: the signed assertion comes from the cache.
func BenchmarkAuthOwnTokenAssertion(b *testing.B) {
	f := startFlowServer(b, browserPolicy)
	benchAuth(b, f.h, fwd("POST", "/signed", "Authorization", "Bearer "+f.token("https://mcp.example.com/signed")), 200)
}

// BenchmarkAuthSession is a browser session cookie on a resource that lists session:
// the cookie unsealed and the session read from the (memory) store on every request,
// its idle expiry written at most once a minute.
func BenchmarkAuthSession(b *testing.B) {
	f := startFlowServer(b, browserPolicy)
	f.login("/")
	benchAuth(b, f.h, fwd("GET", "/app/dash", "Accept", browserAccept, "Cookie", f.sessionCookie()), 200)
}
