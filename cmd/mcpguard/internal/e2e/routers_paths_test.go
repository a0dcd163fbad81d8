package e2e

import (
	"strings"
	"testing"
)

// hostilePath is one request a client sends without a credential, hoping that mcpguard
// judges one path while the upstream router serves another.
type hostilePath struct {
	name   string // the class, and the advisory it comes from
	method string
	target string
	fields [][2]string
}

// h2cUpgrade asks for a cleartext HTTP/2 upgrade: a proxy that passed it on would hand
// the client a tunnel to the upstream past every later decision.
var h2cUpgrade = [][2]string{field("Connection", "Upgrade, HTTP2-Settings"), field("Upgrade", "h2c"), field("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")}

// hostilePaths are the requests of the differential test: dot segments literal and
// encoded, ;params, empty segments, backslashes, encoded separators, double encoding,
// control bytes, case, queries and fragments, forged dialect headers and h2c, each
// pointed from the public /status at the protected /mcp or the other way round.
var hostilePaths = []hostilePath{
	// heimdall GHSA-3q34-rx83-r6mq: dot segments the backend resolves after the check.
	{name: "dot segment literal (heimdall GHSA-3q34-rx83-r6mq)", target: "/status/../mcp"},
	{name: "dot segment literal into public (attack run, Express app.use)", target: "/mcp/../status"},
	{name: "dot segment encoded (heimdall GHSA-3q34-rx83-r6mq)", target: "/mcp/%2e%2e/status"},
	{name: "dot segment encoded upper case", target: "/mcp/%2E%2E/status"},
	{name: "dot segment half encoded", target: "/mcp/.%2e/status"},
	{name: "dot segment other half encoded", target: "/mcp/%2e./status"},
	{name: "dot segment encoded out of public", target: "/status/%2e%2e/mcp"},
	{name: "dot segment with encoded slash (heimdall %2e%2e%2f)", target: "/status/%2e%2e%2fmcp"},
	{name: "single dot segment", target: "/status/./../mcp"},
	{name: "single dot encoded", target: "/mcp/%2e/../status"},
	{name: "dot segment at the end", target: "/mcp/x/.."},
	{name: "dot segment above the root", target: "/../mcp"},
	// Traefik GHSA-6jwx-7vp4-9847: dot segments that survive a rewrite or sanitizing.
	{name: "dot segment behind an encoded slash (Traefik GHSA-6jwx-7vp4-9847)", target: "/status/..%2fmcp"},
	{name: "dot segments twice encoded slash (Traefik GHSA-6jwx-7vp4-9847)", target: "/status/%2e%2e%2f%2e%2e%2fmcp"},
	{name: "dot segment after a prefix (Traefik GHSA-6jwx-7vp4-9847)", target: "/status/x/../../mcp"},
	// ;params: servlet containers cut them, Go, Express and Flask do not.
	{name: "params hide a dot segment (attack run)", target: "/mcp/..;/status"},
	{name: "params with a value hide a dot segment", target: "/mcp/..;x=y/status"},
	{name: "params hide an encoded dot segment", target: "/mcp/%2e%2e;/status"},
	{name: "params on the public path", target: "/status;/../mcp"},
	{name: "params with a value on the public path", target: "/status;x/../mcp"},
	{name: "params after the public path", target: "/status;/mcp"},
	{name: "params only segment", target: "/;x/mcp"},
	// Empty segments: Flask merges slashes, ServeMux redirects, Express keeps them.
	{name: "double slash (Malcolm #1042)", target: "//mcp"},
	{name: "four slashes (the //// redirect class)", target: "////mcp"},
	{name: "four slashes to public", target: "////status"},
	{name: "empty segment before dot segment", target: "/status//../mcp"},
	{name: "leading double slash before dot segment", target: "//status/../mcp"},
	{name: "empty segment after dot segment", target: "/status/..//mcp"},
	// Backslashes: some routers read them as slashes.
	{name: "backslash dot segment", target: `/status/..\mcp`},
	{name: "backslashes only", target: `/status\..\mcp`},
	{name: "encoded backslashes", target: "/status/%5c..%5cmcp"},
	{name: "encoded backslash alone", target: "/status%5cmcp"},
	// Encoded separators, fragments and queries (oauth2-proxy GHSA-pxq7-h93f-9jrg,
	// GHSA-7rh7-c77v-6434).
	{name: "encoded slash out of public", target: "/status%2f..%2fmcp"},
	{name: "encoded hash (oauth2-proxy GHSA-pxq7-h93f-9jrg)", target: "/mcp%23/../status"},
	{name: "encoded question mark", target: "/status%3f/../mcp"},
	{name: "query carrying a path (oauth2-proxy GHSA-7rh7-c77v-6434)", target: "/mcp?path=/status"},
	{name: "query looking like a path", target: "/mcp?/status"},
	{name: "query carrying dot segments", target: "/mcp?/../status"},
	// Double encoding: a second decoder finds dots.
	{name: "double encoded dot segment", target: "/mcp/%252e%252e/status"},
	{name: "double encoded out of public", target: "/status/%252e%252e/mcp"},
	{name: "double encoded slash", target: "/status%252f..%252fmcp"},
	// Control bytes, encoded.
	{name: "encoded NUL", target: "/status/%00/../mcp"},
	{name: "encoded tab (oauth2-proxy GHSA-j7px-6hwj-hpjg)", target: "/status/%09/../mcp"},
	{name: "encoded newline", target: "/status%0a/../mcp"},
	{name: "encoded DEL", target: "/mcp/%7f/../status"},
	// Case and encoded letters: judged as the upstream receives them.
	{name: "case variant of the endpoint (Authelia GHSA-j748-h363-wqj8)", target: "/MCP"},
	{name: "case variant of public with dot segment", target: "/STATUS/../mcp"},
	{name: "encoded letters spell the endpoint", target: "/%6dcp"},
	{name: "encoded letters spell public with dot segment", target: "/%73tatus/../mcp"},
	// Absolute-form request targets.
	{name: "absolute form", target: "http://" + mcpHost + "/mcp"},
	{name: "absolute form with dot segment", target: "http://" + mcpHost + "/status/../mcp"},
	// Forged dialect headers: a client's copy must not steer the decision (Caddy's
	// underscore aliases, Traefik GHSA-5m6w-wvh7-57vm, oauth2-proxy GHSA-7x63-xv5r-3p2x).
	{name: "forged X-Original-URI (oauth2-proxy GHSA-7x63-xv5r-3p2x)", target: "/mcp", fields: [][2]string{field("X-Original-URI", "/status")}},
	{name: "forged X-Forwarded-Uri", target: "/mcp", fields: [][2]string{field("X-Forwarded-Uri", "/status")}},
	{name: "forged X-Original-URL", target: "/mcp", fields: [][2]string{field("X-Original-URL", "https://"+mcpHost+"/status")}},
	{name: "forged X-Forwarded-Method preflight", method: "POST", target: "/mcp", fields: [][2]string{field("X-Forwarded-Method", "OPTIONS"), field("X-Original-Method", "OPTIONS")}},
	{name: "underscore alias X_Forwarded_Uri (Caddy underscore aliases, Traefik GHSA-5m6w-wvh7-57vm)", target: "/mcp", fields: [][2]string{field("X_Forwarded_Uri", "/status")}},
	{name: "underscore alias X_Original_URI", target: "/mcp", fields: [][2]string{field("X_Original_URI", "/status")}},
	// h2c: an upgrade on a public path must not become a tunnel to the protected one.
	{name: "h2c upgrade on public", target: "/status", fields: h2cUpgrade},
	{name: "h2c upgrade on the endpoint", target: "/mcp", fields: h2cUpgrade},
	{name: "h2c upgrade with dot segment", target: "/status/../mcp", fields: h2cUpgrade},
}

// TestRoutersDifferential sends every hostile path, without a credential, through the
// real nginx with the deploy/nginx recipe to three upstreams that route differently
// (Go's ServeMux, Express, Flask), mcpguard deciding in its smallest documented
// configuration (MCP_PROXY_API_KEY only, so /status is public). The contract: no request
// reaches a protected handler without a credential, and none is upgraded.
func TestRoutersDifferential(t *testing.T) {
	guard := startGuard(t, map[string]string{"MCP_PROXY_API_KEY": routerKey, "RESOURCE_URL": "https://" + mcpHost + "/mcp"})
	for _, start := range []func(*testing.T) router{startGoRouter, startExpressRouter, startFlaskRouter} {
		up := start(t)
		t.Run(up.name, func(t *testing.T) {
			p := startNginx(t, guard, &mcpUpstream{addr: up.addr})
			// The controls: the routers do serve the protected handler, with a key.
			if r := p.do(t, "POST", "/mcp", field("X-API-Key", routerKey)); r.status != 200 || r.header.Get("X-Handler") != "protected" {
				t.Fatalf("POST /mcp with the key = %d %q, want 200 from the protected handler", r.status, r.header.Get("X-Handler"))
			}
			if r := p.do(t, "GET", "/status"); r.status != 200 || r.header.Get("X-Handler") != "public" {
				t.Fatalf("GET /status = %d %q, want 200 from the public handler", r.status, r.header.Get("X-Handler"))
			}
			if r := p.do(t, "POST", "/mcp"); r.status != 401 {
				t.Fatalf("POST /mcp without a key = %d, want 401", r.status)
			}
			for _, hp := range hostilePaths {
				t.Run(hp.name, func(t *testing.T) {
					method := hp.method
					if method == "" {
						method = "GET"
					}
					r := p.do(t, method, hp.target, hp.fields...)
					if h := r.header.Get("X-Handler"); h == "protected" || strings.HasPrefix(r.body, "protected ") {
						t.Errorf("%s %s reached the protected handler of %s without a credential (status %d)", method, hp.target, up.name, r.status)
					}
					if r.status == 101 || r.status/100 == 2 && r.header.Get("X-Handler") == "" {
						t.Errorf("%s %s = %d %v: upgraded, or answered by something other than a handler", method, hp.target, r.status, r.header)
					}
				})
			}
		})
	}
}

// routerKey is the API key of the differential test.
const routerKey = "router-key-0123456789abcdef"
