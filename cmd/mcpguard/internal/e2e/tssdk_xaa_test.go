package e2e

// Enterprise-Managed Authorization (SEP-990) end to end: the TypeScript SDK's
// CrossAppAccessProvider (@modelcontextprotocol/client, run by node from
// testdata/tsclient/xaa.mjs) exchanges a person's ID token at an enterprise IdP (the
// oauthtest provider, on its own loopback port: a process boundary) for an ID-JAG,
// presents it at mcpguard's /token through the real nginx recipe, and lists the tools of
// the example MCP server as that person.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/oauth/oauthtest"
)

// The application: its client at mcpguard (the jwt-bearer grant) and at the IdP.
const (
	xaaClient    = "acme-agent"
	xaaSecret    = "acme-agent-secret-0123456789abcdef0123456789"
	xaaIdPClient = "acme-agent-at-idp"
	xaaIdPSecret = "acme-agent-idp-secret-0123456789abcdef"
	xaaEmail     = "bob@acme.example"
)

// TestTSSDKCrossAppAccess lists the tools as the person the ID-JAG names, then shows
// that the same ID-JAG presented again is refused.
func TestTSSDKCrossAppAccess(t *testing.T) {
	node := findBinary(t, "node", tsInstallHint)
	script := tsclientScript(t, "xaa.mjs")
	idp := oauthtest.NewProvider(t, xaaIdPClient, xaaIdPSecret)
	idp.SetUser(oauthtest.User{Subject: "00u-bob", Email: xaaEmail, EmailVerified: true, Name: "Bob", Groups: []string{"eng"}})
	idp.AllowIDJAG(authIssuer, xaaClient)

	env := oauthEnv(t, "memory://")
	env["POLICY_FILE"] = xaaPolicy(t, idp.URL())
	env["INSECURE_CIMD_ALLOW_PRIVATE"] = "true" // the IdP is on a loopback http port
	up := startWhoami(t)
	guard := startGuard(t, env)
	if err := waitHTTP(guard, "127.0.0.1", "/readyz", nil); err != nil {
		t.Fatalf("mcpguard: %v", err)
	}
	proxy := startNginx(t, guard, &mcpUpstream{addr: up.addr})

	got := runTSClient(t, node, script, "", map[string]string{
		"EDGE":              proxy.addr,
		"CLIENT_ID":         xaaClient,
		"CLIENT_SECRET":     xaaSecret,
		"IDP_URL":           idp.URL(),
		"IDP_CLIENT_ID":     xaaIdPClient,
		"IDP_CLIENT_SECRET": xaaIdPSecret,
		"ID_TOKEN":          idp.IDToken(t),
	})
	if got.Provider != "CrossAppAccessProvider" || !slices.Contains(got.Tools, "whoami") {
		t.Errorf("node xaa.mjs = provider %q, tools %q; want CrossAppAccessProvider listing whoami", got.Provider, got.Tools)
	}
	upstreamSaw(t, up, map[string]string{
		"X-Auth-Source":      "oauth",
		"X-Auth-Client-Id":   xaaClient,
		"X-Forwarded-User":   xaaEmail,
		"X-Forwarded-Email":  xaaEmail,
		"X-Forwarded-Groups": "eng",
	})

	jags := idp.IDJAGs()
	if len(jags) != 1 {
		t.Fatalf("the IdP issued %d ID-JAGs, want 1", len(jags))
	}
	edge := &http.Client{Transport: &loadBalancer{proxy: proxy.addr, direct: map[string]bool{}}, Timeout: 10 * time.Second}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jags[0]}, "resource": {mcpURL}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, authIssuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(xaaClient, xaaSecret)
	resp, err := edge.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var refusal struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&refusal); err != nil {
		t.Fatalf("POST /token with a replayed ID-JAG: %d, body not JSON: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusBadRequest || refusal.Error != "invalid_grant" || !strings.Contains(refusal.Description, "jti") {
		t.Errorf("POST /token with a replayed ID-JAG = %d %+v, want 400 invalid_grant naming jti", resp.StatusCode, refusal)
	}
}

// upstreamSaw checks the identity headers of the last request the MCP server received
// (from mcpguard, through the proxy).
func upstreamSaw(t *testing.T, up *whoamiServer, want map[string]string) {
	t.Helper()
	seen := up.requests()
	if len(seen) == 0 {
		t.Fatal("the MCP server received no request")
	}
	last := seen[len(seen)-1]
	for name, v := range want {
		if got := last.header.Get(name); got != v {
			t.Errorf("MCP server's last request (%s %s): %s = %q, want %q", last.method, last.path, name, got, v)
		}
	}
}

// xaaPolicy writes the policy file: the resource, the application's client with the
// jwt-bearer grant (only its secret's hash), and the enterprise IdP at issuer.
func xaaPolicy(t *testing.T, issuer string) string {
	t.Helper()
	policy := `resources:
  - url: ` + mcpURL + `
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
clients:
  - client_id: ` + xaaClient + `
    client_name: Acme agent
    client_secret_hash: ` + sha256Hex(xaaSecret) + `
    grant_types: [urn:ietf:params:oauth:grant-type:jwt-bearer]
    scope: mcp:read mcp:write
    resources: [` + mcpURL + `]
enterprise_idps:
  - issuer: ` + issuer + `
    clients: [` + xaaClient + `]
`
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
