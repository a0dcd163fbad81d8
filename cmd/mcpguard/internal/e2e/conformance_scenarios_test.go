package e2e

// What the MCP conformance suite's client scenarios expect of the server side, asked of
// mcpguard through the real nginx recipe. The suite plays those servers itself (mock MCP
// servers and authorization servers in src/scenarios/client/auth/ of its repository) to
// see whether a client copes; each row here takes the server half of one scenario and
// asks mcpguard to behave like the well-behaved mock. Where another test already does,
// the row's comment says which instead of repeating it:
//
//   - src/scenarios/client/auth/march-spec-backcompat.ts (auth/2025-03-26-oauth-metadata-
//     backcompat, auth/2025-03-26-oauth-endpoint-fallback): TestLegacyEndpoints, the
//     metadata, /register, /authorize and /token at the MCP server's origin.
//   - src/scenarios/client/auth/offline-access.ts, the refresh token an offline_access
//     request earns and its rotation: TestMCP (runMCPFlow step 3).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The two machine clients of the scenario policy: one holding only the first step's
// scope, one both.
const (
	stepReader       = "conformance-reader"
	stepReaderSecret = "conformance-reader-secret-0123456789abcdef"
	stepWriter       = "conformance-writer"
	stepWriterSecret = "conformance-writer-secret-0123456789abcdef"
)

// scenarioPolicy is the resource of the scenarios: every request needs mcp:read, a
// tools/call of deploy also mcp:write (the step-up); plus the pre-registered client of
// oauthBaseEnv and the two machine clients.
func scenarioPolicy(t *testing.T) string {
	t.Helper()
	return writeFile(t, "policy.yaml", fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
    rules:
      - name: deploy needs write
        methods: [tools/call]
        tools: [deploy]
        required_scopes: [mcp:write]
clients:
  - client_id: %s
    client_secret: %s
    client_name: %s
    redirect_uris: [%q]
  - client_id: %s
    client_secret_hash: %s
    token_endpoint_auth_method: client_secret_post
    grant_types: [client_credentials]
    scope: mcp:read
  - client_id: %s
    client_secret_hash: %s
    token_endpoint_auth_method: client_secret_post
    grant_types: [client_credentials]
    scope: mcp:read mcp:write
`, mcpURL, staticClientID, staticSecret, staticClientName, staticRedirect,
		stepReader, sha256Hex(stepReaderSecret), stepWriter, sha256Hex(stepWriterSecret)))
}

// scenarioExchange is one answer a row looks at.
type scenarioExchange struct {
	status int
	header http.Header
	body   map[string]any
}

func (x scenarioExchange) strings(key string) []string {
	var out []string
	list, _ := x.body[key].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// TestConformanceScenarios runs the rows against one mcpguard behind nginx.
func TestConformanceScenarios(t *testing.T) {
	env := oauthEnv(t, "memory://")
	env["POLICY_FILE"] = scenarioPolicy(t)
	env["DYNAMIC_REGISTRATION"] = "false" // the pre-registration row's server: no DCR
	s := startMCPStack(t, startNginx, env)
	client := &http.Client{Transport: s.edge, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(t *testing.T, method, target string, header http.Header, body string) scenarioExchange {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		x := scenarioExchange{status: resp.StatusCode, header: resp.Header}
		json.Unmarshal(data, &x.body)
		return x
	}
	token := func(t *testing.T, id, secret, scope string) string {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}, "resource": {mcpURL}}
		x := send(t, http.MethodPost, s.asm.TokenEndpoint, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
		tok, _ := x.body["access_token"].(string)
		if x.status != http.StatusOK || tok == "" {
			t.Fatalf("client_credentials for %s (scope %q) = %d %v", id, scope, x.status, x.body["error"])
		}
		return tok
	}
	// call sends method (a tools/call of tool when tool is set) at 2026-07-28, whose
	// Mcp-Method and Mcp-Name headers mcpguard trusts.
	call := func(t *testing.T, bearer, method, tool string) scenarioExchange {
		t.Helper()
		h := http.Header{
			"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"},
			"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {method},
		}
		params := `{}`
		if tool != "" {
			h.Set("Mcp-Name", tool)
			params = `{"name":"` + tool + `","arguments":{}}`
		}
		if bearer != "" {
			h.Set("Authorization", "Bearer "+bearer)
		}
		return send(t, http.MethodPost, mcpURL, h, `{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":`+params+`}`)
	}
	prmURL := "https://" + mcpHost + "/.well-known/oauth-protected-resource/mcp"
	wantMetadata := `resource_metadata="` + prmURL + `"`

	tests := []struct {
		name, scenario string
		run            func(t *testing.T)
	}{
		{
			name: "401 for tools/list names the first step's scope", scenario: "src/scenarios/client/auth/scope-handling.ts (auth/scope-step-up)",
			run: func(t *testing.T) {
				x := call(t, "", "tools/list", "")
				checkChallengeHeader(t, x, http.StatusUnauthorized, `scope="mcp:read"`, wantMetadata)
			},
		},
		{
			// The suite's mock challenges with only the missing scope to see whether a
			// client accumulates (SEP-2350); mcpguard names every scope the operation
			// needs, so even a client that echoes the challenge gets a token that works.
			name: "403 insufficient_scope names the whole cumulative set", scenario: "src/scenarios/client/auth/scope-handling.ts (auth/scope-step-up)",
			run: func(t *testing.T) {
				x := call(t, token(t, stepReader, stepReaderSecret, "mcp:read"), "tools/call", "deploy")
				checkChallengeHeader(t, x, http.StatusForbidden, `error="insufficient_scope"`, `scope="mcp:read mcp:write"`, wantMetadata)
			},
		},
		{
			name: "the stepped-up token passes", scenario: "src/scenarios/client/auth/scope-handling.ts (auth/scope-step-up)",
			run: func(t *testing.T) {
				seen := len(s.up.requests())
				x := call(t, token(t, stepWriter, stepWriterSecret, "mcp:read mcp:write"), "tools/call", "deploy")
				if x.status == http.StatusUnauthorized || x.status == http.StatusForbidden || len(s.up.requests()) == seen {
					t.Errorf("tools/call deploy with mcp:read mcp:write = %d, want it to reach the MCP server", x.status)
				}
			},
		},
		{
			name: "PRM scopes_supported without offline_access", scenario: "src/scenarios/client/auth/offline-access.ts (auth/offline-access-scope)",
			run: func(t *testing.T) {
				x := send(t, http.MethodGet, prmURL, nil, "")
				if got := x.strings("scopes_supported"); x.status != http.StatusOK || slices.Contains(got, "offline_access") || !slices.Contains(got, "mcp:read") {
					t.Errorf("GET %s = %d, scopes_supported %q; want mcp:read and no offline_access", prmURL, x.status, got)
				}
			},
		},
		{
			name: "AS metadata lists offline_access and refresh_token", scenario: "src/scenarios/client/auth/offline-access.ts (auth/offline-access-scope)",
			run: func(t *testing.T) {
				x := send(t, http.MethodGet, authIssuer+"/.well-known/oauth-authorization-server", nil, "")
				if !slices.Contains(x.strings("scopes_supported"), "offline_access") || !slices.Contains(x.strings("grant_types_supported"), "refresh_token") {
					t.Errorf("AS metadata scopes_supported %q, grant_types_supported %q; want offline_access and refresh_token", x.strings("scopes_supported"), x.strings("grant_types_supported"))
				}
			},
		},
		{
			// The client aborts when the PRM's resource is not the URL it connected to.
			name: "PRM resource is exactly the MCP server's URL", scenario: "src/scenarios/client/auth/resource-mismatch.ts (auth/resource-mismatch)",
			run: func(t *testing.T) {
				for _, u := range []string{prmURL, "https://" + mcpHost + "/.well-known/oauth-protected-resource"} {
					x := send(t, http.MethodGet, u, http.Header{"X-Forwarded-Host": {"evil.example.com"}}, "")
					if got, _ := x.body["resource"].(string); x.status != http.StatusOK || got != mcpURL {
						t.Errorf("GET %s = %d, resource %q; want %s byte for byte", u, x.status, got, mcpURL)
					}
					if got := x.strings("authorization_servers"); !slices.Equal(got, []string{authIssuer}) {
						t.Errorf("GET %s: authorization_servers %q, want [%s]", u, got, authIssuer)
					}
				}
			},
		},
		{
			// The suite's mock lists no registration_endpoint and client_secret_basic; the
			// client must authenticate with its pre-registered secret in the Authorization
			// header. DYNAMIC_REGISTRATION=false is that server.
			name: "pre-registered client, client_secret_basic, no registration_endpoint", scenario: "src/scenarios/client/auth/pre-registration.ts (auth/pre-registration)",
			run: func(t *testing.T) {
				if !slices.Contains(s.asm.TokenEndpointAuthMethodsSupported, "client_secret_basic") || s.asm.RegistrationEndpoint != "" {
					t.Errorf("token_endpoint_auth_methods_supported %q, registration_endpoint %q; want client_secret_basic and none", s.asm.TokenEndpointAuthMethodsSupported, s.asm.RegistrationEndpoint)
				}
				hops := s.edge.mark()
				x := preregisteredCode(t, s, send)
				if tok, _ := x.body["access_token"].(string); x.status != http.StatusOK || tok == "" || x.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("code grant with client_secret_basic = %d %v, Cache-Control %q; want 200, a token, no-store", x.status, x.body["error"], x.header.Get("Cache-Control"))
				}
				if n := s.edge.count(hops, http.MethodPost, authHost, "/register"); n != 0 {
					t.Errorf("%d registrations during the pre-registered flow, want none", n)
				}
				reg := send(t, http.MethodPost, authIssuer+"/register", http.Header{"Content-Type": {"application/json"}}, `{"redirect_uris":["`+staticRedirect+`"]}`)
				if reg.status != http.StatusNotFound {
					t.Errorf("POST %s/register with DYNAMIC_REGISTRATION=false = %d, want 404", authIssuer, reg.status)
				}
				seen := len(s.up.requests())
				if r := call(t, x.body["access_token"].(string), "tools/list", ""); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || len(s.up.requests()) == seen {
					t.Errorf("tools/list with the pre-registered client's token = %d, want it to reach the MCP server", r.status)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t)
			if t.Failed() {
				t.Logf("server half of %s", tc.scenario)
			}
		})
	}
}

// checkChallengeHeader checks the status and that WWW-Authenticate holds each part.
func checkChallengeHeader(t *testing.T, x scenarioExchange, status int, parts ...string) {
	t.Helper()
	got := x.header.Get("WWW-Authenticate")
	if x.status != status {
		t.Errorf("status %d, want %d (WWW-Authenticate %q)", x.status, status, got)
	}
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("WWW-Authenticate %q lacks %s", got, p)
		}
	}
}

// preregisteredCode runs the authorization code flow of the pre-registered client, the
// person logging in and consenting, and redeems the code at the token endpoint with
// client_secret_basic (RFC 6749 §2.3.1).
func preregisteredCode(t *testing.T, s *mcpStack, send func(*testing.T, string, string, http.Header, string) scenarioExchange) scenarioExchange {
	t.Helper()
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	q := url.Values{
		"response_type": {"code"}, "client_id": {staticClientID}, "redirect_uri": {staticRedirect},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"state": {"prereg-state"}, "scope": {"mcp:read"}, "resource": {mcpURL},
	}
	browser, err := newFormBrowser(s.edge, authIssuer, localUser.email, localUser.password)
	if err != nil {
		t.Fatal(err)
	}
	res, err := browser.authorize(t.Context(), s.asm.AuthorizationEndpoint+"?"+q.Encode(), staticRedirect)
	if err != nil {
		t.Fatalf("the browser: %v (pages %s)", err, browser.summary())
	}
	if res.State != "prereg-state" || res.Iss != authIssuer {
		t.Fatalf("authorization response state %q, iss %q; want prereg-state and %s", res.State, res.Iss, authIssuer)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {res.Code}, "redirect_uri": {staticRedirect}, "code_verifier": {verifier}}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	h.Set("Authorization", "Basic "+basicCredentials(staticClientID, staticSecret))
	return send(t, http.MethodPost, s.asm.TokenEndpoint, h, form.Encode())
}

// basicCredentials is the client_secret_basic credential: each part form-urlencoded,
// then base64 (RFC 6749 §2.3.1).
func basicCredentials(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
