package e2e

// The MCP 2025-03-26 fallback through nginx, Caddy and Traefik: a client that predates protected-resource
// metadata takes the MCP server's origin for the authorization server. The recipe routes
// its metadata, /register, /authorize and /token there to mcpguard, and the flow ends in
// a token for the MCP server with the one issuer. An issuer with a path
// (ISSUER_URL=https://auth.example.com/idp) works the same through the nginx recipe: the
// four paths at the root of the MCP origin are mcpguard's there, and only there.
//
// This is the server half of the MCP
// conformance suite's auth/2025-03-26-oauth-metadata-backcompat and
// auth/2025-03-26-oauth-endpoint-fallback scenarios
// (src/scenarios/client/auth/march-spec-backcompat.ts in its repository): metadata at the
// MCP origin's root well-known path, and /register, /authorize and /token at that origin
// for a client that finds no metadata at all.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLegacyEndpoints(t *testing.T) {
	for name, start := range map[string]func(*testing.T, string, *mcpUpstream) edgeProxy{"nginx": startNginx, "caddy": startCaddy, "traefik": startTraefik} {
		t.Run(name, func(t *testing.T) { runLegacy(t, start, authIssuer) })
	}
	t.Run("nginx, issuer with a path", func(t *testing.T) { runLegacy(t, startNginx, authIssuer+"/idp") })
}

// runLegacy plays the 2025-03-26 client through the proxy start runs, with mcpguard's
// issuer at issuer.
func runLegacy(t *testing.T, start func(*testing.T, string, *mcpUpstream) edgeProxy, issuer string) {
	env := oauthEnv(t, "memory://")
	env["ISSUER_URL"] = issuer
	s := startMCPStack(t, start, env)
	client := &http.Client{Transport: s.edge, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	origin := "https://" + mcpHost
	do := func(method, target, contentType, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	// 1. The metadata at the MCP origin names the one issuer and its endpoints.
	resp, body := do(http.MethodGet, origin+"/.well-known/oauth-authorization-server", "", "")
	var meta struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &meta) != nil || meta.Issuer != issuer {
		t.Fatalf("GET %s/.well-known/oauth-authorization-server = %d %s, want the metadata of %s", origin, resp.StatusCode, body, issuer)
	}

	// 2. Registration at the MCP origin's /register.
	resp, body = do(http.MethodPost, origin+"/register", "application/json",
		`{"client_name":"2025-03-26 client","redirect_uris":["`+staticRedirect+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}`)
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &reg) != nil || reg.ClientID == "" {
		t.Fatalf("POST %s/register = %d %s, want 201", origin, resp.StatusCode, body)
	}

	// 3. /authorize at the MCP origin goes on to the issuer's, the query unchanged.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	q := url.Values{
		"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {staticRedirect},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"state": {"legacy-state"}, "scope": {"mcp:read"},
	}
	resp, _ = do(http.MethodGet, origin+"/authorize?"+q.Encode(), "", "")
	if want := issuer + "/authorize?" + q.Encode(); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("GET %s/authorize = %d Location %q, want 302 to %s", origin, resp.StatusCode, resp.Header.Get("Location"), want)
	}
	browser, err := newFormBrowser(s.edge, issuer, localUser.email, localUser.password)
	if err != nil {
		t.Fatal(err)
	}
	res, err := browser.authorize(t.Context(), resp.Header.Get("Location"), staticRedirect)
	if err != nil {
		t.Fatalf("the browser at %s: %v\npages: %s", resp.Header.Get("Location"), err, browser.summary())
	}
	if res.State != "legacy-state" || res.Iss != issuer {
		t.Fatalf("authorization response state = %q, iss = %q; want legacy-state and the one issuer %s", res.State, res.Iss, issuer)
	}

	// 4. The code redeemed at the MCP origin's /token; the token opens the MCP server.
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {res.Code}, "client_id": {reg.ClientID},
		"redirect_uri": {staticRedirect}, "code_verifier": {verifier},
	}
	resp, body = do(http.MethodPost, origin+"/token", "application/x-www-form-urlencoded", form.Encode())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("POST %s/token = %d %s, want 200 with a token", origin, resp.StatusCode, body)
	}
	if r := bearerInitialize(t, s.edge, tok.AccessToken); r.StatusCode != http.StatusOK {
		t.Fatalf("initialize with the token = %d, want 200", r.StatusCode)
	}
}
