package e2e

// External JWTs from a real OIDC provider: Dex (built by scripts/build-dex.sh) issues a
// token with the OAuth2 password grant, mcpguard verifies it as a JWT_ISSUERS token, and
// the deploy/nginx recipe runs between the client and the MCP server.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Dex user and clients of the end-to-end tests. dexHash is bcrypt (cost 10, the
// minimum Dex accepts) of dexPassword, computed once with golang.org/x/crypto/bcrypt:
// x/crypto is not in mcpguard's module graph, and Dex only needs the hash.
const (
	dexClientID     = "mcpguard-e2e"
	dexClientSecret = "mcpguard-e2e-secret-0123456789"
	dexOtherID      = "other-app"
	dexOtherSecret  = "other-app-secret-0123456789"
	dexResourceID   = "http://" + mcpHost + "/mcp" // the MCP server, as a Dex client
	dexEmail        = "dex-user@example.com"
	dexPassword     = "e2e-dex-password"
	dexHash         = "$2a$10$k23UQQcNL0Mv1kjcbB5ohekEyQb3k9J9QmETaLfCZ6vsHIoYPte3."
	dexRelease      = "v2.45.1"
)

// dexGroups are the user's groups, in the order Dex puts them in the groups claim.
var dexGroups = []string{"e2e-eng", "e2e-ops"}

// dexBinary returns the path of the Dex binary scripts/build-dex.sh builds, or fails with
// the command that builds it.
func dexBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("DEX_BIN")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("no DEX_BIN, XDG_CACHE_HOME or home directory to find Dex in: %v", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "mcpguard", "dex-"+dexRelease, "dex")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("Dex %s is not built at %s; the JWT end-to-end tests run the real OIDC provider (build it, about 2 minutes the first time: scripts/build-dex.sh)", dexRelease, bin)
	}
	return bin
}

// dexConfig is the Dex configuration of the tests: memory storage, the local password
// database as the password-grant connector, one user, two confidential clients, and the
// MCP server as a third client that lets mcpguard-e2e ask for tokens with it as audience
// (Dex's cross-client trust). JSON is YAML, so it is written with encoding/json.
func dexConfig(issuer, listen string) ([]byte, error) {
	client := func(id, secret string) map[string]any {
		return map[string]any{
			"id": id, "secret": secret, "name": id,
			"redirectURIs": []string{"http://127.0.0.1/callback"},
		}
	}
	return json.MarshalIndent(map[string]any{
		"issuer":  issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"http": listen},
		"logger":  map[string]any{"level": "info", "format": "text"},
		"oauth2": map[string]any{
			"passwordConnector":  "local",
			"skipApprovalScreen": true,
			// Dex v2.45 has no per-client grant types: the server-wide list is the switch.
			"grantTypes": []string{"authorization_code", "refresh_token", "password"},
		},
		"enablePasswordDB": true,
		"staticPasswords": []map[string]any{{
			"email":         dexEmail,
			"hash":          dexHash,
			"username":      "dex-user",
			"userID":        "5f1c7a0e-3b8d-4c1e-9a57-2d6e0b9f4c31",
			"emailVerified": true,
			"groups":        dexGroups,
		}},
		"staticClients": []map[string]any{
			client(dexClientID, dexClientSecret),
			client(dexOtherID, dexOtherSecret),
			{
				"id": dexResourceID, "secret": "mcp-resource-secret-0123456789", "name": "MCP server",
				"trustedPeers": []string{dexClientID},
			},
		},
	}, "", "  ")
}

// startDex runs Dex with dexConfig on a free loopback port until the test ends and
// returns its issuer URL once the discovery document is served.
func startDex(t *testing.T) (issuer string) {
	t.Helper()
	return startDexWith(t, dexConfig)
}

// startDexWith runs Dex with the configuration config renders for an issuer URL and
// listen address, retrying when the port was taken in the meantime.
func startDexWith(t *testing.T, config func(issuer, addr string) ([]byte, error)) (issuer string) {
	t.Helper()
	bin := dexBinary(t)
	for attempt := 1; ; attempt++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		issuer = "http://" + addr + "/dex"
		data, err := config(issuer, addr)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "dex.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), bin, "serve", file)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		exited := startProcess(t, "dex", cmd, syscall.SIGTERM)
		err = waitHTTP(addr, addr, "/dex/.well-known/openid-configuration", exited)
		if err == nil {
			return issuer
		}
		// A port taken by someone else in the meantime means another try.
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatalf("dex: %v", err)
		}
	}
}

// dexToken returns a JWT that Dex issues to the mcpguard-e2e client for the test user: its
// access token, an RS256 JWT with aud = mcpguard-e2e (and no azp).
func dexToken(t testing.TB, issuer string) string {
	t.Helper()
	return dexTokens(t, issuer, dexClientID, dexClientSecret).AccessToken
}

// dexTokenResponse is the part of Dex's token response the tests read (RFC 6749 §5.1,
// OIDC Core §3.1.3.3).
type dexTokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// dexTokens runs the resource owner password grant (RFC 6749 §4.3) for the test user as
// the given client, authenticating it with client_secret_basic (§2.3.1), asking for
// "openid email profile groups" and extraScopes.
func dexTokens(t testing.TB, issuer, clientID, secret string, extraScopes ...string) dexTokenResponse {
	t.Helper()
	var discovery struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	dexGetJSON(t, issuer+"/.well-known/openid-configuration", &discovery)
	form := url.Values{
		"grant_type": {"password"},
		"username":   {dexEmail},
		"password":   {dexPassword},
		"scope":      {strings.Join(append([]string{"openid", "email", "profile", "groups"}, extraScopes...), " ")},
	}
	req, err := http.NewRequestWithContext(context.Background(), "POST", discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := dexHTTP.Do(req)
	if err != nil {
		t.Fatalf("dex token request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dex token endpoint answered %s: %s", resp.Status, body)
	}
	var tok dexTokenResponse
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("dex token response %s: %v", body, err)
	}
	return tok
}

var dexHTTP = &http.Client{Timeout: 10 * time.Second}

func dexGetJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := dexHTTP.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, body)
	}
}

// dexJWT is a compact JWS split into its parts, header and claims decoded.
type dexJWT struct {
	header map[string]any
	claims map[string]any
	signed string // header.payload
	sig    []byte
}

func parseDexJWT(t testing.TB, token string) dexJWT {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want a compact JWS (3): %.40q", len(parts), token)
	}
	var j dexJWT
	for i, dst := range []*map[string]any{&j.header, &j.claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("token part %d: %v: %s", i, err, raw)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("token signature: %v", err)
	}
	j.signed, j.sig = parts[0]+"."+parts[1], sig
	return j
}

// verifyRS256 checks j's signature against the key of Dex's JWKS that its kid names.
func (j dexJWT) verifyRS256(t testing.TB, issuer string) {
	t.Helper()
	var discovery struct {
		JWKSURI string `json:"jwks_uri"`
	}
	dexGetJSON(t, issuer+"/.well-known/openid-configuration", &discovery)
	var set struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	dexGetJSON(t, discovery.JWKSURI, &set)
	for _, k := range set.Keys {
		if k.Kid != j.header["kid"] || k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("JWKS key %q: n: %v, e: %v", k.Kid, err1, err2)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		sum := sha256.Sum256([]byte(j.signed))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], j.sig); err != nil {
			t.Fatalf("token signature does not verify with JWKS key %q: %v", k.Kid, err)
		}
		return
	}
	t.Fatalf("no RSA key with kid %v in %s (%d keys)", j.header["kid"], discovery.JWKSURI, len(set.Keys))
}
