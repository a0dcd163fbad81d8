package e2e

// The contract every proxy recipe of deploy/ keeps, checked through the running proxy by
// e2e_nginx_test.go and e2e_caddy_test.go.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
)

// e2ePathTricks are request targets that name /mcp (or something under it) in a way a
// path-prefix rule for /public could mistake for a public path. Without a credential
// none may reach the MCP server. Each row names where the trick comes from
// (reference/forwardauth-proxies.md §3).
var e2ePathTricks = []struct {
	name, target string
}{
	// heimdall GHSA-3q34-rx83-r6mq: rules matched the raw path, the backend normalized it.
	{"dot segments", "/public/../mcp"},
	{"dot and dot-dot segments", "/public/./../mcp"},
	{"encoded dot segments", "/public/%2e%2e/mcp"},
	{"upper-case encoded dot segments", "/public/%2E%2E/mcp"},
	{"encoded dot segments and slash", "/public/%2e%2e%2fmcp"},
	{"double-encoded dot segments", "/public/%252e%252e/mcp"},
	// cisagov/Malcolm #1042: RBAC on the raw URI, routing on the normalized one.
	{"double slash", "//mcp"},
	{"encoded letter", "/%6dcp"},
	{"backslashes", `/public\..\mcp`},
	// oauth2-proxy GHSA-pxq7-h93f-9jrg: '#' and %23 cut the path short upstream.
	{"encoded fragment", "/mcp%23x"},
	{"encoded fragment after public", "/public%23/../mcp"},
	{"raw fragment", "/mcp#/public"},
	// §3.2 row 5: encoded slashes and ;params.
	{"encoded slashes", "/public%2F..%2Fmcp"},
	{"encoded slash after dot-dot", "/public/..%2Fmcp"},
	{"params segment", "/public;/../mcp"},
	{"tomcat dot-dot params", "/public/..;/mcp"},
	// oauth2-proxy GHSA-7rh7-c77v-6434: the query is never part of a match.
	{"query naming the public path", "/mcp?path=/public"},
	{"query that is a path", "/mcp?/public"},
	// A prefix is a path segment, not a string prefix.
	{"public as a string prefix", "/publicity/mcp"},
	// The discovery routes go to mcpguard, never to the MCP server.
	{"discovery prefix", "/.well-known/oauth-protected-resource/../../mcp"},
	{"encoded discovery prefix", "/.well-known/oauth-protected-resource/%2e%2e/%2e%2e/mcp"},
}

// e2eCase is one request through the proxy and what must come of it.
type e2eCase struct {
	name   string
	method string
	target string
	host   string // default e2eMCPHost
	fields [][2]string
	body   string
	status int  // want at the client
	also   int  // another status accepted at the client, when a proxy refuses earlier
	reach  bool // want the request at the MCP server
	check  func(t *testing.T, r e2eResponse, seen e2eSeen)
}

// runE2EContract checks, through a running proxy, everything the recipes promise MCP
// clients and MCP servers when mcpguard runs with e2eGuardEnv.
func runE2EContract(t *testing.T, p e2eProxy) {
	metadata := `resource_metadata="http://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
	writer := map[string]string{
		"X-Forwarded-User":   "writer@example.com",
		"X-Forwarded-Email":  "writer@example.com",
		"X-Forwarded-Groups": "eng,ops",
		"X-Forwarded-Scopes": "mcp:read mcp:write",
		"X-Auth-Source":      "apikey",
		"X-Auth-Client-Id":   "writer",
		"Authorization":      "",
	}
	anonymous := map[string]string{"X-Auth-Source": "anonymous"}
	const origin = "https://inspector.example"

	tests := []e2eCase{
		{
			name: "no credential", method: "POST", target: "/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"initialize"}`,
			status: 401,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, "Bearer ", metadata, `scope="mcp:write"`)
				if got := r.header.Get("Www-Authenticate"); strings.Contains(got, "error=") {
					t.Errorf("WWW-Authenticate = %q, want no error without a credential", got)
				}
			},
		},
		{
			name: "unknown API key", method: "GET", target: "/mcp",
			fields: [][2]string{e2eField("X-API-Key", "e2e-unknown-key-0123456789")},
			status: 401,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, metadata, `error="invalid_token"`)
			},
		},
		{
			name: "unknown bearer token", method: "GET", target: "/mcp",
			fields: [][2]string{e2eField("Authorization", "Bearer e2e-unknown-key-0123456789")},
			status: 401,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, metadata, `error="invalid_token"`)
			},
		},
		{
			name: "valid API key", method: "POST", target: "/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			fields: [][2]string{e2eField("X-API-Key", e2eWriterKey), e2eField("Accept", "application/json, text/event-stream")},
			status: 200, reach: true,
			check: func(t *testing.T, r e2eResponse, seen e2eSeen) {
				e2eCheckIdentity(t, seen, writer)
				if seen.Method != "POST" {
					t.Errorf("upstream method = %q, want POST", seen.Method)
				}
				if !strings.Contains(r.body, `"upstream":true`) {
					t.Errorf("client body = %q, want the MCP server's answer", r.body)
				}
			},
		},
		{
			name: "valid key as bearer token is not passed on", method: "GET", target: "/mcp",
			fields: [][2]string{e2eField("Authorization", "Bearer "+e2eWriterKey)},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) { e2eCheckIdentity(t, seen, writer) },
		},
		{
			name: "missing scope", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{e2eField("X-API-Key", e2eReaderKey)},
			status: 403,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, `error="insufficient_scope"`, `scope="mcp:write"`, metadata)
			},
		},
		{
			// Caddy GHSA-7r4p-vjf4-gxv4, Traefik GHSA-5m6w-wvh7-57vm and GHSA-rf44-j88r-hh8c,
			// oauth2-proxy GHSA-vjrc-mh2v-45x6: client copies and aliases of identity headers.
			name: "client identity headers and aliases are replaced", method: "GET", target: "/mcp",
			fields: [][2]string{
				e2eField("X-API-Key", e2eWriterKey),
				e2eField("X-Forwarded-User", "mallory@evil.example"),
				e2eField("X-Forwarded-Email", "mallory@evil.example"),
				e2eField("X-Forwarded-Groups", "admins"),
				e2eField("X-Forwarded-Scopes", "mcp:admin"),
				e2eField("X-Auth-Source", "proxy"),
				e2eField("X-Auth-Client-Id", "mallory"),
				e2eField("X_Forwarded_User", "mallory@evil.example"),
				e2eField("X.Forwarded.User", "mallory@evil.example"),
				e2eField("x_auth_source", "proxy"),
				e2eField("X-Forwarded_Groups", "admins"),
				e2eField("X~Forwarded~Email", "mallory@evil.example"),
				e2eField("Authorization", "Bearer mallory-token"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) { e2eCheckIdentity(t, seen, writer) },
		},
		{
			// oauth2-proxy GHSA-7x63-xv5r-3p2x: a client's own account of the original request.
			name: "client forwarded headers do not open a protected path", method: "GET", target: "/mcp",
			fields: [][2]string{
				e2eField("X-Forwarded-Uri", "/public/x"),
				e2eField("X-Forwarded-Method", "OPTIONS"),
				e2eField("X-Forwarded-Host", "public.example.com"),
				e2eField("X-Original-URI", "/public/x"),
				e2eField("X-Original-URL", "http://mcp.example.com/public/x"),
				e2eField("X-Original-Method", "OPTIONS"),
				e2eField("Origin", origin),
				e2eField("Access-Control-Request-Method", "POST"),
			},
			status: 401,
			check:  func(t *testing.T, r e2eResponse, _ e2eSeen) { e2eCheckChallenge(t, r, metadata) },
		},
		{
			name: "client forwarded headers do not disturb an allowed request", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{
				e2eField("X-API-Key", e2eWriterKey),
				e2eField("X-Forwarded-Uri", "/elsewhere"),
				e2eField("X-Original-URI", "/elsewhere"),
				e2eField("X-Original-URL", "http://mcp.example.com/elsewhere"),
				e2eField("X-Original-Method", "DELETE"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) { e2eCheckIdentity(t, seen, writer) },
		},
		{
			name: "X-Upstream-Authorization arrives as Authorization", method: "GET", target: "/mcp",
			fields: [][2]string{e2eField("X-API-Key", e2eWriterKey), e2eField("X-Upstream-Authorization", "Bearer upstream-secret")},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) {
				want := map[string]string{}
				for k, v := range writer {
					want[k] = v
				}
				want["Authorization"] = "Bearer upstream-secret"
				e2eCheckIdentity(t, seen, want)
			},
		},
		{
			name: "CORS preflight passes without credential", method: "OPTIONS", target: "/mcp",
			fields: [][2]string{
				e2eField("Origin", origin),
				e2eField("Access-Control-Request-Method", "POST"),
				e2eField("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) {
				if seen.Method != "OPTIONS" {
					t.Errorf("upstream method = %q, want OPTIONS", seen.Method)
				}
				e2eCheckIdentity(t, seen, anonymous)
			},
		},
		{
			name: "401 exposes the challenge to browsers", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{e2eField("Origin", origin)},
			status: 401,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, metadata)
				e2eCheckCORS(t, r)
			},
		},
		{
			name: "403 exposes the challenge to browsers", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{e2eField("Origin", origin), e2eField("X-API-Key", e2eReaderKey)},
			status: 403,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				e2eCheckChallenge(t, r, `error="insufficient_scope"`)
				e2eCheckCORS(t, r)
			},
		},
		{
			name: "public path without credential", method: "GET", target: "/public/x",
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) { e2eCheckIdentity(t, seen, anonymous) },
		},
		{
			name: "public path with identity headers", method: "GET", target: "/public/x?q=1",
			fields: [][2]string{e2eField("X-Forwarded-User", "mallory@evil.example"), e2eField("X_Auth_Source", "apikey")},
			status: 200, reach: true,
			check: func(t *testing.T, _ e2eResponse, seen e2eSeen) { e2eCheckIdentity(t, seen, anonymous) },
		},
		{
			name: "protected resource metadata", method: "GET", target: "/.well-known/oauth-protected-resource/mcp",
			status: 200,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				for _, want := range []string{`"resource":"http://mcp.example.com/mcp"`, `"authorization_servers":["http://auth.example.com"]`} {
					if !strings.Contains(r.body, want) {
						t.Errorf("metadata = %s, want %s", r.body, want)
					}
				}
			},
		},
		{
			name: "root protected resource metadata", method: "GET", target: "/.well-known/oauth-protected-resource",
			status: 200,
			check: func(t *testing.T, r e2eResponse, _ e2eSeen) {
				if !strings.Contains(r.body, `"resource":"http://mcp.example.com/mcp"`) {
					t.Errorf("metadata = %s, want the /mcp resource", r.body)
				}
			},
		},
		{name: "issuer host serves mcpguard", method: "GET", target: "/healthz", host: e2eAuthHost, status: 200},
	}
	// mcpguard's decision endpoint (and its PROTECTED_PATH alias) and metrics are for the
	// proxy and Prometheus only, however the path is spelled.
	for _, target := range []string{"/auth", "/auth/mcp", "//auth", "/./auth", "/%61uth", "/auth%2F", "/sse", "/metrics", "/%6detrics"} {
		// Traefik's encodedCharacters refuses /auth%2F at the router that matched it: 400.
		tests = append(tests, e2eCase{name: "issuer host hides " + target, method: "GET", target: target, host: e2eAuthHost, status: 404, also: 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = e2eMCPHost
			}
			n := len(p.up.requests())
			r := e2eRawRequest(t, p.addr, tt.method, tt.target, host, tt.fields, tt.body)
			if r.status != tt.status && (tt.also == 0 || r.status != tt.also) {
				t.Fatalf("%s %s via %s = %d, want %d; body: %s", tt.method, tt.target, p.name, r.status, tt.status, r.body)
			}
			seen, reached := p.reached(n, tt.target)
			if reached != tt.reach {
				t.Fatalf("%s %s via %s reached the MCP server: %v, want %v", tt.method, tt.target, p.name, reached, tt.reach)
			}
			if tt.check != nil {
				tt.check(t, r, seen)
			}
		})
	}

	for _, tt := range e2ePathTricks {
		t.Run("path trick/"+tt.name, func(t *testing.T) {
			n := len(p.up.requests())
			r := p.do(t, "GET", tt.target)
			if r.status < 400 || r.status > 499 {
				t.Errorf("GET %s via %s without credential = %d, want a 4xx", tt.target, p.name, r.status)
			}
			if got := p.up.requests(); len(got) > n {
				t.Errorf("GET %s via %s without credential reached the MCP server as %s %s", tt.target, p.name, got[n].Method, got[n].Target)
			}
		})
	}

	t.Run("streamable HTTP events are not buffered", func(t *testing.T) { e2eCheckStreaming(t, p) })
	t.Run("no leaks upstream", func(t *testing.T) { e2eCheckNoLeaks(t, p) })
}

// e2eCheckStreaming checks that the first event of an SSE response reaches the client
// while the MCP server still holds the stream open: a proxy that buffers responses would
// hold it back until the stream ends.
func e2eCheckStreaming(t *testing.T, p e2eProxy) {
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nAccept: application/json, text/event-stream\r\n"+
		"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", e2eStreamPath, e2eMCPHost, e2eWriterKey)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("POST %s via %s: no response head while the stream is open: %v", e2eStreamPath, p.name, err)
	}
	// No resp.Body.Close: it would read the stream to its end. Closing c ends it.
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("POST %s via %s = %d %s, want 200 text/event-stream", e2eStreamPath, p.name, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := bufio.NewScanner(resp.Body)
	for events.Scan() {
		if events.Text() == "data: "+e2eStreamEvent {
			p.up.endStream()
			return
		}
	}
	t.Fatalf("POST %s via %s: the first event did not arrive while the stream was open: %v", e2eStreamPath, p.name, events.Err())
}

// runE2EProxyIdentityContract checks the trusted-proxy mode (e2eProxyIdentityEnv) through a
// running proxy: the client on 127.0.0.1 plays the SSO proxy in front of the edge.
func runE2EProxyIdentityContract(t *testing.T, p e2eProxy) {
	alice := map[string]string{
		"X-Forwarded-User":  "alice@example.com",
		"X-Forwarded-Email": "alice@example.com",
		"X-Auth-Source":     "proxy",
	}
	tests := []struct {
		name   string
		target string
		fields [][2]string
		status int
	}{
		{"honoured on /mcp", "/mcp", [][2]string{e2eField("X-Authenticated-User", "alice@example.com")}, 200},
		{"honoured on /servers/abc/mcp", "/servers/abc/mcp", [][2]string{e2eField("X-Authenticated-User", "alice@example.com")}, 200},
		{"honoured with a forwarded chain", "/mcp", [][2]string{e2eField("X-Authenticated-User", "alice@example.com"), e2eField("X-Forwarded-For", "203.0.113.9")}, 200},
		{"missing header", "/mcp", nil, 401},
		{"underscore alias is not the header", "/mcp", [][2]string{e2eField("X_Authenticated_User", "alice@example.com")}, 401},
		{"API keys are off", "/mcp", [][2]string{e2eField("X-API-Key", e2eWriterKey)}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(p.up.requests())
			r := p.do(t, "GET", tt.target, tt.fields...)
			if r.status != tt.status {
				t.Fatalf("GET %s via %s = %d, want %d; body: %s", tt.target, p.name, r.status, tt.status, r.body)
			}
			seen, reached := p.reached(n, tt.target)
			if reached != (tt.status == 200) {
				t.Fatalf("GET %s via %s reached the MCP server: %v, want %v", tt.target, p.name, reached, tt.status == 200)
			}
			if reached {
				e2eCheckIdentity(t, seen, alice)
			} else {
				e2eCheckChallenge(t, r, `resource_metadata="http://mcp.example.com/.well-known/oauth-protected-resource/mcp"`)
			}
		})
	}
	t.Run("no leaks upstream", func(t *testing.T) { e2eCheckNoLeaks(t, p) })
}

// e2eCheckCORS checks that a browser may read the challenge of a proxied 401 or 403.
func e2eCheckCORS(t testing.TB, r e2eResponse) {
	t.Helper()
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want one *", got)
	}
	if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(strings.ToLower(got), "www-authenticate") {
		t.Errorf("Access-Control-Expose-Headers = %q, want WWW-Authenticate", got)
	}
}

// e2eCheckChallenge checks the WWW-Authenticate fields of a 401 or 403: exactly one, with
// every want substring.
func e2eCheckChallenge(t testing.TB, r e2eResponse, want ...string) {
	t.Helper()
	got := r.header.Values("Www-Authenticate")
	if len(got) != 1 {
		t.Fatalf("WWW-Authenticate = %q, want exactly one", got)
	}
	for _, w := range want {
		if !strings.Contains(got[0], w) {
			t.Errorf("WWW-Authenticate = %q, want it to contain %q", got[0], w)
		}
	}
}

// e2eCheckIdentity checks what the upstream received against the identity mcpguard vouches
// for: each identity header (normalized: any case, '_' or '.' for '-') at most once and
// with want's value, empty values counting as absent.
func e2eCheckIdentity(t testing.TB, seen e2eSeen, want map[string]string) {
	t.Helper()
	for _, name := range forwardauth.IdentityHeaders() {
		vals := seen.get(name)
		if len(vals) > 1 {
			t.Errorf("upstream got %s (normalized) %d times: %q", name, len(vals), vals)
			continue
		}
		got := ""
		if len(vals) == 1 {
			got = vals[0]
		}
		if got != want[name] {
			t.Errorf("upstream %s = %q, want %q", name, got, want[name])
		}
	}
}

// e2eCheckNoLeaks checks every request the upstream received: no header carries a Caddy
// placeholder, no credential meant for mcpguard arrives, and no identity header arrives
// under an aliasing name.
func e2eCheckNoLeaks(t *testing.T, p e2eProxy) {
	t.Helper()
	idents := map[string]bool{e2eNormHeader("Authorization"): true}
	for _, name := range forwardauth.IdentityHeaders() {
		idents[e2eNormHeader(name)] = true
	}
	for _, s := range p.up.requests() {
		if len(s.Fields) == 0 {
			t.Errorf("%s %s: the upstream recorded no header fields", s.Method, s.Target)
		}
		for _, f := range s.Fields {
			if strings.Contains(f[1], "{http.") || strings.Contains(f[1], "{rp.") {
				t.Errorf("%s %s: upstream got placeholder %s: %s", s.Method, s.Target, f[0], f[1])
			}
			n := e2eNormHeader(f[0])
			if n == "x-api-key" || n == "x-upstream-authorization" {
				t.Errorf("%s %s: upstream got the client credential header %s", s.Method, s.Target, f[0])
			}
			if idents[n] && strings.ToLower(f[0]) != n {
				t.Errorf("%s %s: upstream got aliasing header %s: %s", s.Method, s.Target, f[0], f[1])
			}
		}
	}
}
