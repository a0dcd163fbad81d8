package e2e

// The official MCP TypeScript SDK's own machine-to-machine providers end to end:
// ClientCredentialsProvider (client_secret_basic) and PrivateKeyJwtProvider (ES256 and
// RS256), run by node from testdata/tsclient, connect through the real nginx recipe to
// the example MCP server with mcpguard as the auth service and the authorization server,
// and list the server's tools. tssdk_xaa_test.go runs its CrossAppAccessProvider.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The two machine clients of the policy file.
const (
	tsBasicClient   = "ts-ci-bot"
	tsBasicSecret   = "ts-ci-bot-secret-0123456789abcdef0123456789"
	tsJWTClient     = "ts-deployer"
	goPostClient    = "go-reporter"
	goPostSecret    = "go-reporter-secret-0123456789abcdef0123456789"
	tsInstallHint   = "apt-get install -y nodejs npm, then scripts/install-tsclient.sh"
	tsSDKPackage    = "@modelcontextprotocol/sdk"
	tsClientPackage = "@modelcontextprotocol/client" // the SDK's v2 client, with CrossAppAccessProvider
	tsClientScript  = "client.mjs"
)

// TestTSSDK has each TypeScript SDK provider list the tools of the guarded MCP server.
func TestTSSDK(t *testing.T) {
	node := findBinary(t, "node", tsInstallHint)
	script := tsclientScript(t, tsClientScript)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	up, proxy := startMachineStack(t, ecKey.Public(), rsaKey.Public())

	for _, tc := range []struct {
		name, mode, provider string
		env                  map[string]string
	}{
		{
			name: "client_secret_basic", mode: "basic", provider: "ClientCredentialsProvider",
			env: map[string]string{"CLIENT_ID": tsBasicClient, "CLIENT_SECRET": tsBasicSecret},
		},
		{
			name: "private_key_jwt ES256", mode: "jwt", provider: "PrivateKeyJwtProvider",
			env: map[string]string{"CLIENT_ID": tsJWTClient, "ALG": "ES256", "PRIVATE_KEY_FILE": pkcs8File(t, ecKey)},
		},
		{
			name: "private_key_jwt RS256", mode: "jwt", provider: "PrivateKeyJwtProvider",
			env: map[string]string{"CLIENT_ID": tsJWTClient, "ALG": "RS256", "PRIVATE_KEY_FILE": pkcs8File(t, rsaKey)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SCOPE": "mcp:read", "EDGE": proxy.addr}
			for k, v := range tc.env {
				env[k] = v
			}
			got := runTSClient(t, node, script, tc.mode, env)
			if got.Provider != tc.provider || !slices.Contains(got.Tools, "whoami") {
				t.Errorf("node %s = provider %q, tools %q; want %s listing whoami", tc.mode, got.Provider, got.Tools, tc.provider)
			}
			upstreamSaw(t, up, map[string]string{
				"X-Auth-Source":    "client",
				"X-Auth-Client-Id": tc.env["CLIENT_ID"],
				"X-Forwarded-User": tc.env["CLIENT_ID"],
			})
		})
	}
}

// TestTSSDKGoClientCredentials is the Go SDK's counterpart, as docs/machines.md shows it:
// extauth.ClientCredentialsHandler through the same nginx recipe. The handler sends the
// secret in the form (client_secret_post) whenever the metadata lists that method, so its
// machine is registered for client_secret_post.
func TestTSSDKGoClientCredentials(t *testing.T) {
	ec, rs := mustKeys(t)
	_, proxy := startMachineStack(t, ec, rs)
	edge := &http.Client{Transport: &loadBalancer{proxy: proxy.addr, direct: map[string]bool{}}, Timeout: 10 * time.Second}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	handler := machineClientHandler(t, edge)
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-e2e-goclient", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpURL, HTTPClient: edge, OAuthHandler: handler, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("Go SDK Connect(%s) with ClientCredentialsHandler = %v", mcpURL, err)
	}
	defer session.Close()
	res, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("ListTools = %v", err)
	}
	if !slices.ContainsFunc(res.Tools, func(tool *mcp.Tool) bool { return tool.Name == "whoami" }) {
		t.Errorf("ListTools = %d tools, want whoami among them", len(res.Tools))
	}
}

// tsClientOutput is the line a tsclient script prints.
type tsClientOutput struct {
	Provider string   `json:"provider"`
	Tools    []string `json:"tools"`
}

// runTSClient runs a tsclient script with node for the MCP server at mcpURL and
// mcpguard's issuer, the environment extended by env, and returns what it printed.
func runTSClient(t *testing.T, node, script, arg string, env map[string]string) tsClientOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, arg)
	cmd.Env = append(os.Environ(), "MCP_URL="+mcpURL, "ISSUER="+authIssuer)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(script), arg, err, stdout.String(), stderr.String())
	}
	var got tsClientOutput
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("node %s output %q: %v (stderr: %s)", filepath.Base(script), stdout.String(), err, stderr.String())
	}
	return got
}

// startMachineStack starts the example MCP server, mcpguard with the machines of
// tsPolicy (the private_key_jwt one holding ecPub and rsaPub), and nginx in front.
func startMachineStack(t *testing.T, ecPub, rsaPub crypto.PublicKey) (*whoamiServer, edgeProxy) {
	t.Helper()
	up := startWhoami(t)
	return up, startMachineEdge(t, up.addr, ecPub, rsaPub)
}

// startMachineEdge starts mcpguard with the machines of tsPolicy and nginx in front of
// the MCP server at upstream.
func startMachineEdge(t *testing.T, upstream string, ecPub, rsaPub crypto.PublicKey) edgeProxy {
	t.Helper()
	env := oauthEnv(t, "memory://")
	env["POLICY_FILE"] = tsPolicy(t, ecPub, rsaPub)
	guard := startGuard(t, env)
	if err := waitHTTP(guard, "127.0.0.1", "/readyz", nil); err != nil {
		t.Fatalf("mcpguard: %v", err)
	}
	return startNginx(t, guard, &mcpUpstream{addr: upstream})
}

// mustKeys returns the public halves of a fresh P-256 and a fresh RSA key.
func mustKeys(t *testing.T) (ec, rs crypto.PublicKey) {
	t.Helper()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return ecKey.Public(), rsaKey.Public()
}

// tsPolicy writes the policy file: the resource, a client_secret_basic machine holding
// only the secret's hash, a private_key_jwt machine with an inline JWK Set of an ES256
// and an RS256 public key, and the Go SDK's client_secret_post machine.
func tsPolicy(t *testing.T, ecPub, rsaPub crypto.PublicKey) string {
	t.Helper()
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ecPub, KeyID: "es", Algorithm: "ES256", Use: "sig"},
		{Key: rsaPub, KeyID: "rs", Algorithm: "RS256", Use: "sig"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// JSON is YAML: the set goes in as a flow mapping.
	policy := fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
clients:
  - client_id: %s
    client_name: TypeScript SDK, client_secret_basic
    client_secret_hash: %s
    token_endpoint_auth_method: client_secret_basic
    grant_types: [client_credentials]
    scope: mcp:read
    resources: [%s]
  - client_id: %s
    client_name: TypeScript SDK, private_key_jwt
    token_endpoint_auth_method: private_key_jwt
    jwks: %s
    grant_types: [client_credentials]
    scope: mcp:read mcp:write
    resources: [%s]
  - client_id: %s
    client_name: Go SDK, client_secret_post
    client_secret_hash: %s
    token_endpoint_auth_method: client_secret_post
    grant_types: [client_credentials]
    scope: mcp:read
`, mcpURL, tsBasicClient, sha256Hex(tsBasicSecret), mcpURL, tsJWTClient, set, mcpURL, goPostClient, sha256Hex(goPostSecret))
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// pkcs8File writes key as a PKCS#8 PEM file, the form the SDK's provider imports.
func pkcs8File(t *testing.T, key crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// tsclientScript copies the scripts of testdata/tsclient (name and the modules it
// imports) into a temporary directory next to a link to the installed node_modules, and
// returns the path of name: ES modules resolve packages from the importing file's
// directory, not NODE_PATH.
func tsclientScript(t *testing.T, name string) string {
	t.Helper()
	modules := tsclientModules(t)
	scripts, err := filepath.Glob(filepath.Join(tsclientDir(t), "*.mjs"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts in %s: %v", tsclientDir(t), err)
	}
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	for _, src := range scripts {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name)
}

func tsclientDir(t *testing.T) string {
	return npmTestdata(t, "tsclient")
}

// tsclientModules is the node_modules directory scripts/install-tsclient.sh fills.
func tsclientModules(t *testing.T) string {
	t.Helper()
	return npmModules(t, "tsclient", tsInstallHint, tsSDKPackage, tsClientPackage)
}
