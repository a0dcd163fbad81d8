package e2e

// mcp-remote (npm), the stdio bridge Claude Desktop and Cursor users run, end to end
// through the real nginx, Caddy and Traefik recipes: the test is the stdio MCP client (the
// Go SDK's CommandTransport), mcp-remote runs the whole OAuth flow against mcpguard with
// a stand-in for the browser, relays initialize, tools/list and tools/call, starts again
// from the tokens it stored, and refreshes an access token that has expired.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

const (
	npmClientsHint = "apt-get install -y nodejs npm, then scripts/install-npmclients.sh"
	// remoteTTL is the shortest ACCESS_TOKEN_TTL mcpguard accepts. It is under
	// mcp-remote's 60 s refresh margin, so mcp-remote refreshes before every request.
	remoteTTL = 30 * time.Second
	// remoteClientName is the client_name mcp-remote registers with.
	remoteClientName = "MCP CLI Proxy"
)

// TestMCPRemote runs mcp-remote three times through each proxy: signing in, from its
// stored tokens, and after the last access token expired; through nginx also with an API
// key. The three stacks run side by side, and the expired runs come after all the
// others, so that the wait for the expiry is spent once. (Parallel subtests would not
// save it: go test runs GOMAXPROCS of them at once, two here.)
func TestMCPRemote(t *testing.T) {
	node := findBinary(t, "node", npmClientsHint)
	bridge := filepath.Join(npmModules(t, "npmclients", npmClientsHint, "mcp-remote"), "mcp-remote", "dist", "proxy.js")
	env := oauthEnv(t, "memory://")
	env["ACCESS_TOKEN_TTL"] = remoteTTL.String()
	env["API_KEYS_FILE"] = guardEnv(t)["API_KEYS_FILE"]
	var runs []*remoteRun
	for _, p := range []struct {
		name  string
		start func(*testing.T, string, *mcpUpstream) edgeProxy
	}{{"nginx", startNginx}, {"caddy", startCaddy}, {"traefik", startTraefik}} {
		r := &remoteRun{name: p.name, node: node, bridge: bridge, stack: startMCPStack(t, p.start, env)}
		r.https = startHTTPSEdge(t, r.stack.edge)
		r.config, r.port = t.TempDir(), freePort(t)
		runs = append(runs, r)
		t.Run(p.name, func(t *testing.T) {
			r.signIn(t)
			r.stored(t)
		})
	}
	// While the tokens age: the configuration without OAuth, an API key in a header.
	t.Run("nginx-apikey", runs[0].apiKey)
	for _, r := range runs {
		t.Run(r.name+"-expired", r.expired)
	}
}

// remoteRun is one proxy's mcp-remote: its stack, config directory and callback port.
type remoteRun struct {
	name, node, bridge string
	stack              *mcpStack
	https              *httpsEdge
	config             string // MCP_REMOTE_CONFIG_DIR, kept across the runs
	port               int    // the OAuth callback port
	lastToken          time.Time
	signedIn           bool
}

// signIn is the first run: no stored state, so mcp-remote registers, opens the browser
// (the stand-in hands the URL to a formBrowser, which logs in and approves), and gets its
// tokens at the callback.
func (r *remoteRun) signIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, asm := r.stack, r.stack.asm
	browser, script, played := standInBrowser(t, ctx, s.edge)
	hops, seen := s.edge.mark(), len(s.up.requests())
	session, stderr := r.connect(t, ctx, r.config, script)
	defer session.Close()
	if err := <-played; err != nil {
		t.Fatalf("browser: %v\nrequests:\n%s\nmcp-remote:\n%s", err, s.edge.since(hops), stderr)
	}
	r.signedIn = true
	s.edge.expect(t, hops, []hopWant{
		{"POST", mcpHost, "/mcp", http.StatusUnauthorized},
		{"GET", mcpHost, "/.well-known/oauth-protected-resource/mcp", http.StatusOK},
		{"GET", authHost, "/.well-known/oauth-authorization-server", http.StatusOK},
		{"POST", authHost, urlPath(t, asm.RegistrationEndpoint), http.StatusCreated},
		{"GET", authHost, urlPath(t, asm.AuthorizationEndpoint), 0},
		{"POST", authHost, urlPath(t, asm.TokenEndpoint), http.StatusOK},
		{"POST", mcpHost, "/mcp", http.StatusOK},
	})
	if browser.count("login") != 1 || browser.count("consent") != 1 {
		t.Errorf("browser pages: %s; want one login and one consent", browser.summary())
	}
	for _, p := range browser.pages {
		if p.kind == "consent" && !strings.Contains(p.text, remoteClientName) {
			t.Errorf("consent page text %q does not name the client %q", p.text, remoteClientName)
		}
	}
	q := browser.opened[0].Query()
	if q.Get("resource") != mcpURL || q.Get("code_challenge_method") != "S256" || !slices.Contains(strings.Fields(q.Get("scope")), "offline_access") {
		t.Errorf("authorization request %v: want resource=%s, S256 PKCE and offline_access", q, mcpURL)
	}
	r.use(t, ctx, session, seen)
	r.noteToken(t, hops)
}

// stored is the second run with the same config directory: mcp-remote starts from its
// stored client and tokens, registers nothing and never opens the browser. Its access
// token is within the 60 s margin, so it refreshes first.
func (r *remoteRun) stored(t *testing.T) {
	r.restart(t, false)
}

// expired waits until the last access token mcp-remote got has expired (the proxy
// refuses it), then starts mcp-remote once more: it refreshes and carries on.
func (r *remoteRun) expired(t *testing.T) {
	if !r.signedIn {
		t.Fatalf("mcp-remote through %s never signed in", r.name)
	}
	time.Sleep(time.Until(r.lastToken.Add(remoteTTL + time.Second)))
	r.restart(t, true)
}

// restart runs mcp-remote from its stored state and checks that it refreshed its token
// (and, with wantExpired, that the proxy refuses the token it held before).
func (r *remoteRun) restart(t *testing.T, wantExpired bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, asm := r.stack, r.stack.asm
	old := s.edge.lastBearer(0, mcpHost)
	if wantExpired {
		if resp := bearerInitialize(t, s.edge, old); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("initialize with mcp-remote's last access token %s after it was issued = %d, want 401", time.Since(r.lastToken).Round(time.Second), resp.StatusCode)
		}
	}
	opened := filepath.Join(t.TempDir(), "opened")
	hops, seen := s.edge.mark(), len(s.up.requests())
	session, stderr := r.connect(t, ctx, r.config, remoteBrowser(t, opened, 1))
	defer session.Close()
	if _, err := os.Stat(opened); err == nil {
		t.Errorf("mcp-remote opened the browser although it had stored tokens\nmcp-remote:\n%s", stderr)
	}
	for _, path := range []string{urlPath(t, asm.RegistrationEndpoint), urlPath(t, asm.AuthorizationEndpoint)} {
		if n := s.edge.count(hops, "POST", authHost, path) + s.edge.count(hops, "GET", authHost, path); n != 0 {
			t.Errorf("mcp-remote with stored tokens went to %s:\n%s", path, s.edge.since(hops))
		}
	}
	// A refresh (the only token request without an authorization), then the MCP server.
	s.edge.expect(t, hops, []hopWant{
		{"POST", authHost, urlPath(t, asm.TokenEndpoint), http.StatusOK},
		{"POST", mcpHost, "/mcp", http.StatusOK},
	})
	r.use(t, ctx, session, seen)
	if now := s.edge.lastBearer(hops, mcpHost); now == "" || now == old {
		t.Errorf("mcp-remote sent its old access token after the refresh")
	}
	r.noteToken(t, hops)
}

// apiKey runs mcp-remote with an empty config directory and an API key in --header, as
// docs/clients/mcp-remote.md configures it for a server without OAuth: no 401, so no
// registration, authorization or token request and no browser; the MCP server sees the
// key's identity.
func (r *remoteRun) apiKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s := r.stack
	opened := filepath.Join(t.TempDir(), "opened")
	hops, seen := s.edge.mark(), len(s.up.requests())
	session, _ := r.connect(t, ctx, t.TempDir(), remoteBrowser(t, opened, 1), "--header", "X-API-Key:"+writerKey)
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list over mcp-remote = %v", err)
	}
	if !slices.ContainsFunc(tools.Tools, func(tool *mcp.Tool) bool { return tool.Name == "whoami" }) {
		t.Errorf("tools/list over mcp-remote = %d tools, want whoami among them", len(tools.Tools))
	}
	if res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err != nil || res.IsError {
		t.Fatalf("tools/call whoami over mcp-remote = %v, %+v", err, res)
	}
	checkCaller(t, s, seen, "apikey", "writer@example.com", "writer")
	if _, err := os.Stat(opened); err == nil {
		t.Errorf("mcp-remote with an API key opened the browser")
	}
	// It reads mcpguard's metadata all the same, and never needs it.
	for _, h := range s.edge.hops(hops) {
		if h.status == http.StatusUnauthorized || (h.host == authHost && h.path != "/.well-known/oauth-authorization-server") {
			t.Errorf("mcp-remote with an API key: %s; want no 401 and no OAuth request", h)
		}
	}
}

// connect starts mcp-remote with config as MCP_REMOTE_CONFIG_DIR, browser as $BROWSER
// and args after the URL and port, and initializes an MCP session over its stdin and
// stdout. It returns the session and mcp-remote's stderr.
func (r *remoteRun) connect(t *testing.T, ctx context.Context, config, browser string, args ...string) (*mcp.ClientSession, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(r.node, append([]string{r.bridge, mcpURL, strconv.Itoa(r.port), "--enable-proxy"}, args...)...)
	// No DISPLAY and no desktop: the opener's xdg-open runs $BROWSER.
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + config,
		"MCP_REMOTE_CONFIG_DIR=" + config,
		"BROWSER=" + browser,
	}, r.https.env()...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-e2e-stdio", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		t.Fatalf("initialize over mcp-remote's stdio = %v\nmcp-remote:\n%s", err, stderr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mcp-remote:\n%s", stderr)
		}
	})
	return session, stderr
}

// use lists the tools and calls whoami through mcp-remote, as the client registered in
// its config directory, and checks what reached the MCP server since it had seen n.
func (r *remoteRun) use(t *testing.T, ctx context.Context, session *mcp.ClientSession, n int) {
	t.Helper()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list over mcp-remote = %v", err)
	}
	if !slices.ContainsFunc(tools.Tools, func(tool *mcp.Tool) bool { return tool.Name == "whoami" }) {
		t.Errorf("tools/list over mcp-remote = %d tools, want whoami among them", len(tools.Tools))
	}
	clientID := remoteClientID(t, r.config)
	r.stack.whoami(t, ctx, session, localUser, func() *oauth2.Config { return &oauth2.Config{ClientID: clientID} })
	r.stack.checkUpstream(t, localUser, n)
}

// noteToken records when the last token response since from arrived.
func (r *remoteRun) noteToken(t *testing.T, from int) {
	if r.stack.edge.count(from, "POST", authHost, urlPath(t, r.stack.asm.TokenEndpoint)) > 0 {
		r.lastToken = time.Now()
	}
}

// remoteClientID is the client_id mcp-remote stored after registering.
func remoteClientID(t *testing.T, config string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(config, "mcp-remote-v*", "*_client_info.json"))
	if len(files) != 1 {
		t.Fatalf("mcp-remote's config directory %s holds %d client_info files, want 1", config, len(files))
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(data, &info); err != nil || info.ClientID == "" {
		t.Fatalf("%s: no client_id (%v)", files[0], err)
	}
	return info.ClientID
}

// remoteBrowser writes the stand-in for the browser: a script that appends the URL it
// is asked to open to the file opened, and exits with code (non-zero: it cannot open it).
func remoteBrowser(t *testing.T, opened string, code int) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "browser")
	body := fmt.Sprintf("#!/bin/sh\n# The person's browser, played by the test: it hands the URL over.\nprintf '%%s\\n' \"$1\" >> '%s'\nexit %d\n", opened, code)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// standInBrowser is the person at the browser for a client that opens one: the
// stand-in script for $BROWSER, the formBrowser that plays the person when the script
// hands it a URL, and a channel that yields the outcome.
func standInBrowser(t *testing.T, ctx context.Context, edge *loadBalancer) (*formBrowser, string, <-chan error) {
	t.Helper()
	browser, err := newFormBrowser(edge, authIssuer, localUser.email, localUser.password)
	if err != nil {
		t.Fatal(err)
	}
	opened := filepath.Join(t.TempDir(), "opened")
	played := make(chan error, 1)
	go func() { played <- playBrowser(ctx, browser, opened) }()
	return browser, remoteBrowser(t, opened, 0), played
}

// playBrowser waits for the stand-in to hand over an authorization URL, plays the person
// in b, and delivers the authorization response to the client's redirect_uri (its
// loopback callback server), as a browser follows the last redirect.
func playBrowser(ctx context.Context, b *formBrowser, opened string) error {
	var authURL string
	for authURL == "" {
		data, _ := os.ReadFile(opened)
		authURL, _, _ = strings.Cut(string(data), "\n")
		select {
		case <-ctx.Done():
			return fmt.Errorf("no URL was opened: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return fmt.Errorf("opened %q: %w", authURL, err)
	}
	redirect := u.Query().Get("redirect_uri")
	res, err := b.authorize(ctx, authURL, redirect)
	if err != nil {
		return err
	}
	callback := redirect + "?" + url.Values{"code": {res.Code}, "state": {res.State}, "iss": {res.Iss}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, callback, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("callback %s: %w", redirect, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("callback %s = %s", redirect, resp.Status)
	}
	return nil
}
