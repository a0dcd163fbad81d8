package oauth

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// StaticClient is a pre-registered client from configuration.
type StaticClient struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret,omitempty"` // empty for a public client
	Name         string   `json:"client_name,omitempty"`
	RedirectURIs []string `json:"redirect_uris"`
}

// LocalUser is one user of PROVIDER=local (LOCAL_USERS_FILE).
type LocalUser struct {
	Email        string   `json:"email"`
	PasswordHash string   `json:"password_hash"` // bcrypt
	Name         string   `json:"name,omitempty"`
	Groups       []string `json:"groups,omitempty"`
}

// Config configures the authorization server.
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2): https, no query, no trailing slash.
	Issuer string
	// Store keeps clients, codes, refresh tokens, consents and signing keys.
	Store store.Store
	// Resources are the resource URLs (RFC 8707) tokens may be issued for; a request
	// without a resource parameter gets the first.
	Resources []string
	// AllowedScopes are the scopes clients may request; offline_access is always allowed.
	AllowedScopes []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// ---- Part A: clients (registration, CIMD, redirect URIs, AS metadata) ----

	// Clients are pre-registered clients.
	Clients []StaticClient
	// RegistrationTTL is how long an unused DCR registration lives; 0 means 30 days.
	RegistrationTTL time.Duration
	// RegistrationsPerMinute bounds DCR requests per source address; 0 means 10.
	RegistrationsPerMinute int
	// ClientAddr returns the address a request came from (for rate limits); nil means
	// the TCP peer.
	ClientAddr func(*http.Request) netip.Addr
	// CIMDAllowedDomains, when not empty, limits Client ID Metadata Document URLs to
	// these hosts and their subdomains.
	CIMDAllowedDomains []string
	// CIMDHTTPClient fetches Client ID Metadata Documents; nil means an SSRF-safe client.
	CIMDHTTPClient *http.Client
	// InsecureCIMDAllowPrivate lets CIMD fetches reach loopback and private addresses.
	// It exists for tests and MUST NOT be set in production: it opens SSRF.
	InsecureCIMDAllowPrivate bool
	// MaxRegisteredClients caps the live DCR registrations; past it /register answers
	// 503 until unused ones expire. 0 means 100,000.
	MaxRegisteredClients int

	// ---- Part B: flow (authorize, login, consent, token, revoke, keys) ----

	// Provider is the upstream login: "local", "google" or "oidc".
	Provider string
	// LocalUsers are the users of Provider "local".
	LocalUsers []LocalUser
	// UpstreamIssuer is the OIDC issuer of Provider "oidc" (Google's for "google").
	UpstreamIssuer string
	// UpstreamClientID and UpstreamClientSecret are mcpguard's client at the upstream IdP.
	UpstreamClientID, UpstreamClientSecret string
	// GoogleHostedDomain, when set, requires Google's hd claim to equal it.
	GoogleHostedDomain string
	// UpstreamHTTPClient talks to the upstream IdP; nil means a client with timeouts.
	UpstreamHTTPClient *http.Client
	// UpstreamScopes are the scopes asked of the upstream IdP; nil means openid, email
	// and profile, plus groups for Provider "oidc" when AllowedGroups is set.
	UpstreamScopes []string
	// AllowedEmails, AllowedDomains and AllowedGroups are enforced at login.
	AllowedEmails, AllowedDomains, AllowedGroups []string
	// SessionSecret signs and encrypts the browser session cookie (at least 32 bytes).
	SessionSecret []byte
	// AccessTokenTTL, RefreshTokenTTL, CodeTTL and RefreshGrace default to 10 min,
	// 30 days, 1 min and 30 s.
	AccessTokenTTL, RefreshTokenTTL, CodeTTL, RefreshGrace time.Duration
	// OnGrant, when set, is called for every /token answer (grant type, "ok" or the
	// OAuth error code), for metrics.
	OnGrant func(grant, result string)
	// OnRegistration, when set, is called for every registration (kind "dcr" or "cimd",
	// result "ok" or the error code), for metrics.
	OnRegistration func(kind, result string)
}

// Server is mcpguard's OAuth 2.1 authorization server for MCP clients.
type Server struct {
	cfg Config
	now func() time.Time

	// ---- Part A fields ----

	issuerPath      string                  // the issuer's path ("" for a root issuer)
	clientScopes    []string                // AllowedScopes and offline_access, in order
	asMetadata      []byte                  // the RFC 8414 document, rendered once
	staticClients   map[string]store.Client // Config.Clients by id
	registrationTTL time.Duration           // life of an unused DCR registration
	maxDCRClients   int                     // cap on live DCR registrations
	registrations   *rateLimiter            // DCR requests per source address
	cimd            *cimdCache              // Client ID Metadata Documents

	// ---- Part B fields ----

	flowCtx    context.Context       // New's ctx: background work and store calls of /auth
	prefix     string                // the issuer's path, the prefix of every endpoint
	keys       *keyRing              // signing keys, loaded from the store
	deny       *denylist             // revocations made by this process
	verifier   *auth.OwnTokens       // /auth's view of our access tokens
	cookies    *sessions.CookieStore // the browser session
	cookieName string                // "__Host-mcpguard", or "mcpguard_session" over http
	pages      *template.Template    // the HTML pages
	users      map[string]LocalUser  // Provider "local", by case-folded email
	dummyHash  []byte                // bcrypt hash checked for unknown users
	upstream   *upstream             // Provider "google" or "oidc"; nil for "local"
	gate       gate                  // the login allowlists
	scopes     map[string]bool       // AllowedScopes and offline_access
	ttl        struct{ access, refresh, code, grace time.Duration }
}

// New validates c and builds the server. Background work it starts (key loading,
// upstream discovery) stops when ctx is done.
func New(ctx context.Context, c Config) (*Server, error) {
	if c.Store == nil {
		return nil, errors.New("oauth: no store")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/") {
		return nil, fmt.Errorf("oauth: issuer %q must be an absolute http(s) URL without query, fragment or trailing slash", c.Issuer)
	}
	if len(c.Resources) == 0 {
		return nil, errors.New("oauth: no resources")
	}
	s := &Server{cfg: c, now: c.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.initClients(ctx); err != nil {
		return nil, err
	}
	if err := s.initFlow(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Routes adds the authorization server's endpoints to mux.
func (s *Server) Routes(mux *http.ServeMux) {
	s.clientRoutes(mux)
	s.flowRoutes(mux)
}
