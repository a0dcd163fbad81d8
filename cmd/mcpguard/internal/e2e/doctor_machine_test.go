package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorClientCredentials runs doctor's client-credentials and mcp-tools checks
// against the nginx stack with a machine client in the policy file: the exchange at the
// real token endpoint, an initialize with the token, and an MCP session with it
// (tools/list, or tools/call of --tool) with the example MCP server through nginx and
// /auth pass; a wrong secret fails with the fix that names it, and mcp-tools is skipped.
func TestDoctorClientCredentials(t *testing.T) {
	env := machineEnv(t, "memory://", "ci-bot-secret-0123456789abcdef")
	s := startMCPStack(t, startNginx, env)
	out, err := runDoctorCommand(t, s.edge, "--no-register", "--client-id", "ci-bot", "--client-secret", "ci-bot-secret-0123456789abcdef", mcpURL)
	t.Logf("mcpguard doctor --client-id ci-bot:\n%s", out)
	if err != nil {
		t.Errorf("doctor = %v, want nil", err)
	}
	for _, want := range []string{
		"PASS client-credentials: client_secret_basic token accepted by initialize\n",
		"PASS mcp-tools: tools/list with the token: 2 tools (echo, whoami)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	out, err = runDoctorCommand(t, s.edge, "--no-register", "--client-id", "ci-bot", "--client-secret", "ci-bot-secret-0123456789abcdef",
		"--tool", "echo", "--tool-args", `{"text":"from doctor"}`, mcpURL)
	if err != nil || !strings.Contains(out, "PASS mcp-tools: tools/call echo with the token: 1 content blocks\n") {
		t.Errorf("doctor --tool echo = %v, want PASS mcp-tools for tools/call echo:\n%s", err, out)
	}
	out, err = runDoctorCommand(t, s.edge, "--no-register", "--client-id", "ci-bot", "--client-secret", "wrong", mcpURL)
	if err == nil || !strings.Contains(out, "FAIL client-credentials: ") || !strings.Contains(out, "invalid_client") || !strings.Contains(out, "--client-secret") {
		t.Errorf("doctor with a wrong secret = %v, want FAIL client-credentials with invalid_client and a fix naming --client-secret:\n%s", err, out)
	}
	if !strings.Contains(out, "SKIP mcp-tools: ") {
		t.Errorf("doctor with a wrong secret does not skip mcp-tools:\n%s", out)
	}
}

// TestDoctorStepUp runs doctor's step-up check against the stack of each proxy whose
// resource has a tool rule asking for more scope than the resource: the least token is
// refused with 403 insufficient_scope naming the whole scope set, and the
// resource_metadata of the 401, through the proxy (nginx passes WWW-Authenticate on 403
// only as its recipe copies it). --client still runs only that client's gates, with the
// machine checks.
func TestDoctorStepUp(t *testing.T) {
	for _, p := range []struct {
		name  string
		start func(*testing.T, string, *mcpUpstream) edgeProxy
	}{{"nginx", startNginx}, {"caddy", startCaddy}, {"traefik", startTraefik}} {
		t.Run(p.name, func(t *testing.T) { runDoctorStepUp(t, p.start) })
	}
}

// runDoctorStepUp is TestDoctorStepUp through the proxy start runs.
func runDoctorStepUp(t *testing.T, start func(*testing.T, string, *mcpUpstream) edgeProxy) {
	env := oauthEnv(t, "memory://")
	env["POLICY_FILE"] = writeFile(t, "policy.yaml", fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
    rules:
      - name: echo-writes
        methods: [tools/call]
        tools: [echo]
        required_scopes: [mcp:write]
clients:
  - client_id: ci-bot
    client_secret: ci-bot-secret-0123456789abcdef
    token_endpoint_auth_method: client_secret_basic
    grant_types: [client_credentials]
    scope: mcp:read mcp:write
    resources: [%s]
`, mcpURL, mcpURL))
	s := startMCPStack(t, start, env)
	machine := []string{"--client-id", "ci-bot", "--client-secret", "ci-bot-secret-0123456789abcdef", "--tool", "echo", "--tool-args", `{"text":"step-up"}`}
	out, err := runDoctorCommand(t, s.edge, append(append([]string{"--no-register"}, machine...), mcpURL)...)
	t.Logf("mcpguard doctor --tool echo:\n%s", out)
	if err != nil {
		t.Errorf("doctor = %v, want nil", err)
	}
	want := `PASS step-up: initialize with a token of scope "mcp:read" got 403 insufficient_scope, scope="mcp:read mcp:write", resource_metadata=https://mcp.example.com/.well-known/oauth-protected-resource/mcp` + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("doctor output lacks %q", want)
	}
	out, _ = runDoctorCommand(t, s.edge, append(append([]string{"--no-register", "--client", "cursor"}, machine...), mcpURL)...)
	for _, c := range []string{"none-with-cimd", "cors-preflight", "loopback-any-port"} {
		if strings.Contains(out, " "+c) {
			t.Errorf("doctor --client cursor ran %s, not one of cursor's gates:\n%s", c, out)
		}
	}
	for _, c := range []string{"PASS pkce-s256", "PASS client-credentials", "PASS mcp-tools", "PASS step-up"} {
		if !strings.Contains(out, c) {
			t.Errorf("doctor --client cursor lacks %q:\n%s", c, out)
		}
	}
}

// machineEnv is oauthEnv on storeDSN with a policy file of the one resource and the
// machine client ci-bot, which gets tokens by client_credentials with secret.
func machineEnv(t *testing.T, storeDSN, secret string) map[string]string {
	t.Helper()
	env := oauthEnv(t, storeDSN)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	policyYAML := fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
clients:
  - client_id: ci-bot
    client_secret: %s
    token_endpoint_auth_method: client_secret_basic
    grant_types: [client_credentials]
    scope: mcp:read
    resources: [%s]
`, mcpURL, secret, mcpURL)
	if err := os.WriteFile(policy, []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env["POLICY_FILE"] = policy
	return env
}
