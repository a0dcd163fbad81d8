package e2e

// The contract every proxy recipe of deploy/ keeps, checked through the running proxy by
// the nginx, Caddy and Traefik suites.

import (
	"strings"
	"testing"
)

// pathTricks are request targets that name /mcp (or something under it) in a way a
// path-prefix rule for /public could mistake for a public path. Without a credential
// none may reach the MCP server. Each row names the advisory the trick comes from.
var pathTricks = []struct {
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

// contractCase is one request through the proxy and what must come of it.
type contractCase struct {
	name   string
	method string
	target string
	host   string // default mcpHost
	fields [][2]string
	body   string
	status int  // want at the client
	also   int  // another status accepted at the client, when a proxy refuses earlier
	reach  bool // want the request at the MCP server
	check  func(t *testing.T, r rawResponse, seen seenRequest)
}

// runContract checks, through a running proxy, everything the recipes promise MCP
// clients and MCP servers when mcpguard runs with guardEnv.
func runContract(t *testing.T, p edgeProxy) {
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

	tests := []contractCase{
		{
			name: "no credential", method: "POST", target: "/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"initialize"}`,
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				// No authorization server runs: the challenge says where the key goes.
				checkChallenge(t, r, "Bearer ", metadata, `scope="mcp:write"`,
					`error_description="this server takes an API key, not OAuth: send it in the X-API-Key header or as Authorization: Bearer <key>"`)
				if got := r.header.Get("Www-Authenticate"); strings.Contains(got, "error=") {
					t.Errorf("WWW-Authenticate = %q, want no error without a credential", got)
				}
			},
		},
		{
			name: "unknown API key", method: "GET", target: "/mcp",
			fields: [][2]string{field("X-API-Key", "e2e-unknown-key-0123456789")},
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, metadata, `error="invalid_token"`)
			},
		},
		{
			name: "unknown bearer token", method: "GET", target: "/mcp",
			fields: [][2]string{field("Authorization", "Bearer e2e-unknown-key-0123456789")},
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, metadata, `error="invalid_token"`)
			},
		},
		{
			name: "valid API key", method: "POST", target: "/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			fields: [][2]string{field("X-API-Key", writerKey), field("Accept", "application/json, text/event-stream")},
			status: 200, reach: true,
			check: func(t *testing.T, r rawResponse, seen seenRequest) {
				checkIdentity(t, seen, writer)
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
			fields: [][2]string{field("Authorization", "Bearer "+writerKey)},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) { checkIdentity(t, seen, writer) },
		},
		{
			name: "missing scope", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{field("X-API-Key", readerKey)},
			status: 403,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, `error="insufficient_scope"`, `scope="mcp:write"`, metadata)
			},
		},
		{
			// Caddy GHSA-7r4p-vjf4-gxv4, Traefik GHSA-5m6w-wvh7-57vm and GHSA-rf44-j88r-hh8c,
			// oauth2-proxy GHSA-vjrc-mh2v-45x6: client copies and aliases of identity headers.
			name: "client identity headers and aliases are replaced", method: "GET", target: "/mcp",
			fields: [][2]string{
				field("X-API-Key", writerKey),
				field("X-Forwarded-User", "mallory@evil.example"),
				field("X-Forwarded-Email", "mallory@evil.example"),
				field("X-Forwarded-Groups", "admins"),
				field("X-Forwarded-Scopes", "mcp:admin"),
				field("X-Auth-Source", "proxy"),
				field("X-Auth-Client-Id", "mallory"),
				field("X_Forwarded_User", "mallory@evil.example"),
				field("X.Forwarded.User", "mallory@evil.example"),
				field("x_auth_source", "proxy"),
				field("X-Forwarded_Groups", "admins"),
				field("X~Forwarded~Email", "mallory@evil.example"),
				field("Authorization", "Bearer mallory-token"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) { checkIdentity(t, seen, writer) },
		},
		{
			// oauth2-proxy GHSA-7x63-xv5r-3p2x: a client's own account of the original request.
			name: "client forwarded headers do not open a protected path", method: "GET", target: "/mcp",
			fields: [][2]string{
				field("X-Forwarded-Uri", "/public/x"),
				field("X-Forwarded-Method", "OPTIONS"),
				field("X-Forwarded-Host", "public.example.com"),
				field("X-Original-URI", "/public/x"),
				field("X-Original-URL", "http://mcp.example.com/public/x"),
				field("X-Original-Method", "OPTIONS"),
				field("Origin", origin),
				field("Access-Control-Request-Method", "POST"),
			},
			status: 401,
			check:  func(t *testing.T, r rawResponse, _ seenRequest) { checkChallenge(t, r, metadata) },
		},
		{
			name: "client forwarded headers do not disturb an allowed request", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{
				field("X-API-Key", writerKey),
				field("X-Forwarded-Uri", "/elsewhere"),
				field("X-Original-URI", "/elsewhere"),
				field("X-Original-URL", "http://mcp.example.com/elsewhere"),
				field("X-Original-Method", "DELETE"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) { checkIdentity(t, seen, writer) },
		},
		{
			name: "X-Upstream-Authorization arrives as Authorization", method: "GET", target: "/mcp",
			fields: [][2]string{field("X-API-Key", writerKey), field("X-Upstream-Authorization", "Bearer upstream-secret")},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) {
				want := map[string]string{}
				for k, v := range writer {
					want[k] = v
				}
				want["Authorization"] = "Bearer upstream-secret"
				checkIdentity(t, seen, want)
			},
		},
		{
			name: "CORS preflight passes without credential", method: "OPTIONS", target: "/mcp",
			fields: [][2]string{
				field("Origin", origin),
				field("Access-Control-Request-Method", "POST"),
				field("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version"),
			},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) {
				if seen.Method != "OPTIONS" {
					t.Errorf("upstream method = %q, want OPTIONS", seen.Method)
				}
				checkIdentity(t, seen, anonymous)
			},
		},
		{
			name: "401 exposes the challenge to browsers", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{field("Origin", origin)},
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, metadata)
				checkCORS(t, r)
			},
		},
		{
			name: "403 exposes the challenge to browsers", method: "POST", target: "/mcp", body: `{}`,
			fields: [][2]string{field("Origin", origin), field("X-API-Key", readerKey)},
			status: 403,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, `error="insufficient_scope"`)
				checkCORS(t, r)
			},
		},
		{
			name: "public path without credential", method: "GET", target: "/public/x",
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) { checkIdentity(t, seen, anonymous) },
		},
		{
			name: "public path with identity headers", method: "GET", target: "/public/x?q=1",
			fields: [][2]string{field("X-Forwarded-User", "mallory@evil.example"), field("X_Auth_Source", "apikey")},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) { checkIdentity(t, seen, anonymous) },
		},
		{
			name: "protected resource metadata", method: "GET", target: "/.well-known/oauth-protected-resource/mcp",
			status: 200,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				if !strings.Contains(r.body, `"resource":"http://mcp.example.com/mcp"`) {
					t.Errorf("metadata = %s, want the /mcp resource", r.body)
				}
				// API keys only: no authorization server runs, so none is named.
				if strings.Contains(r.body, "authorization_servers") {
					t.Errorf("metadata = %s, want no authorization_servers without PROVIDER", r.body)
				}
			},
		},
		{
			name: "root protected resource metadata", method: "GET", target: "/.well-known/oauth-protected-resource",
			status: 200,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				if !strings.Contains(r.body, `"resource":"http://mcp.example.com/mcp"`) {
					t.Errorf("metadata = %s, want the /mcp resource", r.body)
				}
			},
		},
		{name: "issuer host serves mcpguard", method: "GET", target: "/healthz", host: authHost, status: 200},
	}
	// mcpguard's decision endpoint (and its PROTECTED_PATH alias) and metrics are for the
	// proxy and Prometheus only, however the path is spelled.
	for _, target := range []string{"/auth", "/auth/mcp", "//auth", "/./auth", "/%61uth", "/auth%2F", "/sse", "/metrics", "/%6detrics"} {
		// Traefik's encodedCharacters refuses /auth%2F at the router that matched it: 400.
		tests = append(tests, contractCase{name: "issuer host hides " + target, method: "GET", target: target, host: authHost, status: 404, also: 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = mcpHost
			}
			n := len(p.up.requests())
			r := rawRequest(t, p.addr, tt.method, tt.target, host, tt.fields, tt.body)
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

	for _, tt := range pathTricks {
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

	t.Run("streamable HTTP events are not buffered", func(t *testing.T) { checkStreaming(t, p) })
	t.Run("no leaks upstream", func(t *testing.T) { checkNoLeaks(t, p) })
}
