package e2e

// The MCP authorization flow end to end: the official MCP Go SDK client, knowing only the
// MCP server's URL, goes through the real nginx or Caddy (the deploy/ recipes) to the
// example MCP server (examples/mcp-server), with mcpguard as the auth service and as the
// authorization server with local users: 401 → protected resource metadata →
// authorization server metadata → registration (DCR, a Client ID Metadata Document, or
// pre-registered) → login → consent → code → token → tools/call, then a refresh, a
// revocation and a 401.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// The local user, the pre-registered client, and the URLs MCP clients use. The names
// resolve to the proxy only inside e2eEdge.
const (
	e2eOAuthEmail        = "alice@example.com"
	e2eOAuthPassword     = "e2e correct horse battery staple"
	e2eStaticClientID    = "e2e-static-client"
	e2eStaticSecret      = "e2e-static-client-secret-0123456789abcdef"
	e2eMCPURL            = "https://" + e2eMCPHost + "/mcp"
	e2eIssuer            = "https://" + e2eAuthHost
	e2eSessionSecret     = "e2e-session-secret-0123456789abcdef0123456789"
	e2eStaticClientName  = "E2E pre-registered client"
	e2eDynamicClientName = "E2E dynamically registered client"
	e2eCIMDClientName    = "E2E metadata document client"
)

// e2eStaticRedirect is the pre-registered client's redirect URI.
const e2eStaticRedirect = "http://127.0.0.1:8976/callback"

// e2ePerson is who logs in at the browser step, and the groups mcpguard must report.
type e2ePerson struct {
	email, password string
	groups          []string
}

// e2eLocalUser is the one user of LOCAL_USERS_FILE.
var e2eLocalUser = e2ePerson{email: e2eOAuthEmail, password: e2eOAuthPassword, groups: []string{"eng", "ops"}}

func TestE2EMCPNginx(t *testing.T) {
	runE2EMCP(t, startNginx, e2eOAuthEnv(t, "bolt://"+filepath.Join(t.TempDir(), "mcpguard.db")), e2eLocalUser, e2eRegistrations())
}

func TestE2EMCPCaddy(t *testing.T) {
	runE2EMCP(t, startCaddy, e2eOAuthEnv(t, "memory://"), e2eLocalUser, e2eRegistrations())
}

// e2eMCPStack is everything between the SDK client and the MCP server.
type e2eMCPStack struct {
	edge *e2eEdge
	up   *e2eWhoami
	cimd *e2eCIMD
	asm  *oauthex.AuthServerMeta
	// emptyAuthorization: the proxy passes mcpguard's empty "Authorization:" on as an
	// empty header instead of dropping it. Caddy's copy_headers does (2.6.2 at least);
	// nginx passes no header whose value is empty. The token never arrives either way.
	emptyAuthorization bool
}

// runE2EMCP starts the stack with env and has the SDK client connect as person once per
// registration.
func runE2EMCP(t *testing.T, start func(*testing.T, string, *e2eUpstream) e2eProxy, env map[string]string, person e2ePerson, regs []e2eRegistration) {
	t.Helper()
	s := startE2EMCPStack(t, start, env)
	for _, reg := range regs {
		t.Run(reg.name, func(t *testing.T) { runE2EMCPFlow(t, s, person, reg) })
	}
}

// startE2EMCPStack starts the example MCP server, a server for Client ID Metadata
// Documents, mcpguard with env (and CIMD fetches from loopback allowed), and the proxy
// start runs, and reads the authorization server metadata through the proxy.
func startE2EMCPStack(t *testing.T, start func(*testing.T, string, *e2eUpstream) e2eProxy, env map[string]string) *e2eMCPStack {
	t.Helper()
	s := &e2eMCPStack{up: startE2EWhoami(t), cimd: startE2ECIMD(t)}
	s.cimd.trust(t)
	env = maps.Clone(env)
	env["INSECURE_CIMD_ALLOW_PRIVATE"] = "true"
	guard := startE2EGuard(t, env)
	// Ready: signing keys loaded, store reachable, the upstream IdP discovered.
	if err := e2eWaitHTTP(guard, "127.0.0.1", "/readyz", nil); err != nil {
		t.Fatalf("mcpguard: %v", err)
	}
	proxy := start(t, guard, &e2eUpstream{addr: s.up.addr})
	s.edge = &e2eEdge{proxy: proxy.addr, direct: map[string]bool{}}
	s.emptyAuthorization = proxy.name == "caddy" || proxy.name == "traefik"
	if u, err := url.Parse(env["OIDC_ISSUER"]); err == nil && u.Host != "" {
		s.edge.direct[u.Host] = true // the upstream identity provider, for the browser
	}
	var err error
	s.asm, err = auth.GetAuthServerMetadata(t.Context(), e2eIssuer, &http.Client{Transport: s.edge})
	if err != nil || s.asm == nil {
		t.Fatalf("authorization server metadata of %s through %s: %v, %v", e2eIssuer, proxy.name, s.asm, err)
	}
	return s
}

// e2eRegistrations are the three ways an MCP client gets a client_id.
func e2eRegistrations() []e2eRegistration {
	return []e2eRegistration{
		{
			name:       "DCR",
			clientName: e2eDynamicClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *e2eMCPStack) {
				c.RedirectURL = "http://127.0.0.1:8975/callback"
				c.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{
					Metadata: &oauthex.ClientRegistrationMetadata{
						ClientName:              e2eDynamicClientName,
						RedirectURIs:            []string{c.RedirectURL},
						GrantTypes:              []string{"authorization_code", "refresh_token"},
						ResponseTypes:           []string{"code"},
						TokenEndpointAuthMethod: "none",
					},
				}
			},
		},
		{
			name:       "CIMD",
			clientName: e2eCIMDClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *e2eMCPStack) {
				c.RedirectURL = s.cimd.redirect // the one the document lists
				c.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: s.cimd.url}
			},
		},
		{
			name:       "preregistered",
			clientName: e2eStaticClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *e2eMCPStack) {
				c.RedirectURL = e2eStaticRedirect
				c.PreregisteredClient = &oauthex.ClientCredentials{
					ClientID:         e2eStaticClientID,
					ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: e2eStaticSecret},
				}
			},
		},
	}
}

// e2eRegistration is one way the SDK client gets a client_id.
type e2eRegistration struct {
	name       string
	clientName string // what the consent page must show
	// configure sets the handler's RedirectURL and its one registration method.
	configure func(c *auth.AuthorizationCodeHandlerConfig, s *e2eMCPStack)
}

// runE2EMCPFlow is one client's life: connect (the whole authorization flow), call
// whoami, refresh, call again, revoke, see the 401, and re-authorize without a new
// login or consent.
func runE2EMCPFlow(t *testing.T, s *e2eMCPStack, person e2ePerson, reg e2eRegistration) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	edge, up, asm := s.edge, s.up, s.asm
	browser, err := newE2EBrowser(edge, e2eIssuer, person.email, person.password)
	if err != nil {
		t.Fatal(err)
	}
	for host := range edge.direct {
		browser.allow("http://" + host)
	}
	var fetches atomic.Int32
	tokens := &e2eTokens{}
	cfg := &auth.AuthorizationCodeHandlerConfig{
		RequestRefreshToken: true,
		Client:              &http.Client{Transport: edge, Timeout: 10 * time.Second},
		NewTokenSource:      tokens.newTokenSource,
	}
	reg.configure(cfg, s)
	cfg.AuthorizationCodeFetcher = func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		fetches.Add(1)
		return browser.authorize(ctx, args.URL, cfg.RedirectURL)
	}
	registers := cfg.DynamicClientRegistrationConfig != nil
	wantClientID := ""
	switch {
	case cfg.ClientIDMetadataDocumentConfig != nil:
		wantClientID = cfg.ClientIDMetadataDocumentConfig.URL
	case cfg.PreregisteredClient != nil:
		wantClientID = cfg.PreregisteredClient.ClientID
	}
	handler, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatalf("NewAuthorizationCodeHandler: %v", err)
	}

	// 1. Connect: the SDK meets the 401 and runs the whole authorization flow.
	hops, seen, cimdHits := edge.mark(), len(up.requests()), s.cimd.hits()
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-e2e", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     e2eMCPURL,
		HTTPClient:   &http.Client{Transport: edge},
		OAuthHandler: handler,
		MaxRetries:   -1,
	}, nil)
	if err != nil {
		t.Fatalf("SDK client Connect(%s) = %v\nrequests:\n%s\nbrowser pages: %s", e2eMCPURL, err, edge.since(hops), browser.summary())
	}
	defer session.Close()

	want := []e2eHopWant{
		{"POST", e2eMCPHost, "/mcp", http.StatusUnauthorized},
		{"GET", e2eMCPHost, "/.well-known/oauth-protected-resource/mcp", http.StatusOK},
		{"GET", e2eAuthHost, "/.well-known/oauth-authorization-server", http.StatusOK},
	}
	if registers {
		want = append(want, e2eHopWant{"POST", e2eAuthHost, e2ePath(t, asm.RegistrationEndpoint), http.StatusCreated})
	}
	want = append(want,
		e2eHopWant{"GET", e2eAuthHost, e2ePath(t, asm.AuthorizationEndpoint), 0},
		e2eHopWant{"POST", e2eAuthHost, e2ePath(t, asm.TokenEndpoint), http.StatusOK},
		e2eHopWant{"POST", e2eMCPHost, "/mcp", http.StatusOK},
	)
	edge.expect(t, hops, want)
	if !registers && edge.count(hops, "POST", e2eAuthHost, e2ePath(t, asm.RegistrationEndpoint)) != 0 {
		t.Errorf("the %s client registered dynamically:\n%s", reg.name, edge.since(hops))
	}
	if cfg.ClientIDMetadataDocumentConfig != nil && s.cimd.hits() == cimdHits {
		t.Errorf("mcpguard never fetched the client metadata document %s", s.cimd.url)
	}

	// The authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 8707) the SDK built.
	if len(browser.opened) == 1 {
		q := browser.opened[0].Query()
		scopes := strings.Fields(q.Get("scope"))
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
			q.Get("state") == "" || q.Get("resource") != e2eMCPURL || q.Get("client_id") == "" || q.Get("redirect_uri") != cfg.RedirectURL ||
			!slices.Contains(scopes, "mcp:read") || !slices.Contains(scopes, "offline_access") {
			t.Errorf("authorization request %v: want response_type=code, S256 PKCE, state, resource=%s, client_id, redirect_uri=%s, scope with mcp:read and offline_access", q, e2eMCPURL, cfg.RedirectURL)
		}
	}

	// The person logged in once and approved a consent page that names the client and
	// where it sends them, and that cannot be framed.
	if browser.count("login") != 1 || browser.count("consent") != 1 {
		t.Errorf("browser pages: %s; want one login and one consent", browser.summary())
	}
	for _, p := range browser.pages {
		if p.kind != "consent" {
			continue
		}
		if !strings.Contains(p.text, reg.clientName) || !strings.Contains(p.text, "127.0.0.1") {
			t.Errorf("consent page text %q does not name the client %q and the redirect host 127.0.0.1", p.text, reg.clientName)
		}
		if xfo := p.header.Get("X-Frame-Options"); !strings.EqualFold(xfo, "DENY") {
			t.Errorf("consent page X-Frame-Options = %q, want DENY", xfo)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("consent page Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
		}
	}

	first, err := tokens.Token()
	if err != nil {
		t.Fatalf("token after Connect: %v", err)
	}
	if first.RefreshToken == "" {
		t.Fatalf("the token response has no refresh token (scope asked: %v)", tokens.config().Scopes)
	}
	clientID := tokens.config().ClientID
	if wantClientID != "" && clientID != wantClientID {
		t.Errorf("the SDK used client_id %q, want %q", clientID, wantClientID)
	}

	// 2. tools/call whoami: the MCP server sees who logged in, never the token.
	s.whoami(t, ctx, session, person, tokens.config)
	s.checkUpstream(t, person, seen)

	// 3. Refresh: the refresh token is used and rotated; the new access token works.
	hops = edge.mark()
	refreshed, err := tokens.refresh()
	if err != nil {
		t.Fatalf("refresh: %v\nrequests:\n%s", err, edge.since(hops))
	}
	edge.expect(t, hops, []e2eHopWant{{"POST", e2eAuthHost, e2ePath(t, asm.TokenEndpoint), http.StatusOK}})
	if refreshed.AccessToken == first.AccessToken {
		t.Errorf("refresh returned the same access token")
	}
	if refreshed.RefreshToken == first.RefreshToken {
		t.Errorf("refresh did not rotate the refresh token")
	}
	hops = edge.mark()
	s.whoami(t, ctx, session, person, tokens.config)
	if got := edge.lastBearer(hops, e2eMCPHost); got != refreshed.AccessToken {
		t.Errorf("after the refresh the SDK sent a token other than the refreshed one")
	}
	if r := e2eBearerInitialize(t, edge, refreshed.AccessToken); r.StatusCode != http.StatusOK {
		t.Fatalf("initialize with the refreshed token through the proxy = %d, want 200", r.StatusCode)
	}

	// 4. Revocation (RFC 7009) of the access token; the proxy then answers 401.
	e2eRevoke(t, edge, asm.RevocationEndpoint, tokens.config(), refreshed.AccessToken)
	r := e2eBearerInitialize(t, edge, refreshed.AccessToken)
	challenge := r.Header.Get("WWW-Authenticate")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "resource_metadata=") {
		t.Errorf("initialize with the revoked token = %d, WWW-Authenticate %q; want 401 with error=\"invalid_token\" and resource_metadata", r.StatusCode, challenge)
	}

	// 5. The SDK meets that 401 on its next call and authorizes again. The session
	// cookie spares the login. The SDK (v1.8.0) registers a new client by DCR on every
	// authorization, and consent is per client, so a DCR client sees the consent page
	// again; a CIMD or pre-registered client keeps its client_id and its consent.
	hops, seen = edge.mark(), len(up.requests())
	s.whoami(t, ctx, session, person, tokens.config)
	s.checkUpstream(t, person, seen)
	if n := fetches.Load(); n != 2 {
		t.Errorf("the SDK asked for an authorization code %d times, want 2 (connect, after revocation)", n)
	}
	wantConsents := 1
	again := []e2eHopWant{{"POST", e2eMCPHost, "/mcp", http.StatusUnauthorized}}
	if registers {
		wantConsents = 2
		again = append(again, e2eHopWant{"POST", e2eAuthHost, e2ePath(t, asm.RegistrationEndpoint), http.StatusCreated})
		if id := tokens.config().ClientID; id == clientID {
			t.Errorf("the SDK kept client_id %q after re-authorizing with DCR; the consent count below assumes a new registration", id)
		}
	} else if id := tokens.config().ClientID; id != clientID {
		t.Errorf("client_id after re-authorization = %q, want %q", id, clientID)
	}
	if browser.count("login") != 1 || browser.count("consent") != wantConsents {
		t.Errorf("pages after re-authorization: %s; want 1 login (the session cookie is reused) and %d consent", browser.summary(), wantConsents)
	}
	edge.expect(t, hops, append(again,
		e2eHopWant{"GET", e2eAuthHost, e2ePath(t, asm.AuthorizationEndpoint), 0},
		e2eHopWant{"POST", e2eAuthHost, e2ePath(t, asm.TokenEndpoint), http.StatusOK},
		e2eHopWant{"POST", e2eMCPHost, "/mcp", http.StatusOK},
	))
}

// whoami calls the whoami tool and checks the identity the MCP server received: person,
// through the client the SDK uses after the call (client() is read then, as the call
// may make the SDK authorize again), and no Authorization header.
func (st *e2eMCPStack) whoami(t *testing.T, ctx context.Context, s *mcp.ClientSession, person e2ePerson, client func() *oauth2.Config) {
	t.Helper()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("tools/call whoami = %v", err)
	}
	if res.IsError {
		t.Fatalf("tools/call whoami is an error: %+v", res.Content)
	}
	data, _ := json.Marshal(res.StructuredContent)
	var got whoami.Identity
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("whoami result %s: %v", data, err)
	}
	clientID := client().ClientID
	if got.User != person.email || got.Email != person.email || got.AuthSource != "oauth" || got.ClientID != clientID {
		t.Errorf("whoami = %+v, want user and email %s, auth_source oauth, client_id %q", got, person.email, clientID)
	}
	if got.Authorization && !st.emptyAuthorization {
		t.Errorf("whoami: an Authorization header reached the MCP server")
	}
	if want := strings.Join(person.groups, ","); got.Groups != want {
		t.Errorf("whoami groups = %q, want %q", got.Groups, want)
	}
	if !slices.Contains(strings.Fields(got.Scopes), "mcp:read") {
		t.Errorf("whoami scopes = %q, want mcp:read among them", got.Scopes)
	}
}

// checkUpstream checks every request the MCP server got since it had seen n: the
// identity mcpguard vouched for, and no Authorization header (an empty one where the
// proxy sends that).
func (st *e2eMCPStack) checkUpstream(t *testing.T, person e2ePerson, n int) {
	t.Helper()
	reqs := st.up.requests()[n:]
	if len(reqs) == 0 {
		t.Fatalf("the MCP server received no request")
	}
	for _, r := range reqs {
		if v := r.header.Values("Authorization"); len(v) > 0 && !(st.emptyAuthorization && slices.Equal(v, []string{""})) {
			t.Errorf("%s %s reached the MCP server with an Authorization header: %s", r.method, r.path, e2eDescribeAuthorization(v))
		}
		if u, s := r.header.Get("X-Forwarded-User"), r.header.Get("X-Auth-Source"); u != person.email || s != "oauth" {
			t.Errorf("%s %s reached the MCP server with X-Forwarded-User %q and X-Auth-Source %q, want %q and oauth", r.method, r.path, u, s, person.email)
		}
	}
}

// e2eBearerInitialize sends an MCP initialize request with token through the proxy,
// outside the SDK.
func e2eBearerInitialize(t *testing.T, edge *e2eEdge, token string) *http.Response {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e2eMCPURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := (&http.Client{Transport: edge, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", e2eMCPURL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// e2eRevoke revokes token at the revocation endpoint (RFC 7009) as the client cfg
// describes, with client_secret_post for a confidential client.
func e2eRevoke(t *testing.T, edge *e2eEdge, endpoint string, cfg *oauth2.Config, token string) {
	t.Helper()
	if endpoint == "" {
		t.Fatal("the authorization server metadata has no revocation_endpoint")
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}, "client_id": {cfg.ClientID}}
	if cfg.ClientSecret != "" {
		form.Set("client_secret", cfg.ClientSecret)
	}
	resp, err := (&http.Client{Transport: edge, Timeout: 10 * time.Second}).PostForm(endpoint, form)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s (token_type_hint=access_token, client_id=%s) = %s: %s", endpoint, cfg.ClientID, resp.Status, body)
	}
}

// e2eDescribeAuthorization says what Authorization values are without showing a token.
func e2eDescribeAuthorization(values []string) string {
	var out []string
	for _, v := range values {
		scheme, cred, _ := strings.Cut(v, " ")
		switch {
		case v == "":
			out = append(out, "empty")
		case strings.HasPrefix(v, "{"):
			out = append(out, fmt.Sprintf("the literal %q", v))
		case strings.Count(cred, ".") == 2:
			out = append(out, fmt.Sprintf("%s <a JWT, %d bytes>", scheme, len(cred)))
		default:
			out = append(out, fmt.Sprintf("%s <%d bytes>", scheme, len(cred)))
		}
	}
	return strings.Join(out, ", ")
}
