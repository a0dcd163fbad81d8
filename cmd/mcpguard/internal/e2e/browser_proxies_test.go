package e2e

// Browser logins through Traefik and Caddy: the browser application examples of
// deploy/traefik/dynamic.yml and deploy/caddy/Caddyfile, uncommented, driven like the
// nginx one (checkBrowserLogin).

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTraefikBrowserLogin runs deploy/traefik with the browser application example of
// dynamic.yml: its forwardAuth at /auth?login=redirect, whose 302 Traefik passes on.
func TestTraefikBrowserLogin(t *testing.T) {
	up := startUpstream(t)
	guard := startBrowserGuard(t, defaultBrowserSite)
	p := startTraefikWith(t, guard, up, func(dynamic string) string {
		return uncommentBrowserApp(t, "deploy/traefik/dynamic.yml", dynamic, "http://dashboard:3000", "http://"+up.addr)
	})
	checkBrowserLogin(t, p, defaultBrowserSite)

	// Why the redirecting form: at the plain /auth, Traefik hands the browser mcpguard's
	// 401 as it is, Location included, and a browser stays on a 401.
	plain := startTraefikWith(t, guard, up, func(dynamic string) string {
		return uncommentBrowserApp(t, "deploy/traefik/dynamic.yml", dynamic, "http://dashboard:3000", "http://"+up.addr,
			`address: "http://mcpguard:11000/auth?login=redirect"`, `address: "http://mcpguard:11000/auth"`)
	})
	resp := rawRequest(t, plain.addr, "GET", "/dashboard/", authHost, [][2]string{field("Accept", "text/html")}, "")
	if resp.status != http.StatusUnauthorized || resp.header.Get("Location") == "" {
		t.Errorf("Traefik, forwardAuth at the plain /auth: browser GET /dashboard/ = %d Location %q, want mcpguard's 401 with its Location", resp.status, resp.header.Get("Location"))
	}
}

// TestCaddyBrowserLogin runs deploy/caddy/Caddyfile with its browser application
// example. The Caddyfile's test site addresses name the proxy's port, so the browser's
// URLs, the issuer and the resources do too: the port is chosen first.
func TestCaddyBrowserLogin(t *testing.T) {
	up := startUpstream(t)
	port := freePort(t)
	origin := func(host string) string { return "http://" + host + ":" + strconv.Itoa(port) }
	site := browserSite{auth: origin(authHost), mcp: origin(mcpHost)}
	guard := startBrowserGuard(t, site)
	shipped := readDeployFile(t, "caddy", "Caddyfile")
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	on := uncommentBrowserApp(t, "deploy/caddy/Caddyfile", shipped, "reverse_proxy dashboard:3000", "reverse_proxy {$MCP_UPSTREAM}")
	if err := os.WriteFile(caddyfile, []byte(on), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProxyOn(t, "caddy", up, port, caddyCommand(t, caddyfile, guard, up))
	if err != nil {
		t.Fatalf("caddy: %v", err)
	}
	checkBrowserLogin(t, p, site)
}
