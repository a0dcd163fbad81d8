package e2e

import (
	"encoding/json"
	"testing"
)

// mcpguard's own client at Dex when Dex is the upstream identity provider.
const (
	dexBrokerClientID     = "mcpguard-broker"
	dexBrokerClientSecret = "mcpguard-broker-secret-0123456789"
)

// TestE2EMCPNginxDex is the MCP flow with a brokered login: mcpguard (PROVIDER=oidc)
// sends the person to Dex, a real OIDC provider, for the login (authorization code with
// PKCE, state and nonce; ID token verified with go-oidc), and the MCP server sees the
// identity of Dex's ID token. ALLOWED_GROUPS makes mcpguard ask Dex for groups and
// require one. The resource comes from the environment, not a policy file, so there is
// no pre-registered client: DCR and CIMD only.
func TestE2EMCPNginxDex(t *testing.T) {
	issuer := startDexBroker(t)
	env := map[string]string{
		"PROVIDER":        "oidc",
		"OIDC_ISSUER":     issuer,
		"CLIENT_ID":       dexBrokerClientID,
		"CLIENT_SECRET":   dexBrokerClientSecret,
		"ALLOWED_GROUPS":  dexE2EGroups[0],
		"RESOURCE_URL":    e2eMCPURL,
		"REQUIRED_SCOPES": "mcp:read",
		"ALLOWED_SCOPES":  "mcp:read,mcp:write",
		"STORE":           "memory://",
		"SESSION_SECRET":  e2eSessionSecret,
		"ISSUER_URL":      e2eIssuer,
		"LOG_LEVEL":       "debug",
	}
	person := e2ePerson{email: dexE2EEmail, password: dexE2EPassword, groups: dexE2EGroups}
	var regs []e2eRegistration
	for _, r := range e2eRegistrations() {
		if r.name != "preregistered" {
			regs = append(regs, r)
		}
	}
	runE2EMCP(t, startNginx, env, person, regs)
}

// dexBrokerConfig is Dex with the test user in its password database, no approval
// screen, and mcpguard as a confidential client whose redirect URI is the issuer's
// /callback.
func dexBrokerConfig(issuer, listen string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"issuer":           issuer,
		"storage":          map[string]any{"type": "memory"},
		"web":              map[string]any{"http": listen},
		"logger":           map[string]any{"level": "info", "format": "text"},
		"oauth2":           map[string]any{"skipApprovalScreen": true},
		"enablePasswordDB": true,
		"staticPasswords": []map[string]any{{
			"email":         dexE2EEmail,
			"hash":          dexE2EHash,
			"username":      "dex-user",
			"userID":        "5f1c7a0e-3b8d-4c1e-9a57-2d6e0b9f4c31",
			"emailVerified": true,
			"groups":        dexE2EGroups,
		}},
		"staticClients": []map[string]any{{
			"id":           dexBrokerClientID,
			"secret":       dexBrokerClientSecret,
			"name":         "mcpguard",
			"redirectURIs": []string{e2eIssuer + "/callback"},
		}},
	}, "", "  ")
}

// startDexBroker runs Dex with dexBrokerConfig on a free loopback port until the test
// ends and returns its issuer URL once the discovery document is served.
func startDexBroker(t *testing.T) (issuer string) {
	t.Helper()
	return startDexWith(t, dexBrokerConfig)
}
