package e2e

// The quickstart's login and consent pages in a real browser: headless Chromium (Debian's
// package, scripts/install-browser.sh) with JavaScript turned off walks the authorization
// code flow of `make run` — the same examples/quickstart.yaml and examples/demo-users.yaml
// — from /authorize to the client's redirect URI, and takes screenshots of the pages.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	// chromiumInstall is how to get the browser these tests drive.
	chromiumInstall = "run scripts/install-browser.sh (apt-get install chromium), or set CHROMIUM_BIN"
	// chromiumEmail and chromiumPassword are the demo user of examples/demo-users.yaml.
	chromiumEmail    = "demo@example.com"
	chromiumPassword = "mcpguard-demo"
	// chromiumScopes are what the test client asks for.
	chromiumScopes = "mcp:read mcp:write"
	// chromiumNoScript is the title of the callback page when its script did not run.
	chromiumNoScript = "callback without script"
)

// TestChromiumLogin signs the demo user in and approves the quickstart client, with
// JavaScript off, and checks what the pages show and what the client gets.
func TestChromiumLogin(t *testing.T) {
	bin := chromiumBinary(t)
	qs := startChromiumQuickstart(t)
	ctx := newChromium(t, bin) // stops before mcpguard, which then need not wait for its connections
	flow := qs.newFlow(t)

	resp := chromiumRun(t, ctx, "opening /authorize", chromedp.NavigateResponse(flow.authorizeURL))
	chromiumCheckLoginPage(t, ctx, resp)
	chromiumScreenshot(t, ctx, "login.png")

	resp = chromiumSignIn(t, ctx, chromiumEmail, chromiumPassword)
	if got := resp.Status; got != http.StatusOK {
		t.Fatalf("signing in answered %d at %s, want 200 and the consent page", got, resp.URL)
	}
	chromiumCheckConsentPage(t, ctx, resp, flow)
	chromiumCheckSessionCookie(t, ctx, qs.issuer)
	chromiumScreenshot(t, ctx, "consent.png")

	resp = chromiumClick(t, ctx, `button[name="action"][value="approve"]`)
	if !strings.HasPrefix(resp.URL, flow.redirectURI+"?") {
		t.Fatalf("after Approve the browser is at %s, want the client's redirect URI %s", resp.URL, flow.redirectURI)
	}
	got := qs.callback.only(t)
	if got.Get("code") == "" || got.Get("state") != flow.state || got.Get("iss") != qs.issuer || got.Has("error") {
		t.Fatalf("the client's redirect URI got %v, want a code, state %q and iss %q", got, flow.state, qs.issuer)
	}
	chromiumCheckNoScript(t, ctx)

	token := qs.exchange(t, flow, got.Get("code"))
	qs.checkAuth(t, token)
}

// TestChromiumWrongPassword: a wrong password keeps the user on the login page with
// an error that assistive technology announces, and never reaches consent or the client;
// the re-rendered form then works, and Deny sends access_denied to the client.
func TestChromiumWrongPassword(t *testing.T) {
	bin := chromiumBinary(t)
	qs := startChromiumQuickstart(t)
	ctx := newChromium(t, bin)
	flow := qs.newFlow(t)

	chromiumRun(t, ctx, "opening /authorize", chromedp.NavigateResponse(flow.authorizeURL))
	resp := chromiumSignIn(t, ctx, chromiumEmail, "not-the-password")
	if resp.Status != http.StatusUnauthorized || !strings.HasPrefix(resp.URL, qs.issuer+"/") {
		t.Fatalf("a wrong password answered %d at %s, want 401 from %s", resp.Status, resp.URL, qs.issuer)
	}
	if msg := chromiumText(t, ctx, `[role="alert"]`); !strings.Contains(msg, "Incorrect email or password") {
		t.Errorf("the alert says %q, want it to say the email or password is incorrect", msg)
	}
	ax := chromiumAXTree(t, ctx)
	if !ax.has("alert", "") {
		t.Errorf("no node with role alert in the accessibility tree:\n%s", ax)
	}
	if d := ax.description("textbox", "Email"); !strings.Contains(d, "Incorrect email or password") {
		t.Errorf("the Email field is described as %q, want the error (aria-describedby)", d)
	}
	if v := chromiumRun(t, ctx, "#email", chromedp.Value(chromedp.CSS("#email"))); v != chromiumEmail {
		t.Errorf("the Email field holds %q after the error, want %q kept", v, chromiumEmail)
	}
	if v := chromiumRun(t, ctx, "#password", chromedp.Value(chromedp.CSS("#password"))); v != "" {
		t.Errorf("the Password field holds %q after the error, want it empty", v)
	}
	if n := chromiumCount(t, ctx, `button[value="approve"]`); n != 0 {
		t.Errorf("the page after a wrong password has %d Approve buttons", n)
	}
	chromiumScreenshot(t, ctx, "login-error.png")
	if n := qs.callback.count(); n != 0 {
		t.Fatalf("the client's redirect URI was called %d times after a wrong password", n)
	}

	resp = chromiumSignIn(t, ctx, "", chromiumPassword) // the email is still filled in
	if resp.Status != http.StatusOK || chromiumCount(t, ctx, `button[value="approve"]`) != 1 {
		t.Fatalf("the right password after a wrong one answered %d at %s, want the consent page", resp.Status, resp.URL)
	}
	chromiumClick(t, ctx, `button[name="action"][value="deny"]`)
	got := qs.callback.only(t)
	if got.Get("error") != "access_denied" || got.Has("code") || got.Get("state") != flow.state || got.Get("iss") != qs.issuer {
		t.Fatalf("after Deny the client's redirect URI got %v, want error=access_denied, state %q, iss %q and no code", got, flow.state, qs.issuer)
	}
	chromiumCheckNoScript(t, ctx)
}

// chromiumQuickstart is mcpguard started as `make run` starts it, with what a client
// discovers from it, and the client's redirect URI.
type chromiumQuickstart struct {
	base      string // where mcpguard listens
	issuer    string
	authorize string // authorization_endpoint
	token     string // token_endpoint
	resource  string // the protected resource of examples/quickstart.yaml
	clientID  string // the pre-registered client of examples/quickstart.yaml
	callback  *chromiumCallback
}

// startChromiumQuickstart runs mcpguard with the Makefile's run recipe (the files it
// names, a bbolt store) on a free loopback port, and discovers the endpoints as an MCP
// client does: protected-resource metadata, then authorization-server metadata.
func startChromiumQuickstart(t *testing.T) *chromiumQuickstart {
	t.Helper()
	root := repoRoot(t)
	env := map[string]string{
		"PROVIDER":         "local",
		"LOCAL_USERS_FILE": filepath.Join(root, "examples", "demo-users.yaml"),
		"POLICY_FILE":      filepath.Join(root, "examples", "quickstart.yaml"),
		"STORE":            "bolt://" + filepath.Join(t.TempDir(), "mcpguard.db"),
		"LISTEN_ADDR":      fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	base, _, stderr := startRun(t, env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mcpguard's log:\n%s", stderr)
		}
	})
	qs := &chromiumQuickstart{base: base, clientID: "quickstart", callback: startChromiumCallback(t)}

	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	chromiumGetJSON(t, base+"/.well-known/oauth-protected-resource/mcp", &prm)
	if prm.Resource == "" || len(prm.AuthorizationServers) != 1 {
		t.Fatalf("protected-resource metadata = %+v, want a resource and one authorization server", prm)
	}
	qs.resource, qs.issuer = prm.Resource, prm.AuthorizationServers[0]
	var as struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	chromiumGetJSON(t, qs.issuer+"/.well-known/oauth-authorization-server", &as)
	if as.Issuer != qs.issuer || as.AuthorizationEndpoint == "" || as.TokenEndpoint == "" {
		t.Fatalf("authorization-server metadata = %+v, want issuer %q and the endpoints", as, qs.issuer)
	}
	qs.authorize, qs.token = as.AuthorizationEndpoint, as.TokenEndpoint
	return qs
}

// chromiumFlow is one authorization request of the quickstart client.
type chromiumFlow struct {
	redirectURI, state, verifier string
	authorizeURL                 string
}

// newFlow makes an authorization request with PKCE S256 (RFC 7636 §4.1-4.2) and the
// callback server as the redirect URI.
func (qs *chromiumQuickstart) newFlow(t *testing.T) chromiumFlow {
	t.Helper()
	f := chromiumFlow{redirectURI: qs.callback.url + "/callback", state: rand.Text(), verifier: rand.Text() + rand.Text()}
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {qs.clientID},
		"redirect_uri":          {f.redirectURI},
		"scope":                 {chromiumScopes},
		"state":                 {f.state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"resource":              {qs.resource},
	}
	f.authorizeURL = qs.authorize + "?" + q.Encode()
	return f
}

// exchange redeems the code at the token endpoint as the public quickstart client and
// returns the access token.
func (qs *chromiumQuickstart) exchange(t *testing.T, f chromiumFlow, code string) string {
	t.Helper()
	resp, err := http.PostForm(qs.token, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {f.redirectURI},
		"client_id":     {qs.clientID},
		"code_verifier": {f.verifier},
		"resource":      {qs.resource},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		t.Fatalf("POST %s (authorization_code) = %s %s, want 200 with a Bearer access token", qs.token, resp.Status, body)
	}
	if tok.Scope != "" && !slices.Equal(strings.Fields(tok.Scope), strings.Fields(chromiumScopes)) {
		t.Errorf("the token's scope is %q, want the approved %q", tok.Scope, chromiumScopes)
	}
	return tok.AccessToken
}

// checkAuth asks /auth what a proxy in front of the quickstart's MCP server asks, with
// the access token, and wants the demo user in the identity headers.
func (qs *chromiumQuickstart) checkAuth(t *testing.T, token string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, qs.base+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "localhost")
	req.Header.Set("X-Forwarded-Uri", "/mcp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := map[string]string{
		"X-Forwarded-User":  chromiumEmail,
		"X-Forwarded-Email": chromiumEmail,
		"X-Auth-Client-Id":  qs.clientID,
		"X-Auth-Source":     "oauth",
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/auth with the access token = %s %v, want 200", resp.Status, resp.Header)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("/auth with the access token: %s = %q, want %q", k, got, v)
		}
	}
}

// chromiumCallback is the client's redirect URI: it records every authorization
// response and answers with a page whose script would change its title.
type chromiumCallback struct {
	url string
	mu  sync.Mutex
	got []url.Values
}

func startChromiumCallback(t *testing.T) *chromiumCallback {
	t.Helper()
	c := &chromiumCallback{}
	mux := http.NewServeMux()
	page := `<!doctype html><html lang="en"><title>` + chromiumNoScript + `</title>` +
		`<script>document.title = "script ran"</script><p>Signed in; you can close this window.</p>`
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.URL.Query())
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	srv := httptest.NewUnstartedServer(mux)
	// The registered http://127.0.0.1:8976/callback when that port is free, so the
	// screenshots show what a reader of the quickstart sees; else any port (RFC 8252 §7.3).
	if ln, err := net.Listen("tcp", "127.0.0.1:8976"); err == nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *chromiumCallback) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// only returns the one authorization response the redirect URI received.
func (c *chromiumCallback) only(t *testing.T) url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != 1 {
		t.Fatalf("the client's redirect URI received %d authorization responses, want 1: %v", len(c.got), c.got)
	}
	return c.got[0]
}
