package e2e

// /account in a real browser: the official MCP Go SDK client gets a token through nginx,
// the person signs in in headless Chromium (JavaScript off), opens /account and revokes
// the client's grant; the client's next tools/call gets 401 and it authorizes again.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumEdge is what Chromium reaches https://auth.example.com through: a TLS
// listener on loopback that hands every request to the test's edge, and so to nginx
// and mcpguard, as the SDK client's requests go. Chromium resolves the name to it
// (--host-resolver-rules) and accepts its test certificate.
func chromiumEdge(t *testing.T, edge *loadBalancer) []chromedp.ExecAllocatorOption {
	t.Helper()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "https", authHost, authHost
		},
		Transport: edge,
	}
	srv := httptest.NewTLSServer(rp)
	t.Cleanup(srv.Close)
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP %s %s", authHost, srv.Listener.Addr())),
		chromedp.Flag("ignore-certificate-errors", true),
	}
}

func TestChromiumAccount(t *testing.T) {
	bin := chromiumBinary(t)
	s := startMCPStack(t, startNginx, oauthEnv(t, "bolt://"+filepath.Join(t.TempDir(), "mcpguard.db")))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	reg := clientRegistrations()[2] // pre-registered: it keeps its client_id across authorizations
	c := s.newSDKClient(t, localUser, reg)
	session := c.connect(t, ctx, s)
	defer session.Close()
	s.whoami(t, ctx, session, localUser, c.tokens.config)
	before, err := c.tokens.Token()
	if err != nil || before.RefreshToken == "" {
		t.Fatalf("the SDK client's token after Connect: %v (refresh token: %t)", err, before != nil && before.RefreshToken != "")
	}

	// The person signs in in Chromium: /account sends them to the login page and back.
	tab := newChromium(t, bin, chromiumEdge(t, s.edge)...)
	resp := chromiumRun(t, tab, "opening /account", chromedp.NavigateResponse(authIssuer+"/account"))
	chromiumCheckLoginPage(t, tab, resp)
	resp = chromiumSignIn(t, tab, localUser.email, localUser.password)
	if resp.Status != http.StatusOK || resp.URL != authIssuer+"/account" {
		t.Fatalf("signing in answered %d at %s, want 200 at %s/account", resp.Status, resp.URL, authIssuer)
	}
	chromiumCheckPlainPage(t, tab, resp)
	chromiumCheckAX(t, tab, [2]string{"heading", "Your account"}, [2]string{"button", "Revoke access"}, [2]string{"button", "Sign out this browser"})
	body := chromiumText(t, tab, "body")
	for _, want := range []string{localUser.email, staticClientName, staticClientID + " · static", "mcp:read", mcpURL, "This browser", "Chrome"} {
		if !strings.Contains(body, want) {
			t.Errorf("the account page does not show %q:\n%s", want, body)
		}
	}
	if n := chromiumCount(t, tab, `form[action$="/account/grants/revoke"]`); n != 1 {
		t.Fatalf("the account page has %d grant forms, want 1 (the SDK client's):\n%s", n, body)
	}
	chromiumScreenshot(t, tab, "account.png")

	resp = chromiumClick(t, tab, `form[action$="/account/grants/revoke"] button`)
	if resp.Status != http.StatusOK || resp.URL != authIssuer+"/account?done=grant" {
		t.Fatalf("Revoke access answered %d at %s, want 200 at /account?done=grant", resp.Status, resp.URL)
	}
	if msg := chromiumText(t, tab, `[role="status"]`); !strings.Contains(msg, "Access revoked") {
		t.Errorf("after Revoke access the notice says %q", msg)
	}
	if n := chromiumCount(t, tab, `form[action$="/account/grants/revoke"]`); n != 0 {
		t.Errorf("after Revoke access the page still lists %d grants", n)
	}

	// The access token is refused at once, through nginx.
	if r := bearerInitialize(t, s.edge, before.AccessToken); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("initialize with the revoked grant's access token = %d, want 401", r.StatusCode)
	}
	// The client's next tools/call meets the 401 and it authorizes again: its browser's
	// session spares the login, and the consent, forgotten with the grant, is asked again.
	hops := s.edge.mark()
	s.whoami(t, ctx, session, localUser, c.tokens.config)
	s.edge.expect(t, hops, []hopWant{
		{"POST", mcpHost, "/mcp", http.StatusUnauthorized},
		{"GET", authHost, urlPath(t, s.asm.AuthorizationEndpoint), 0},
		{"POST", authHost, urlPath(t, s.asm.TokenEndpoint), http.StatusOK},
		{"POST", mcpHost, "/mcp", http.StatusOK},
	})
	if n := c.fetches.Load(); n != 2 {
		t.Errorf("the SDK asked for an authorization code %d times, want 2 (connect, after the revocation)", n)
	}
	if c.browser.count("login") != 1 || c.browser.count("consent") != 2 {
		t.Errorf("the client's browser pages: %s; want 1 login and 2 consents", c.browser.summary())
	}
	after, err := c.tokens.Token()
	if err != nil || after.AccessToken == before.AccessToken || after.RefreshToken == before.RefreshToken {
		t.Errorf("after re-authorizing the SDK holds the old tokens (err %v)", err)
	}
}
