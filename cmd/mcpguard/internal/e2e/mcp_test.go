package e2e

// The MCP authorization flow end to end: the official MCP Go SDK client, knowing only the
// MCP server's URL, goes through the real nginx, Caddy or Traefik (the deploy/ recipes)
// to the example MCP server (examples/mcp-server), with mcpguard as the auth service and
// as the authorization server with local users: 401 → protected resource metadata →
// authorization server metadata → registration (DCR, a Client ID Metadata Document, or
// pre-registered) → login → consent → code → token → tools/call, then a refresh, a
// revocation and a 401.

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// The local user, the pre-registered client, and the URLs MCP clients use. The names
// resolve to the proxy only inside loadBalancer.
const (
	oauthEmail        = "alice@example.com"
	oauthPassword     = "e2e correct horse battery staple"
	staticClientID    = "e2e-static-client"
	staticSecret      = "e2e-static-client-secret-0123456789abcdef"
	mcpURL            = "https://" + mcpHost + "/mcp"
	authIssuer        = "https://" + authHost
	sessionSecret     = "e2e-session-secret-0123456789abcdef0123456789"
	staticClientName  = "E2E pre-registered client"
	dynamicClientName = "E2E dynamically registered client"
	cimdClientName    = "E2E metadata document client"
)

// staticRedirect is the pre-registered client's redirect URI.
const staticRedirect = "http://127.0.0.1:8976/callback"

// loginUser is who logs in at the browser step, and the groups mcpguard must report.
type loginUser struct {
	email, password string
	groups          []string
}

// localUser is the one user of LOCAL_USERS_FILE.
var localUser = loginUser{email: oauthEmail, password: oauthPassword, groups: []string{"eng", "ops"}}

// TestMCP is the MCP SDK client's whole authorization flow through each proxy's recipe,
// once per registration method: nginx with the authorization server's state in bbolt,
// Caddy and Traefik with it in memory.
func TestMCP(t *testing.T) {
	t.Run("nginx", func(t *testing.T) {
		runMCP(t, startNginx, oauthEnv(t, "bolt://"+filepath.Join(t.TempDir(), "mcpguard.db")), localUser, clientRegistrations())
	})
	t.Run("caddy", func(t *testing.T) {
		runMCP(t, startCaddy, oauthEnv(t, "memory://"), localUser, clientRegistrations())
	})
	t.Run("traefik", func(t *testing.T) {
		s := startMCPStack(t, startTraefik, oauthEnv(t, "memory://"))
		// Traefik passes mcpguard's empty Authorization on as an empty header, as Caddy
		// does (traefikCheckEmptyHeaders); startMCPStack knows only Caddy's.
		s.emptyAuthorization = true
		for _, reg := range clientRegistrations() {
			t.Run(reg.name, func(t *testing.T) { runMCPFlow(t, s, localUser, reg) })
		}
	})
}

// mcpStack is everything between the SDK client and the MCP server.
type mcpStack struct {
	edge *loadBalancer
	up   *whoamiServer
	cimd *cimdServer
	asm  *oauthex.AuthServerMeta
	// emptyAuthorization: the proxy passes mcpguard's empty "Authorization:" on as an
	// empty header instead of dropping it. Caddy's copy_headers does (2.6.2 at least);
	// nginx passes no header whose value is empty. The token never arrives either way.
	emptyAuthorization bool
	// replicas: several mcpguard processes share the store; a revocation reaches the
	// others within a second instead of at once.
	replicas bool
}

// runMCP starts the stack with env and has the SDK client connect as person once per
// registration.
func runMCP(t *testing.T, start func(*testing.T, string, *mcpUpstream) edgeProxy, env map[string]string, person loginUser, regs []clientRegistration) {
	t.Helper()
	s := startMCPStack(t, start, env)
	for _, reg := range regs {
		t.Run(reg.name, func(t *testing.T) { runMCPFlow(t, s, person, reg) })
	}
}

// startMCPStack starts the example MCP server, a server for Client ID Metadata
// Documents, mcpguard with env (and CIMD fetches from loopback allowed), and the proxy
// start runs, and reads the authorization server metadata through the proxy.
func startMCPStack(t *testing.T, start func(*testing.T, string, *mcpUpstream) edgeProxy, env map[string]string) *mcpStack {
	t.Helper()
	s := &mcpStack{up: startWhoami(t), cimd: startCIMD(t)}
	s.cimd.trust(t)
	env = maps.Clone(env)
	env["INSECURE_CIMD_ALLOW_PRIVATE"] = "true"
	guard := startGuard(t, env)
	// Ready: signing keys loaded, store reachable, the upstream IdP discovered.
	if err := waitHTTP(guard, "127.0.0.1", "/readyz", nil); err != nil {
		t.Fatalf("mcpguard: %v", err)
	}
	proxy := start(t, guard, &mcpUpstream{addr: s.up.addr})
	s.edge = &loadBalancer{proxy: proxy.addr, direct: map[string]bool{}}
	s.emptyAuthorization = proxy.name == "caddy" || proxy.name == "traefik"
	if u, err := url.Parse(env["OIDC_ISSUER"]); err == nil && u.Host != "" {
		s.edge.direct[u.Host] = true // the upstream identity provider, for the browser
	}
	var err error
	issuer := cmp.Or(env["ISSUER_URL"], authIssuer)
	s.asm, err = auth.GetAuthServerMetadata(t.Context(), issuer, &http.Client{Transport: s.edge})
	if err != nil || s.asm == nil {
		t.Fatalf("authorization server metadata of %s through %s: %v, %v", issuer, proxy.name, s.asm, err)
	}
	return s
}

// clientRegistrations are the three ways an MCP client gets a client_id.
func clientRegistrations() []clientRegistration {
	return []clientRegistration{
		{
			name:       "DCR",
			clientName: dynamicClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *mcpStack) {
				c.RedirectURL = "http://127.0.0.1:8975/callback"
				c.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{
					Metadata: &oauthex.ClientRegistrationMetadata{
						ClientName:              dynamicClientName,
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
			clientName: cimdClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *mcpStack) {
				c.RedirectURL = s.cimd.redirect // the one the document lists
				c.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: s.cimd.url}
			},
		},
		{
			name:       "preregistered",
			clientName: staticClientName,
			configure: func(c *auth.AuthorizationCodeHandlerConfig, s *mcpStack) {
				c.RedirectURL = staticRedirect
				c.PreregisteredClient = &oauthex.ClientCredentials{
					ClientID:         staticClientID,
					ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: staticSecret},
				}
			},
		},
	}
}

// sdkClient is the official MCP SDK client of one registration: its OAuth handler's
// configuration, the browser that logs in and consents for it, the tokens it holds and
// how many times it asked for an authorization code.
type sdkClient struct {
	cfg     *auth.AuthorizationCodeHandlerConfig
	handler *auth.AuthorizationCodeHandler
	browser *formBrowser
	tokens  *sdkTokens
	fetches atomic.Int32
}

// newSDKClient prepares the SDK client of reg, whose browser logs in as person.
func (s *mcpStack) newSDKClient(t *testing.T, person loginUser, reg clientRegistration) *sdkClient {
	t.Helper()
	browser, err := newFormBrowser(s.edge, authIssuer, person.email, person.password)
	if err != nil {
		t.Fatal(err)
	}
	for host := range s.edge.direct {
		browser.allow("http://" + host)
	}
	c := &sdkClient{browser: browser, tokens: &sdkTokens{}}
	c.cfg = &auth.AuthorizationCodeHandlerConfig{
		RequestRefreshToken: true,
		Client:              &http.Client{Transport: s.edge, Timeout: 10 * time.Second},
		NewTokenSource:      c.tokens.newTokenSource,
	}
	reg.configure(c.cfg, s)
	c.cfg.AuthorizationCodeFetcher = func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		c.fetches.Add(1)
		return browser.authorize(ctx, args.URL, c.cfg.RedirectURL)
	}
	if c.handler, err = auth.NewAuthorizationCodeHandler(c.cfg); err != nil {
		t.Fatalf("NewAuthorizationCodeHandler: %v", err)
	}
	return c
}

// connect connects the SDK client to the MCP server through the edge: it meets the
// 401 and runs the whole authorization flow.
func (c *sdkClient) connect(t *testing.T, ctx context.Context, s *mcpStack) *mcp.ClientSession {
	t.Helper()
	hops := s.edge.mark()
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-e2e", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     mcpURL,
		HTTPClient:   &http.Client{Transport: s.edge},
		OAuthHandler: c.handler,
		MaxRetries:   -1,
	}, nil)
	if err != nil {
		t.Fatalf("SDK client Connect(%s) = %v\nrequests:\n%s\nbrowser pages: %s", mcpURL, err, s.edge.since(hops), c.browser.summary())
	}
	return session
}

// clientRegistration is one way the SDK client gets a client_id.
type clientRegistration struct {
	name       string
	clientName string // what the consent page must show
	// configure sets the handler's RedirectURL and its one registration method.
	configure func(c *auth.AuthorizationCodeHandlerConfig, s *mcpStack)
}

// runMCPFlow is one client's life: connect (the whole authorization flow), call
// whoami, refresh, call again, revoke, see the 401, and re-authorize without a new
// login or consent.
func runMCPFlow(t *testing.T, s *mcpStack, person loginUser, reg clientRegistration) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	edge, up, asm := s.edge, s.up, s.asm
	c := s.newSDKClient(t, person, reg)
	browser, cfg, tokens, fetches := c.browser, c.cfg, c.tokens, &c.fetches
	registers := cfg.DynamicClientRegistrationConfig != nil
	wantClientID := ""
	switch {
	case cfg.ClientIDMetadataDocumentConfig != nil:
		wantClientID = cfg.ClientIDMetadataDocumentConfig.URL
	case cfg.PreregisteredClient != nil:
		wantClientID = cfg.PreregisteredClient.ClientID
	}

	// 1. Connect: the SDK meets the 401 and runs the whole authorization flow.
	hops, seen, cimdHits := edge.mark(), len(up.requests()), s.cimd.hits()
	session := c.connect(t, ctx, s)
	defer session.Close()

	want := []hopWant{
		{"POST", mcpHost, "/mcp", http.StatusUnauthorized},
		{"GET", mcpHost, "/.well-known/oauth-protected-resource/mcp", http.StatusOK},
		{"GET", authHost, "/.well-known/oauth-authorization-server", http.StatusOK},
	}
	if registers {
		want = append(want, hopWant{"POST", authHost, urlPath(t, asm.RegistrationEndpoint), http.StatusCreated})
	}
	want = append(want,
		hopWant{"GET", authHost, urlPath(t, asm.AuthorizationEndpoint), 0},
		hopWant{"POST", authHost, urlPath(t, asm.TokenEndpoint), http.StatusOK},
		hopWant{"POST", mcpHost, "/mcp", http.StatusOK},
	)
	edge.expect(t, hops, want)
	if !registers && edge.count(hops, "POST", authHost, urlPath(t, asm.RegistrationEndpoint)) != 0 {
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
			q.Get("state") == "" || q.Get("resource") != mcpURL || q.Get("client_id") == "" || q.Get("redirect_uri") != cfg.RedirectURL ||
			!slices.Contains(scopes, "mcp:read") || !slices.Contains(scopes, "offline_access") {
			t.Errorf("authorization request %v: want response_type=code, S256 PKCE, state, resource=%s, client_id, redirect_uri=%s, scope with mcp:read and offline_access", q, mcpURL, cfg.RedirectURL)
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
	edge.expect(t, hops, []hopWant{{"POST", authHost, urlPath(t, asm.TokenEndpoint), http.StatusOK}})
	if refreshed.AccessToken == first.AccessToken {
		t.Errorf("refresh returned the same access token")
	}
	if refreshed.RefreshToken == first.RefreshToken {
		t.Errorf("refresh did not rotate the refresh token")
	}
	hops = edge.mark()
	s.whoami(t, ctx, session, person, tokens.config)
	if got := edge.lastBearer(hops, mcpHost); got != refreshed.AccessToken {
		t.Errorf("after the refresh the SDK sent a token other than the refreshed one")
	}
	if r := bearerInitialize(t, edge, refreshed.AccessToken); r.StatusCode != http.StatusOK {
		t.Fatalf("initialize with the refreshed token through the proxy = %d, want 200", r.StatusCode)
	}

	// 4. Revocation (RFC 7009) of the access token; the proxy then answers 401.
	// Behind several replicas the next request may reach one the revocation has not yet
	// reached; every one must refuse it within a second (DESIGN.md, "State across
	// replicas"), so the flow goes on once that second has passed.
	revokeToken(t, edge, asm.RevocationEndpoint, tokens.config(), refreshed.AccessToken)
	revoked := time.Now()
	r := bearerInitialize(t, edge, refreshed.AccessToken)
	for s.replicas && r.StatusCode == http.StatusOK && time.Since(revoked) < time.Second {
		time.Sleep(20 * time.Millisecond)
		r = bearerInitialize(t, edge, refreshed.AccessToken)
	}
	if s.replicas {
		time.Sleep(time.Second - time.Since(revoked))
	}
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
	again := []hopWant{{"POST", mcpHost, "/mcp", http.StatusUnauthorized}}
	if registers {
		wantConsents = 2
		again = append(again, hopWant{"POST", authHost, urlPath(t, asm.RegistrationEndpoint), http.StatusCreated})
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
		hopWant{"GET", authHost, urlPath(t, asm.AuthorizationEndpoint), 0},
		hopWant{"POST", authHost, urlPath(t, asm.TokenEndpoint), http.StatusOK},
		hopWant{"POST", mcpHost, "/mcp", http.StatusOK},
	))
}
