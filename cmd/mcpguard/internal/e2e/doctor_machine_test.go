package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorClientCredentials runs doctor's client-credentials check against the nginx
// stack with a machine client in the policy file: the exchange at the real token
// endpoint and an initialize with the token through nginx and /auth pass, and a wrong
// secret fails with the fix that names it.
func TestDoctorClientCredentials(t *testing.T) {
	env := machineEnv(t, "memory://", "ci-bot-secret-0123456789abcdef")
	s := startMCPStack(t, startNginx, env)
	out, err := runDoctorCommand(t, s.edge, "--no-register", "--client-id", "ci-bot", "--client-secret", "ci-bot-secret-0123456789abcdef", mcpURL)
	t.Logf("mcpguard doctor --client-id ci-bot:\n%s", out)
	if err != nil {
		t.Errorf("doctor = %v, want nil", err)
	}
	if !strings.Contains(out, "PASS client-credentials: client_secret_basic token accepted by initialize") {
		t.Errorf("doctor output lacks PASS client-credentials")
	}
	out, err = runDoctorCommand(t, s.edge, "--no-register", "--client-id", "ci-bot", "--client-secret", "wrong", mcpURL)
	if err == nil || !strings.Contains(out, "FAIL client-credentials: ") || !strings.Contains(out, "invalid_client") || !strings.Contains(out, "--client-secret") {
		t.Errorf("doctor with a wrong secret = %v, want FAIL client-credentials with invalid_client and a fix naming --client-secret:\n%s", err, out)
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
