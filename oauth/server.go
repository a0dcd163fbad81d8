package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// Server is mcpguard's OAuth 2.1 authorization server for MCP clients. It owns the
// parts that serve its endpoints and wires them together:
//
//   - discovery: the authorization server metadata (RFC 8414, OIDC Discovery);
//   - registry: the clients, configured, registered (RFC 7591) or described by a
//     Client ID Metadata Document, and /register;
//   - accounts: who may sign in, local users or the upstream identity provider's,
//     within the login allowlists;
//   - frontChannel: what the user's browser goes through, /authorize, /login,
//     /callback, /consent, /logout and /account;
//   - tokenEndpoint: /token with its grants, /revoke and /introspect;
//
// and, itself, the signing keys, /jwks and the access tokens (keys.go, access.go).
type Server struct {
	cfg      Config
	now      func() time.Time
	issuer   issuer
	ttl      lifetimes
	flowCtx  context.Context // New's ctx: background work and store calls of /auth
	keys     *keyRing        // signing keys, loaded from the store
	started  atomic.Bool     // the keys are loaded and the work on the store runs (start.go)
	startMu  sync.Mutex      // one Start at a time
	rotation time.Duration   // how often the signing key rotates
	holder   string          // this replica's name for the rotation lease
	deny     *denylist       // revocations made by this process
	verifier *auth.OwnTokens // /auth's view of our access tokens

	discovery *discovery
	clients   *registry
	accounts  *accounts
	front     *frontChannel
	tokens    *tokenEndpoint
}

// New validates c and builds the server, and starts it (see [Server.Start]): when the
// store cannot be reached (store.ErrUnavailable), New returns the server not started.
// Background work it starts (key reloads, upstream discovery) stops when ctx is done.
func New(ctx context.Context, c Config) (*Server, error) {
	if c.Store == nil {
		return nil, errors.New("oauth: no store")
	}
	iss, err := parseIssuer(c.Issuer)
	if err != nil {
		return nil, err
	}
	if err := checkResources(c.Resources); err != nil {
		return nil, err
	}
	scopes, err := newScopeSet(c.AllowedScopes)
	if err != nil {
		return nil, err
	}
	ttl, err := newLifetimes(c)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c, now: c.Now, issuer: iss, ttl: ttl, flowCtx: ctx, deny: newDenylist()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.clients, err = newRegistry(c, iss, scopes, s.now); err != nil {
		return nil, err
	}
	idps, err := newEnterpriseIdPs(c.EnterpriseIdPs, s.clients, s.clients.cimd.client, c.InsecureCIMDAllowPrivate)
	if err != nil {
		return nil, err
	}
	workloads, err := newWorkloadIssuers(c.WorkloadIssuers, s.clients, scopes, c.Resources, s.clients.cimd.client, c.InsecureCIMDAllowPrivate)
	if err != nil {
		return nil, err
	}
	o := s.clients.offers()
	o.jwtBearer = o.jwtBearer || len(workloads) > 0
	o.noRegistration = c.DisableDynamicRegistration
	if s.discovery, err = newDiscovery(iss, scopes, o); err != nil {
		return nil, err
	}
	if s.rotation = c.SigningKeyRotation; s.rotation == 0 {
		s.rotation = DefaultSigningKeyRotation
	} else if s.rotation < 0 {
		return nil, errors.New("oauth: SigningKeyRotation must not be negative")
	}
	s.holder = randomString(8)
	s.keys = &keyRing{st: c.Store}
	if s.verifier, err = s.newVerifier(); err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil && !errors.Is(err, store.ErrUnavailable) {
		return nil, err
	}
	// Last: an upstream provider starts its discovery in the background.
	if s.accounts, err = newAccounts(ctx, c, iss, s.now); err != nil {
		return nil, err
	}
	if s.front, err = newFrontChannel(c, iss, scopes, ttl, s.clients, s.accounts, s.now); err != nil {
		return nil, err
	}
	s.front.revokeGrant = s.RevokeGrant
	s.tokens = &tokenEndpoint{
		iss:             iss,
		store:           c.Store,
		now:             s.now,
		ttl:             ttl,
		scopes:          scopes,
		clients:         s.clients,
		accounts:        s.accounts,
		deny:            s.deny,
		mint:            s.mintAccessToken,
		verifySignature: s.verifyAccessSignature,
		verifyToken:     s.verifyAccessToken,
		onGrant:         c.OnGrant,
		offers:          o,
		idps:            idps,
		workloads:       workloads,
	}
	return s, nil
}

// Routes adds the authorization server's endpoints to mux, under the issuer's path.
// Until the server has started, every endpoint but the CORS preflights answers 503.
func (s *Server) Routes(mux *http.ServeMux) {
	g := gatedMux{mux: mux, s: s}
	s.discovery.routes(g)
	if !s.cfg.DisableDynamicRegistration {
		s.clients.routes(g)
	}
	s.front.routes(g)
	s.tokens.routes(g)
	g.HandleFunc("GET "+s.issuer.path+"/jwks", s.handleJWKS)
	g.HandleFunc("OPTIONS "+s.issuer.path+"/jwks", preflight("GET, OPTIONS"))
	s.legacyRoutes(g)
}

// Ready reports whether the server can serve logins and tokens: the store answers, the
// server has started and, for an upstream provider, its discovery succeeded. For /readyz.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return fmt.Errorf("oauth: store: %w", err)
	}
	if !s.started.Load() {
		return errNotStarted
	}
	if u := s.accounts.upstream; u != nil {
		return u.ready()
	}
	return nil
}

// preflight answers CORS preflights of a public endpoint.
func preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writePreflight(w, methods) }
}
