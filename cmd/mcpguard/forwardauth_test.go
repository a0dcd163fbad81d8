package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/rs/zerolog"
)

// identityHeaders are the headers of every 200.
var identityHeaders = forwardauth.IdentityHeaders()

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

// testServer builds mcpguard's handler from an environment, exactly as serve does, with
// the log captured.
func testServer(t testing.TB, environ map[string]string) (http.Handler, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	return testServerLog(t, environ, logs), logs
}

// testServerLog is testServer with the log written to w.
func testServerLog(t testing.TB, environ map[string]string, w io.Writer) http.Handler {
	t.Helper()
	getenv := func(k string) string { return environ[k] }
	c, err := loadConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	// The production logger (timestamps, format); at debug level unless LOG_LEVEL says.
	log := newLogger(c, w)
	if environ["LOG_LEVEL"] == "" {
		log = log.Level(zerolog.DebugLevel)
	}
	m := newMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := newSetup(ctx, &c, log, m, "")
	if err != nil {
		t.Fatalf("newSetup: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	d := forwardauth.New(forwardauth.Options{Policy: s.policy, Authenticators: s.authenticators, TrustedProxies: c.trustedProxies,
		PassUpstreamAuthorization: c.PassUpstreamAuthorization, Log: log})
	m.registry.MustRegister(d.Collectors()...)
	return newServer(log, d, s.meta, s.as, &readiness{}, m, c.ProtectedPath)
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

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuthBadInput is the bad-input table of reference/forwardauth-proxies.md §3.2 for
// the credential kinds /auth has today: every row is denied, never 200.
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
		{"dot dot out of public", fwd("POST", "/public/../mcp"), 401, "resource_metadata="},
		{"encoded dot dot out of public", fwd("POST", "/public/%2e%2e/mcp"), 401, "resource_metadata="},
		{"double slash", fwd("POST", "//mcp"), 401, "resource_metadata="},
		{"query carrying a path", fwd("POST", "/mcp?path=/public"), 401, "resource_metadata="},
		{"encoded hash", fwd("POST", "/public%23/../mcp"), 403, ""},
		{"encoded slash", fwd("POST", "/public%2F..%2Fmcp"), 403, ""},
		{"params", fwd("POST", "/public/..;/mcp"), 401, "resource_metadata="},
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

func TestAuthAllow(t *testing.T) {
	keys := writeFile(t, "keys.yaml", `keys:
  - name: ci-bot
    sha256: `+auth.HashKey("ci-bot-key-0123456789")+`
    email: ci@example.com
    groups: [bots, deploy]
    scopes: [mcp:write]
  - name: reader
    sha256: `+auth.HashKey("reader-key-0123456789")+`
    scopes: [mcp:read]
`)
	h, _ := testServer(t, map[string]string{
		"RESOURCE_URL":    "https://mcp.example.com/mcp",
		"API_KEYS_FILE":   keys,
		"REQUIRED_SCOPES": "mcp:read",
		"PUBLIC_PATHS":    "/public",
	})
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		want       map[string]string
	}{
		{"file key", fwd("POST", "/mcp", "X-Api-Key", "ci-bot-key-0123456789"), 200, map[string]string{
			"X-Forwarded-User": "ci@example.com", "X-Forwarded-Email": "ci@example.com", "X-Forwarded-Groups": "bots,deploy",
			"X-Forwarded-Scopes": "mcp:write", "X-Auth-Source": "apikey", "X-Auth-Client-Id": "ci-bot", "Authorization": ""}},
		{"lower-case header name", fwd("POST", "/mcp", "x-api-key", "reader-key-0123456789"), 200, map[string]string{
			"X-Forwarded-User": "reader", "X-Forwarded-Email": "", "X-Auth-Source": "apikey"}},
		{"bearer key", fwd("POST", "/mcp", "Authorization", "Bearer reader-key-0123456789"), 200, map[string]string{
			"X-Forwarded-User": "reader", "Authorization": ""}},
		{"spoofed identity replaced", fwd("POST", "/mcp", "X-Api-Key", "reader-key-0123456789", "X-Forwarded-User", "admin", "X-Forwarded-Email", "admin@example.com"), 200, map[string]string{
			"X-Forwarded-User": "reader", "X-Forwarded-Email": ""}},
		{"upstream authorization passes", fwd("POST", "/mcp", "X-Api-Key", "reader-key-0123456789", "X-Upstream-Authorization", "Bearer upstream-cred"), 200, map[string]string{
			"Authorization": "Bearer upstream-cred"}},
		{"public path anonymous", fwd("GET", "/public/x"), 200, map[string]string{
			"X-Forwarded-User": "", "X-Auth-Source": "anonymous", "Authorization": ""}},
		{"cors preflight", fwd("OPTIONS", "/mcp", "Origin", "https://inspector.example", "Access-Control-Request-Method", "POST"), 200, map[string]string{
			"X-Auth-Source": "anonymous"}},
		{"options without preflight headers", fwd("OPTIONS", "/mcp"), 401, nil},
		{"write implies read", fwd("POST", "/mcp/x", "X-Api-Key", "ci-bot-key-0123456789"), 200, nil},
		{"nginx dialect", func() *http.Request {
			r := httptest.NewRequest("GET", "/auth", nil)
			r.RemoteAddr = "10.0.0.2:1"
			r.Header.Set("X-Original-Method", "POST")
			r.Header.Set("X-Original-Uri", "/mcp")
			r.Header.Set("X-Forwarded-Proto", "https")
			r.Header.Set("X-Forwarded-Host", "mcp.example.com")
			r.Header.Set("X-Api-Key", "reader-key-0123456789")
			return r
		}(), 200, map[string]string{"X-Forwarded-User": "reader"}},
		{"envoy dialect", func() *http.Request {
			r := httptest.NewRequest("DELETE", "/auth/mcp/x?y=1", nil)
			r.RemoteAddr = "[::1]:1"
			r.Host = "mcp.example.com"
			r.Header.Set("X-Forwarded-Proto", "https")
			r.Header.Set("X-Api-Key", "reader-key-0123456789")
			return r
		}(), 200, map[string]string{"X-Forwarded-User": "reader"}},
		{"envoy dot segments never redirect", func() *http.Request {
			r := httptest.NewRequest("GET", "/auth/public/../mcp", nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Host = "mcp.example.com"
			r.Header.Set("X-Forwarded-Proto", "https")
			return r
		}(), 401, nil},
		{"mcpauth protected path alias", func() *http.Request {
			r := fwd("POST", "/mcp", "X-Api-Key", "reader-key-0123456789")
			r.URL.Path, r.RequestURI = "/sse", "/sse"
			return r
		}(), 200, map[string]string{"X-Forwarded-User": "reader"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if w.Code == 200 {
				for _, name := range identityHeaders {
					if _, ok := w.Header()[name]; !ok {
						t.Errorf("identity header %s missing from a 200", name)
					}
				}
			}
			for k, v := range tt.want {
				if got := w.Header()[http.CanonicalHeaderKey(k)]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want [%q]", k, got, v)
				}
			}
		})
	}
}

func TestAuthScopesAndCORS(t *testing.T) {
	keys := writeFile(t, "keys.yaml", `keys:
  - name: reader
    sha256: `+auth.HashKey("reader-key-0123456789")+`
    scopes: [mcp:read]
`)
	h, _ := testServer(t, map[string]string{
		"RESOURCE_URL":    "https://mcp.example.com/mcp",
		"API_KEYS_FILE":   keys,
		"REQUIRED_SCOPES": "mcp:read mcp:write",
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "X-Api-Key", "reader-key-0123456789", "Origin", "https://inspector.example"))
	if w.Code != 403 {
		t.Fatalf("status = %d, want 403", w.Code)
	}
	want := `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
	if got := w.Header().Get("Www-Authenticate"); !strings.HasPrefix(got, want) {
		t.Fatalf("WWW-Authenticate = %q, want prefix %q", got, want)
	}
	if got := w.Header().Get("Access-Control-Expose-Headers"); got != "WWW-Authenticate" {
		t.Fatalf("Access-Control-Expose-Headers = %q", got)
	}
	if !strings.Contains(w.Body.String(), `"error":"insufficient_scope"`) {
		t.Fatalf("body = %s", w.Body)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "Origin", "https://inspector.example"))
	if w.Code != 401 || w.Header().Get("Access-Control-Expose-Headers") != "WWW-Authenticate" ||
		w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("401 with Origin: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp"))
	if w.Header().Get("Access-Control-Expose-Headers") != "" {
		t.Fatalf("401 without Origin exposes headers: %v", w.Header())
	}
}

// TestMCPProxyCompatibility checks the mcp-proxy single-key behaviour: /status and
// preflights stay open, the MCP transports are protected.
func TestMCPProxyCompatibility(t *testing.T) {
	h, _ := testServer(t, map[string]string{"MCP_PROXY_API_KEY": testKey})
	for _, p := range []string{"/sse", "/mcp", "/messages/", "/messages/?session_id=1", "/servers/fetch/sse", "/servers/fetch/mcp"} {
		for _, key := range []string{"", testKey} {
			var kv []string
			if key != "" {
				kv = []string{"X-Api-Key", key}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, fwd("POST", p, kv...))
			want := 401
			if key != "" {
				want = 200
			}
			if w.Code != want {
				t.Errorf("%s with key %v: status %d, want %d", p, key != "", w.Code, want)
			}
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, fwd("GET", "/status"))
	if w.Code != 200 {
		t.Errorf("/status: %d, want 200", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("OPTIONS", "/sse", "Origin", "https://x.example", "Access-Control-Request-Method", "GET"))
	if w.Code != 200 {
		t.Errorf("preflight: %d, want 200", w.Code)
	}
}

// TestProxyIdentity checks the ContextForge mode, including on /servers/<id>/mcp
// (a path ContextForge once failed to cover).
func TestProxyIdentity(t *testing.T) {
	h, _ := testServer(t, map[string]string{
		"MCP_CLIENT_AUTH_ENABLED":  "false",
		"TRUST_PROXY_AUTH":         "true",
		"PROXY_AUTH_TRUSTED_CIDRS": "198.51.100.0/24",
		"ALLOWED_DOMAINS":          "allowed.com",
	})
	tests := []struct {
		name   string
		xff    string
		user   string
		status int
	}{
		{"trusted sso proxy", "198.51.100.7", "alice@allowed.com", 200},
		{"trusted, other domain", "198.51.100.7", "mallory@evil.com", 403},
		// GHSA-c5c4-8r6x-56w3: two @ is not an email of allowed.com.
		{"trusted, two at signs", "198.51.100.7", "a@evil.com@allowed.com", 403},
		{"untrusted client", "203.0.113.9", "alice@allowed.com", 401},
		{"spoofed earlier hop", "198.51.100.7, 203.0.113.9", "alice@allowed.com", 401},
		{"no forwarded-for", "", "alice@allowed.com", 401},
	}
	for _, p := range []string{"/mcp", "/servers/abc/mcp", "/anything"} {
		for _, tt := range tests {
			t.Run(p+" "+tt.name, func(t *testing.T) {
				r := fwd("POST", p, "X-Authenticated-User", tt.user)
				r.Header.Del("X-Forwarded-For")
				if tt.xff != "" {
					r.Header.Set("X-Forwarded-For", tt.xff)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
				}
				if tt.status == 200 && (w.Header().Get("X-Forwarded-User") != tt.user || w.Header().Get("X-Auth-Source") != "proxy") {
					t.Fatalf("identity = %v", w.Header())
				}
			})
		}
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
			`{"authorization_servers":["https://auth.example.com"],"bearer_methods_supported":["header"],"resource":"https://mcp.example.com/mcp","resource_name":"Team tools","scopes_supported":["mcp:read","mcp:write"]}`},
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

// TestDenialRendering checks that rendered denials are reused only where nothing but the
// resource and the reason shapes them: a rule's scopes always reach its own challenge.
func TestDenialRendering(t *testing.T) {
	pf := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    required_scopes: [mcp:read]
    rules:
      - tools: ["write_*"]
        required_scopes: [mcp:write]
`)
	h, _ := testServer(t, map[string]string{"POLICY_FILE": pf, "MCP_PROXY_API_KEY": testKey})
	rule := []string{"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "write_page"}
	for i, tt := range []struct {
		kv    []string
		scope string
	}{
		{rule, `scope="mcp:read mcp:write"`},
		{nil, `scope="mcp:read"`},
		{rule, `scope="mcp:read mcp:write"`},
		{nil, `scope="mcp:read"`},
		{[]string{"X-Api-Key", "wrong-key-0123456789"}, `error="invalid_token"`},
		{nil, `scope="mcp:read"`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fwd("POST", "/mcp", tt.kv...))
		got := w.Header().Get("Www-Authenticate")
		if w.Code != 401 || !strings.Contains(got, tt.scope) || (tt.scope == `scope="mcp:read"` && strings.Contains(got, "error=")) {
			t.Fatalf("request %d: %d %q, want 401 with %s", i, w.Code, got, tt.scope)
		}
	}
}
