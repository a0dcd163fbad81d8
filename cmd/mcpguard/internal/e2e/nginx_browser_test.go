package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// uncommentBrowserApp turns on the browser application example of a shipped recipe
// (file names it in messages): the lines between each "# BEGIN browser application"
// and "# END browser application" marker uncommented, then each old string of replace
// (the example's upstream) replaced by its new one. Everything else stays as shipped.
func uncommentBrowserApp(t *testing.T, file, conf string, replace ...string) string {
	t.Helper()
	const begin, end = "# BEGIN browser application\n", "# END browser application"
	uncomment := regexp.MustCompile(`(?m)^([ \t]*)# ?`)
	var out strings.Builder
	rest, blocks := conf, 0
	for {
		b := strings.Index(rest, begin)
		if b < 0 {
			break
		}
		e := strings.Index(rest[b:], end)
		if e < 0 {
			t.Fatalf("%s: a %q marker without its %q", file, strings.TrimSpace(begin), end)
		}
		out.WriteString(rest[:b+len(begin)])
		out.WriteString(uncomment.ReplaceAllString(rest[b+len(begin):b+e], "$1"))
		rest, blocks = rest[b+e:], blocks+1
	}
	if blocks == 0 {
		t.Fatalf("%s has no browser application example between its markers", file)
	}
	out.WriteString(rest)
	on := out.String()
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(on, replace[i]) {
			t.Fatalf("%s: the browser application example names no %q", file, replace[i])
		}
		on = strings.ReplaceAll(on, replace[i], replace[i+1])
	}
	return on
}

// browserAppRecipe turns on the browser application example of deploy/nginx/mcp.conf,
// its upstream replaced by the test's.
func browserAppRecipe(t *testing.T) func(files map[string]string) {
	return func(files map[string]string) {
		files["conf.d/mcp.conf"] = uncommentBrowserApp(t, "deploy/nginx/mcp.conf", files["conf.d/mcp.conf"],
			"proxy_pass http://dashboard;", "proxy_pass http://mcp_server;")
	}
}

// browserSite is where a browser login test's proxy serves the two hosts: their
// origins as the browser sees them (with the proxy's port when its site addresses
// name one, as the Caddy test's do).
type browserSite struct{ auth, mcp string }

// defaultBrowserSite is a proxy that serves both hosts by name alone.
var defaultBrowserSite = browserSite{auth: "http://" + authHost, mcp: "http://" + mcpHost}

// startBrowserGuard runs mcpguard for a browser login test: local users, the MCP
// resource of site.mcp and a browser application, site.auth's /dashboard, that lists
// session; the issuer is site.auth.
func startBrowserGuard(t *testing.T, site browserSite) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(oauthPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	policy := filepath.Join(dir, "policy.yaml")
	files := map[string]string{
		users: fmt.Sprintf("users:\n  - email: %s\n    password_hash: %q\n    groups: [eng, ops]\n", oauthEmail, hash),
		policy: `resources:
  - url: ` + site.mcp + `/mcp
    required_scopes: [mcp:read]
  - url: ` + site.auth + `/dashboard
    credentials: [session]
`,
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return startGuard(t, map[string]string{"PROVIDER": "local", "LOCAL_USERS_FILE": users, "POLICY_FILE": policy,
		"ISSUER_URL": site.auth, "DEV_MODE": "true", "STORE": "memory://", "SESSION_SECRET": sessionSecret, "LOG_LEVEL": "debug"})
}

// TestNginxBrowserLogin runs deploy/nginx with its browser application example
// (checkBrowserLogin).
func TestNginxBrowserLogin(t *testing.T) {
	up := startUpstream(t)
	guard := startBrowserGuard(t, defaultBrowserSite)
	checkBrowserLogin(t, startNginxWith(t, guard, up, browserAppRecipe(t)), defaultBrowserSite)
}

// checkBrowserLogin drives a browser application through proxy p: a browser without a
// session is redirected to mcpguard's login with the URL it wanted, comes back there
// after the login, and reaches the application with its session cookie as
// X-Auth-Source: session; fetch-style requests and the MCP route keep their 401.
func checkBrowserLogin(t *testing.T, p edgeProxy, site browserSite) {
	// A browser: a cookie jar, every host name resolved to the proxy, redirects not followed.
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{}
	browser := &http.Client{
		Jar: jar,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, p.addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(target, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Accept", accept)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	app := site.auth + "/dashboard/reports?range=7d&q=a%20b"
	wantLogin := site.auth + "/login?rd=" + url.QueryEscape(app)

	n := len(p.up.requests())
	resp, _ := get(app, html)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != wantLogin {
		t.Fatalf("browser without a session: GET %s = %d Location %q, want 302 to %s", app, resp.StatusCode, resp.Header.Get("Location"), wantLogin)
	}
	for _, tt := range []struct{ name, target, accept string }{
		{"fetch on the application", app, "*/*"},
		{"JSON client on the application", app, "application/json"},
		{"browser on the MCP route", site.mcp + "/mcp", html},
	} {
		resp, _ := get(tt.target, tt.accept)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: GET %s = %d Location %q WWW-Authenticate %q, want 401 with a challenge and no Location",
				tt.name, tt.target, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("WWW-Authenticate"))
		}
	}
	if _, ok := p.reached(n, "/dashboard/reports?range=7d&q=a%20b"); ok {
		t.Fatal("the application was reached without a session")
	}

	// The login page, through the proxy, sends the browser back to the application.
	resp, page := get(wantLogin, html)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s = %d, want the login form:\n%s", wantLogin, resp.StatusCode, page)
	}
	resp, err := browser.PostForm(site.auth+"/login", url.Values{"csrf": {m[1]}, "email": {oauthEmail}, "password": {oauthPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != app {
		t.Fatalf("POST /login = %d Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), app)
	}

	// With the session cookie, the application is reached, as the person.
	resp, body := get(app, html)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Upstream") != "reached" {
		t.Fatalf("browser with a session: GET %s = %d %q, want the application's 200", app, resp.StatusCode, body)
	}
	seen, ok := p.reached(n, "/dashboard/reports?range=7d&q=a%20b")
	if !ok {
		t.Fatal("the application did not receive the request")
	}
	for name, want := range map[string]string{"X-Auth-Source": "session", "X-Forwarded-User": oauthEmail, "X-Forwarded-Email": oauthEmail, "X-Forwarded-Groups": "eng,ops"} {
		if got := seen.get(name); len(got) != 1 || got[0] != want {
			t.Errorf("the application got %s %q, want %q", name, got, want)
		}
	}
	// The session opens the browser application only: the MCP route still wants a token.
	if resp, _ := get(site.mcp+"/mcp", html); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("GET /mcp with the session cookie (not sent to that host) = %d Location %q, want 401 without one", resp.StatusCode, resp.Header.Get("Location"))
	}
}
