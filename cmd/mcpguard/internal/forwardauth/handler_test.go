package forwardauth_test

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
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

// testServer builds mcpguard's handler from an environment, as serve does, with the log
// captured, at debug level unless environ sets LOG_LEVEL.
func testServer(t testing.TB, environ map[string]string) (http.Handler, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	return testServerLog(t, environ, logs), logs
}

// testServerLog is testServer with the log written to w.
func testServerLog(t testing.TB, environ map[string]string, w io.Writer) http.Handler {
	t.Helper()
	env := map[string]string{"LOG_LEVEL": "debug"}
	maps.Copy(env, environ)
	h, err := app.NewHandler(t.Context(), app.Options{Getenv: func(k string) string { return env[k] }, Log: w})
	if err != nil {
		t.Fatalf("app.NewHandler: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
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

// TestAuthBadInput is the bad-input table of forwardAuth services (the numbered rows),
// for the credential kinds of API keys: every row is denied, never 200.
func TestAuthBadInput(t *testing.T) {
	keys := writeFile(t, "keys.yaml", `keys:
  - name: reader
    sha256: `+auth.HashKey("reader-key-0123456789")+`
    scopes: [mcp:read]
`)
	h, logs := testServer(t, map[string]string{
		"RESOURCE_URL":      "https://mcp.example.com/mcp",
		"MCP_PROXY_API_KEY": testKey,
		"API_KEYS_FILE":     keys,
		"REQUIRED_SCOPES":   "mcp:read",
		"PUBLIC_PATHS":      "/public",
	})
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantAuthn  string // substring of WWW-Authenticate ("" = header must be absent)
	}{
		// Row 1: no credential.
		{"no credential", fwd("POST", "/mcp"), 401, `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`},
		{"no credential on a sub path", fwd("GET", "/mcp/stream"), 401, "resource_metadata="},
		// Row 3: an unparseable or missing original request is denied (Authelia GHSA-68wm-pfjf-wqp6).
		{"uri bad escape", fwd("GET", "/mcp%zz", "X-Api-Key", testKey), 403, ""},
		{"uri control char", fwd("GET", "/mcp\x7f", "X-Api-Key", testKey), 403, ""},
		{"uri absolute", fwd("GET", "https://evil.example/mcp", "X-Api-Key", testKey), 403, ""},
		{"uri relative", fwd("GET", "mcp", "X-Api-Key", testKey), 403, ""},
		{"no host", func() *http.Request {
			r := fwd("GET", "/mcp", "X-Api-Key", testKey)
			r.Header.Del("X-Forwarded-Host")
			return r
		}(), 403, ""},
		{"no proto", func() *http.Request {
			r := fwd("GET", "/mcp", "X-Api-Key", testKey)
			r.Header.Del("X-Forwarded-Proto")
			return r
		}(), 403, ""},
		// Row 4: forwarded headers from a peer outside TRUSTED_PROXIES are not believed.
		{"untrusted peer", func() *http.Request { r := fwd("GET", "/public/x"); r.RemoteAddr = "203.0.113.5:1234"; return r }(), 403, ""},
		// Row 5: path tricks are judged as the upstream serves them.
		// Paths routers disagree on are refused (403 ambiguous_path), credential or not.
		{"dot dot out of public", fwd("POST", "/public/../mcp"), 403, ""},
		{"encoded dot dot out of public", fwd("POST", "/public/%2e%2e/mcp"), 403, ""},
		{"dot dot into public", fwd("POST", "/mcp/..;/public"), 403, ""},
		{"encoded dot dot into public", fwd("POST", "/mcp/%2e%2e/public"), 403, ""},
		{"dot segment with a valid key", fwd("POST", "/mcp/./x", "X-Api-Key", testKey), 403, ""},
		{"double slash", fwd("POST", "//mcp"), 403, ""},
		{"four slashes to public", fwd("GET", "////public"), 403, ""},
		{"query carrying a path", fwd("POST", "/mcp?path=/public"), 401, "resource_metadata="},
		{"encoded hash", fwd("POST", "/public%23/../mcp"), 403, ""},
		{"encoded slash", fwd("POST", "/public%2F..%2Fmcp"), 403, ""},
		{"params", fwd("POST", "/public/..;/mcp"), 403, ""},
		{"params on a public path", fwd("GET", "/public;x=1"), 403, ""},
		{"case variant of public", fwd("POST", "/PUBLIC/x"), 401, "resource_metadata="},
		// Row 6: client-supplied identity headers give no identity.
		{"spoofed identity headers", fwd("POST", "/mcp", "X-Forwarded-User", "admin@example.com", "X-Auth-Source", "apikey",
			"X_Forwarded_User", "admin@example.com", "X-Authenticated-User", "admin@example.com"), 401, "resource_metadata="},
		// Row 9: host case and trailing dot still select the resource, so its scope rules apply.
		{"host mixed case and dot", func() *http.Request {
			r := fwd("POST", "/mcp")
			r.Header.Set("X-Forwarded-Host", "MCP.Example.COM.")
			return r
		}(), 401, "resource_metadata="},
		{"other host", func() *http.Request {
			r := fwd("POST", "/mcp", "X-Api-Key", testKey)
			r.Header.Set("X-Forwarded-Host", "evil.example.com")
			return r
		}(), 403, ""},
		// Row 10: no health-check special cases inside /auth (oauth2-proxy GHSA-5hvv-m4w4-gf6v).
		{"health check user agent", fwd("POST", "/mcp", "User-Agent", "kube-probe/1.30"), 401, "resource_metadata="},
		{"healthz path", fwd("GET", "/healthz"), 401, "resource_metadata="},
		// Row 11 (for API keys and bearer values): wrong key, malformed header.
		{"wrong key", fwd("POST", "/mcp", "X-Api-Key", "wrong-key-0123456789"), 401, `error="invalid_token"`},
		{"wrong bearer", fwd("POST", "/mcp", "Authorization", "Bearer wrong-key-0123456789"), 401, `error="invalid_token"`},
		{"bearer JWT nobody verifies", fwd("POST", "/mcp", "Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"), 401, `error="invalid_token"`},
		{"basic auth", fwd("POST", "/mcp", "Authorization", "Basic dXNlcjpwYXNz"), 401, `error="invalid_token"`},
		{"two keys", fwd("POST", "/mcp", "X-Api-Key", testKey, "X-Api-Key", "other"), 401, `error="invalid_token"`},
		{"key with spaces", fwd("POST", "/mcp", "X-Api-Key", testKey+" x"), 401, `error="invalid_token"`},
		{"huge key", fwd("POST", "/mcp", "X-Api-Key", strings.Repeat("k", 8192)), 401, `error="invalid_token"`},
		// Row 12: a token in the query string is never read.
		{"access_token in query", fwd("POST", "/mcp?access_token="+testKey), 401, "resource_metadata="},
		{"api_key in query", fwd("POST", "/mcp?api_key="+testKey), 401, "resource_metadata="},
		// Row 13: a huge cookie is not a credential.
		{"huge cookie", fwd("POST", "/mcp", "Cookie", "session="+strings.Repeat("c", 6000)), 401, "resource_metadata="},
		// Row 14: conditional requests never get a 304.
		{"if-none-match", fwd("POST", "/mcp", "If-None-Match", `"x"`, "If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"), 401, "resource_metadata="},
		// Scope step-up: the reader key lacks mcp:write on a rule-less resource only when required.
		{"malformed mcp header", fwd("POST", "/mcp", "X-Api-Key", testKey, "Mcp-Method", "tools/call", "Mcp-Method", "tools/list"), 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			got := w.Header().Values("Www-Authenticate")
			if tt.wantAuthn == "" && len(got) != 0 {
				t.Fatalf("WWW-Authenticate = %q, want none", got)
			}
			if tt.wantAuthn != "" && (len(got) != 1 || !strings.Contains(got[0], tt.wantAuthn)) {
				t.Fatalf("WWW-Authenticate = %q, want one containing %q", got, tt.wantAuthn)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q, want application/json", ct)
			}
			if w.Header().Get("X-Forwarded-User") != "" || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("denial headers = %v", w.Header())
			}
		})
	}
	// Row 16: the log holds no key, token or query string.
	for _, secret := range []string{testKey, "wrong-key-0123456789", "dXNlcjpwYXNz", "access_token", "eyJhbGciOiJub25lIn0"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}
