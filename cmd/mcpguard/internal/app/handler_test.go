package app

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const testKey = "test-key-0123456789abcdef"

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer builds mcpguard's handler from an environment with NewHandler, as serve
// does, with the log captured, at debug level unless environ sets LOG_LEVEL.
func testServer(t testing.TB, environ map[string]string) (http.Handler, *syncBuffer) {
	t.Helper()
	env := map[string]string{"LOG_LEVEL": "debug"}
	maps.Copy(env, environ)
	logs := &syncBuffer{}
	h, err := NewHandler(t.Context(), Options{Getenv: func(k string) string { return env[k] }, Log: logs})
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h, logs
}

// fwd builds a Traefik-style /auth subrequest for method and uri on mcp.example.com.
func fwd(method, uri string, kv ...string) *http.Request {
	r := httptest.NewRequest("GET", "/auth", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "mcp.example.com")
	r.Header.Set("X-Forwarded-Uri", uri)
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1]) // canonicalized, as net/http does for every wire header
	}
	return r
}

// writeFile writes content to a file name in a fresh directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// repoRoot is the module root, where examples/ lives.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestClientAuthDisabledWithoutTrust checks that the inconsistent ContextForge flags warn
// and trust nothing.
func TestClientAuthDisabledWithoutTrust(t *testing.T) {
	h, logs := testServer(t, map[string]string{
		"MCP_CLIENT_AUTH_ENABLED":  "false",
		"PROXY_AUTH_TRUSTED_CIDRS": "198.51.100.0/24",
		"MCP_PROXY_API_KEY":        testKey,
	})
	if !strings.Contains(logs.String(), "without TRUST_PROXY_AUTH=true") {
		t.Fatalf("no warning logged:\n%s", logs)
	}
	for _, kv := range [][]string{{"X-Authenticated-User", "alice@example.com"}, {"X-Api-Key", testKey}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fwd("POST", "/mcp", kv...))
		if w.Code != 401 {
			t.Errorf("%s: status %d, want 401", kv[0], w.Code)
		}
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	policyFile := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    required_scopes: [mcp:read]
    scopes_supported: [mcp:write, offline_access]
    metadata:
      resource_name: Team tools
  - url: https://other.example.com/tools/mcp
  - url: https://mcp.example.com/admin/mcp
`)
	h, _ := testServer(t, map[string]string{"POLICY_FILE": policyFile, "ISSUER_URL": "https://auth.example.com", "MCP_PROXY_API_KEY": testKey})
	tests := []struct {
		name, host, path string
		status           int
		want             string
	}{
		{"path form", "mcp.example.com", "/.well-known/oauth-protected-resource/mcp", 200,
			`{"bearer_methods_supported":["header"],"resource":"https://mcp.example.com/mcp","resource_name":"Team tools","scopes_supported":["mcp:read","mcp:write"]}`},
		{"path form, host ignored when unique", "evil.example", "/.well-known/oauth-protected-resource/tools/mcp", 200,
			`"resource":"https://other.example.com/tools/mcp"`},
		{"root form picks the host's resource", "other.example.com", "/.well-known/oauth-protected-resource", 200,
			`"resource":"https://other.example.com/tools/mcp"`},
		{"root form, ambiguous host", "mcp.example.com", "/.well-known/oauth-protected-resource", 200,
			`"resource":"https://mcp.example.com/mcp"`},
		{"forged host is never echoed", "evil.example", "/.well-known/oauth-protected-resource", 404, ""},
		{"unknown path", "mcp.example.com", "/.well-known/oauth-protected-resource/nope", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Host = tt.host
			r.Header.Set("X-Forwarded-Host", "evil.example")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.want) || strings.Contains(w.Body.String(), "evil") {
				t.Fatalf("body = %s, want %s", w.Body, tt.want)
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("no CORS header: %v", w.Header())
			}
		})
	}
	r := httptest.NewRequest("OPTIONS", "/.well-known/oauth-protected-resource/mcp", nil)
	r.Header.Set("Origin", "http://localhost:6274")
	r.Header.Set("Access-Control-Request-Method", "GET")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight = %d %v", w.Code, w.Header())
	}
}
