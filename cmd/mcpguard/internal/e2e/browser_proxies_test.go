package e2e

// Browser logins through Traefik and Caddy: the browser application examples of
// deploy/traefik/dynamic.yml and deploy/caddy/Caddyfile, uncommented, driven like the
// nginx one (checkBrowserLogin).

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
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

// deployTraefikBrowser checks the browser application example of deploy/traefik/dynamic.yml,
// uncommented: its forwardAuth middleware is the MCP one (same identity headers, no
// client X-Forwarded-*, a bounded answer, no authSigninURL) at the redirecting form of
// /auth, and only routers on mcpguard's own host use it, above the mcpguard router.
func deployTraefikBrowser(t *testing.T) {
	on := uncommentBrowserApp(t, "deploy/traefik/dynamic.yml", readDeployFile(t, "traefik", "dynamic.yml"))
	var dyn traefikDynamic
	if err := yaml.Unmarshal([]byte(on), &dyn); err != nil {
		t.Fatalf("dynamic.yml with the browser application example uncommented: %v", err)
	}
	mw := dyn.HTTP.Middlewares
	plain, browser := mw["mcpguard"].ForwardAuth, mw["mcpguard-browser"].ForwardAuth
	if plain == nil || browser == nil {
		t.Fatal("dynamic.yml: want the forwardAuth middlewares mcpguard and, in the example, mcpguard-browser")
	}
	if browser.Address != plain.Address+"?login=redirect" {
		t.Errorf("mcpguard-browser: address %q, want %q", browser.Address, plain.Address+"?login=redirect")
	}
	if browser.TrustForwardHeader == nil || *browser.TrustForwardHeader || browser.AuthSigninURL != "" ||
		browser.MaxResponseBodySize == nil || *browser.MaxResponseBodySize != *plain.MaxResponseBodySize ||
		!slices.Equal(browser.AuthResponseHeaders, plain.AuthResponseHeaders) {
		t.Errorf("mcpguard-browser = %+v, want mcpguard's settings (%+v) but the address", *browser, *plain)
	}
	issuer := dyn.HTTP.Routers["mcpguard"]
	host := issuer.Rule[:strings.Index(issuer.Rule, ")")+1]
	used := false
	for name, r := range dyn.HTTP.Routers {
		if !slices.Contains(r.Middlewares, "mcpguard-browser") {
			continue
		}
		used = true
		if slices.Contains(r.Middlewares, "mcpguard") || !strings.HasPrefix(r.Rule, host+" && ") || r.Priority <= len(issuer.Rule) {
			t.Errorf("router %s (rule %q, priority %d, middlewares %v): want only mcpguard-browser, on the issuer's %s, above the mcpguard router's priority (%d)",
				name, r.Rule, r.Priority, r.Middlewares, host, len(issuer.Rule))
		}
		if want := []string{"mcpguard-clean-request", "mcpguard-browser", "mcpguard-strip-credentials"}; !slices.Equal(r.Middlewares, want) {
			t.Errorf("router %s: middlewares %v, want %v", name, r.Middlewares, want)
		}
	}
	if !used {
		t.Error("dynamic.yml: no router of the browser application example uses mcpguard-browser")
	}
}
