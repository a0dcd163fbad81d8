package e2e

// The Dex suite: the peer itself, its tokens through nginx to mcpguard, and mcpguard brokering the login to it.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestDexIssuesToken checks the peer itself: the Dex that scripts/build-dex.sh builds, run
// with the tests' configuration, issues RS256 JWTs for the password grant whose claims
// are those mcpguard maps to an identity.
func TestDexIssuesToken(t *testing.T) {
	issuer := startDex(t)
	tok := dexTokens(t, issuer, dexClientID, dexClientSecret)
	if !strings.EqualFold(tok.TokenType, "bearer") || tok.ExpiresIn <= 0 {
		t.Errorf("token_type, expires_in = %q, %d, want bearer and a lifetime", tok.TokenType, tok.ExpiresIn)
	}
	// Dex's access token is a JWT too, with the ID token's claims; dexToken hands out the
	// access token, the one a client sends as a Bearer (RFC 6750).
	for _, c := range []struct{ name, token string }{{"access_token", tok.AccessToken}, {"id_token", tok.IDToken}} {
		t.Run(c.name, func(t *testing.T) {
			j := parseDexJWT(t, c.token)
			if j.header["alg"] != "RS256" || j.header["kid"] == nil {
				t.Errorf("header = %v, want alg RS256 and a kid", j.header)
			}
			j.verifyRS256(t, issuer)
			want := map[string]any{
				"iss":            issuer,
				"aud":            dexClientID,
				"email":          dexEmail,
				"email_verified": true,
				"groups":         []any{dexGroups[0], dexGroups[1]},
				"name":           "dex-user",
			}
			for k, w := range want {
				if got := j.claims[k]; fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("claim %s = %v, want %v", k, got, w)
				}
			}
			// A single audience and no client_id: the client is named by aud alone.
			for _, k := range []string{"azp", "client_id", "scope", "scp"} {
				if v, ok := j.claims[k]; ok {
					t.Errorf("claim %s = %v, want none (Dex sets azp only for several audiences)", k, v)
				}
			}
			exp, _ := j.claims["exp"].(float64)
			if time.Unix(int64(exp), 0).Before(time.Now()) {
				t.Errorf("exp = %v, want in the future", j.claims["exp"])
			}
			if sub, _ := j.claims["sub"].(string); sub == "" {
				t.Errorf("sub is empty")
			}
		})
	}
}

// dexCrossClientScope asks Dex for a token whose audience is also the MCP server's client:
// Dex then lists both in aud and names the requesting client in azp.
const dexCrossClientScope = "audience:server:client_id:" + dexResourceID

// TestDexCrossClientToken checks the token shape that names the client in azp.
func TestDexCrossClientToken(t *testing.T) {
	issuer := startDex(t)
	tok := dexTokens(t, issuer, dexClientID, dexClientSecret, dexCrossClientScope)
	j := parseDexJWT(t, tok.AccessToken)
	j.verifyRS256(t, issuer)
	if got, want := fmt.Sprint(j.claims["aud"]), fmt.Sprint([]any{dexResourceID, dexClientID}); got != want {
		t.Errorf("aud = %s, want %s", got, want)
	}
	if got := j.claims["azp"]; got != dexClientID {
		t.Errorf("azp = %v, want %s", got, dexClientID)
	}
}

// dexTamper flips one bit of a JWT's signature, leaving it well-formed.
func dexTamper(t testing.TB, token string) string {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || len(sig) == 0 {
		t.Fatalf("token signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestDexJWT runs a token from the real Dex through the real nginx (deploy/nginx) to
// mcpguard configured with JWT_ISSUERS, and checks what the client and the MCP server see.
func TestDexJWT(t *testing.T) {
	issuer := startDex(t)
	up := startUpstream(t)
	guard := startGuard(t, map[string]string{
		"JWT_ISSUERS":  issuer + "=" + dexClientID,
		"RESOURCE_URL": "http://" + mcpHost + "/mcp",
		"ISSUER_URL":   "http://" + authHost,
		"DEV_MODE":     "true",
		"LOG_LEVEL":    "debug",
	})
	// /readyz is 200 once every JWT issuer's discovery and keys are loaded.
	if err := waitHTTP(guard, "127.0.0.1", "/readyz", nil); err != nil {
		t.Fatalf("mcpguard never became ready with Dex as a JWT issuer: %v", err)
	}
	p := startNginx(t, guard, up)

	token := dexToken(t, issuer)
	metadata := `resource_metadata="http://` + mcpHost + `/.well-known/oauth-protected-resource/mcp"`
	withAZP := dexTokens(t, issuer, dexClientID, dexClientSecret, dexCrossClientScope).AccessToken
	identity := map[string]string{
		"X-Forwarded-User":   dexEmail,
		"X-Forwarded-Email":  dexEmail,
		"X-Forwarded-Groups": strings.Join(dexGroups, ","),
		"X-Auth-Source":      "jwt",
		"X-Auth-Client-Id":   dexClientID,
		// X-Forwarded-Scopes: Dex puts no scope claim in its tokens.
		// Authorization: the Dex token never reaches the MCP server.
	}
	// Dex's default token names its client only in aud (no azp, no client_id), and
	// mcpguard takes X-Auth-Client-Id from azp or client_id, so it is empty.
	plainIdentity := maps.Clone(identity)
	plainIdentity["X-Auth-Client-Id"] = ""

	tests := []contractCase{
		{
			name: "valid Dex token", method: "GET", target: "/mcp",
			fields: [][2]string{field("Authorization", "Bearer "+token)},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) {
				checkIdentity(t, seen, plainIdentity)
			},
		},
		{
			// The second presentation takes the verified-token cache's path.
			name: "valid Dex token again", method: "GET", target: "/mcp/tools",
			fields: [][2]string{field("Authorization", "Bearer "+token)},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) {
				checkIdentity(t, seen, plainIdentity)
			},
		},
		{
			name: "valid Dex token with azp", method: "POST", target: "/mcp",
			fields: [][2]string{field("Authorization", "Bearer "+withAZP)},
			status: 200, reach: true,
			check: func(t *testing.T, _ rawResponse, seen seenRequest) {
				checkIdentity(t, seen, identity)
				if seen.Method != "POST" {
					t.Errorf("upstream method = %q, want POST", seen.Method)
				}
			},
		},
		{
			name: "tampered signature", method: "GET", target: "/mcp",
			fields: [][2]string{field("Authorization", "Bearer "+dexTamper(t, token))},
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, "Bearer ", metadata, `error="invalid_token"`)
			},
		},
		{
			// Signed by the same Dex for another client: the audience is mandatory.
			name: "Dex token for another audience", method: "GET", target: "/mcp",
			fields: [][2]string{field("Authorization", "Bearer "+dexTokens(t, issuer, dexOtherID, dexOtherSecret).AccessToken)},
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, "Bearer ", metadata, `error="invalid_token"`)
			},
		},
		{
			name: "no token", method: "GET", target: "/mcp",
			status: 401,
			check: func(t *testing.T, r rawResponse, _ seenRequest) {
				checkChallenge(t, r, "Bearer ", metadata)
				if got := r.header.Get("Www-Authenticate"); strings.Contains(got, "error=") {
					t.Errorf("WWW-Authenticate = %q, want no error without a credential", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			r := p.do(t, tc.method, tc.target, tc.fields...)
			if r.status != tc.status {
				t.Errorf("%s %s = %d, want %d (body %q)", tc.method, tc.target, r.status, tc.status, r.body)
			}
			seen, reached := p.reached(n, tc.target)
			if reached != tc.reach {
				t.Errorf("%s %s reached the MCP server = %v, want %v", tc.method, tc.target, reached, tc.reach)
			}
			if tc.check != nil {
				tc.check(t, r, seen)
			}
		})
	}
}

// mcpguard's own client at Dex when Dex is the upstream identity provider.
const (
	dexBrokerClientID     = "mcpguard-broker"
	dexBrokerClientSecret = "mcpguard-broker-secret-0123456789"
)

// TestDexBrokeredLogin is the MCP flow with a brokered login: mcpguard (PROVIDER=oidc)
// sends the person to Dex, a real OIDC provider, for the login (authorization code with
// PKCE, state and nonce; ID token verified with go-oidc), and the MCP server sees the
// identity of Dex's ID token. ALLOWED_GROUPS makes mcpguard ask Dex for groups and
// require one. The resource comes from the environment, not a policy file, so there is
// no pre-registered client: DCR and CIMD only.
func TestDexBrokeredLogin(t *testing.T) {
	issuer := startDexBroker(t)
	env := map[string]string{
		"PROVIDER":        "oidc",
		"OIDC_ISSUER":     issuer,
		"CLIENT_ID":       dexBrokerClientID,
		"CLIENT_SECRET":   dexBrokerClientSecret,
		"ALLOWED_GROUPS":  dexGroups[0],
		"RESOURCE_URL":    mcpURL,
		"REQUIRED_SCOPES": "mcp:read",
		"ALLOWED_SCOPES":  "mcp:read,mcp:write",
		"STORE":           "memory://",
		"SESSION_SECRET":  sessionSecret,
		"ISSUER_URL":      authIssuer,
		"LOG_LEVEL":       "debug",
	}
	person := loginUser{email: dexEmail, password: dexPassword, groups: dexGroups}
	var regs []clientRegistration
	for _, r := range clientRegistrations() {
		if r.name != "preregistered" {
			regs = append(regs, r)
		}
	}
	runMCP(t, startNginx, env, person, regs)
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
			"email":         dexEmail,
			"hash":          dexHash,
			"username":      "dex-user",
			"userID":        "5f1c7a0e-3b8d-4c1e-9a57-2d6e0b9f4c31",
			"emailVerified": true,
			"groups":        dexGroups,
		}},
		"staticClients": []map[string]any{{
			"id":           dexBrokerClientID,
			"secret":       dexBrokerClientSecret,
			"name":         "mcpguard",
			"redirectURIs": []string{authIssuer + "/callback"},
		}},
	}, "", "  ")
}

// startDexBroker runs Dex with dexBrokerConfig on a free loopback port until the test
// ends and returns its issuer URL once the discovery document is served.
func startDexBroker(t *testing.T) (issuer string) {
	t.Helper()
	return startDexWith(t, dexBrokerConfig)
}
