package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
)

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
			r.RemoteAddr = "127.0.0.2:1"
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
		{"envoy dot segments are refused, never redirected", func() *http.Request {
			r := httptest.NewRequest("GET", "/auth/public/../mcp", nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Host = "mcp.example.com"
			r.Header.Set("X-Forwarded-Proto", "https")
			return r
		}(), 403, nil},
		{"envoy forwarded method cannot turn a POST into a preflight", func() *http.Request {
			r := httptest.NewRequest("POST", "/auth/mcp", nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Host = "mcp.example.com"
			r.Header.Set("X-Forwarded-Proto", "https")
			r.Header.Set("X-Forwarded-Method", "OPTIONS")
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "POST")
			return r
		}(), 403, nil},
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
				for _, name := range forwardauth.IdentityHeaders() {
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

// TestProxyIdentity checks the ContextForge mode, on /servers/<id>/mcp too: a path
// ContextForge's own proxy mode did not cover.
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

// TestDenialRendering checks that rendered denials are reused only where nothing but the
// resource and the reason shapes them: a rule's scopes always reach its own challenge,
// and a request whose MCP headers cannot be trusted is challenged for every rule's.
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
	list := []string{"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list"}
	old := []string{"Mcp-Protocol-Version", "2025-11-25", "Mcp-Method", "tools/list"}
	for i, tt := range []struct {
		kv    []string
		scope string
	}{
		{rule, `scope="mcp:read mcp:write"`},
		{list, `scope="mcp:read"`},
		{rule, `scope="mcp:read mcp:write"`},
		{list, `scope="mcp:read"`},
		{old, `scope="mcp:read mcp:write"`},
		{nil, `scope="mcp:read mcp:write"`},
		{append([]string{"X-Api-Key", "wrong-key-0123456789"}, list...), `error="invalid_token"`},
		{list, `scope="mcp:read"`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fwd("POST", "/mcp", tt.kv...))
		got := w.Header().Get("Www-Authenticate")
		if w.Code != 401 || !strings.Contains(got, tt.scope) || (tt.scope == `scope="mcp:read"` && strings.Contains(got, "error=")) {
			t.Fatalf("request %d: %d %q, want 401 with %s", i, w.Code, got, tt.scope)
		}
	}
}

// TestAmbiguousPaths: a path routers disagree on is refused with 403 ambiguous_path,
// logged under that reason; a resource that accepts ;params judges them cut, and still
// refuses dot segments.
func TestAmbiguousPaths(t *testing.T) {
	pf := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    public_paths: [/status]
  - url: https://java.example.com/mcp
    insecure_allow_path_parameters: true
`)
	h, logs := testServer(t, map[string]string{"POLICY_FILE": pf, "MCP_PROXY_API_KEY": testKey})
	for _, tt := range []struct {
		host, uri string
		want      int
	}{
		{"mcp.example.com", "/mcp/..;/status", 403},
		{"mcp.example.com", "/mcp/%2e%2e/status", 403},
		{"mcp.example.com", "/status;x", 403},
		{"mcp.example.com", "/status", 200},
		{"java.example.com", "/mcp;jsessionid=abc", 200},
		{"java.example.com", "/mcp/..;/status", 403},
	} {
		r := fwd("POST", tt.uri, "X-Api-Key", testKey)
		r.Header.Set("X-Forwarded-Host", tt.host)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s%s = %d %s, want %d", tt.host, tt.uri, w.Code, w.Body, tt.want)
		}
	}
	if !strings.Contains(logs.String(), `"reason":"ambiguous_path"`) {
		t.Errorf("no audit line with reason ambiguous_path:\n%s", logs)
	}
}

// TestUntrustedPeers: by default only loopback is a trusted proxy; a peer outside
// TRUSTED_PROXIES gets 403 and is named once in the log, with the fix.
func TestUntrustedPeers(t *testing.T) {
	h, logs := testServer(t, map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp"})
	for _, tt := range []struct {
		peer string
		want int
	}{
		{"127.0.0.1:4000", 200},
		{"[::1]:4000", 200},
		{"10.1.2.3:4000", 403},
		{"10.1.2.3:4001", 403},
		{"192.168.1.9:4000", 403},
	} {
		r := fwd("POST", "/mcp", "X-Api-Key", testKey)
		r.RemoteAddr = tt.peer
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("peer %s = %d, want %d", tt.peer, w.Code, tt.want)
		}
	}
	if n := strings.Count(logs.String(), "add it to TRUSTED_PROXIES"); n != 2 {
		t.Errorf("%d warnings about untrusted peers, want one per peer (2):\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "if 10.1.2.3 is your proxy, add it to TRUSTED_PROXIES") {
		t.Errorf("the warning does not name the peer and the fix:\n%s", logs)
	}
}
