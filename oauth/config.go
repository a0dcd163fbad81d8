package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// StaticClient is a pre-registered client from configuration, described with the
// RFC 7591 §2 metadata names. A client with a secret (or its hash) or keys is
// confidential; one whose GrantTypes include client_credentials is a machine, which
// gets tokens for itself (RFC 6749 §4.4) and needs no redirect URI.
type StaticClient struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret,omitempty"`      // empty for a public client
	SecretHash   string   `json:"client_secret_hash,omitempty"` // hex SHA-256 of the secret, instead of Secret
	Name         string   `json:"client_name,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post or
	// private_key_jwt (RFC 7523 §2.2). Empty: private_key_jwt with keys,
	// client_secret_basic or client_secret_post with a secret, none otherwise. Set, it
	// is the only method the client may use.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// JWKS (an inline JWK Set) or JWKSURI (fetched, cached, refetched for an unknown
	// kid) holds the public keys of a private_key_jwt client.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// GrantTypes are authorization_code, refresh_token and client_credentials; empty
	// means authorization_code and refresh_token.
	GrantTypes []string `json:"grant_types,omitempty"`
	// Scope is the space-separated scopes a client_credentials token may carry, and what
	// it gets without a scope parameter; empty means AllowedScopes.
	Scope string `json:"scope,omitempty"`
	// Resources are the resources (of Config.Resources) a client_credentials token may
	// be issued for; a request without resource gets the first. Empty means every one.
	Resources []string `json:"resources,omitempty"`
	// Introspection marks the client as a resource server that may ask /introspect
	// (RFC 7662) about tokens. It must be confidential: a secret or keys. With it, an
	// empty GrantTypes means no grant at all (a resource server only).
	Introspection bool `json:"introspection,omitempty"`
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

	// Clients are pre-registered clients.
	Clients []StaticClient
	// EnterpriseIdPs are the enterprise identity providers whose ID-JAGs the jwt-bearer
	// grant accepts, from clients whose GrantTypes list it.
	EnterpriseIdPs []EnterpriseIdP
	// WorkloadIssuers are the workload platforms whose tokens the jwt-bearer grant
	// accepts without client authentication (SEP-1933, a draft extension).
	WorkloadIssuers []WorkloadIssuer
	// RegistrationTTL is how long an unused DCR registration lives; 0 means 30 days.
	RegistrationTTL time.Duration
	// RegistrationsPerMinute bounds DCR requests per source address; 0 means 10. This
	// limit and RegistrationsPerMinuteTotal are token buckets in Store, which every
	// replica sharing it draws from (store.RateStore).
	RegistrationsPerMinute int
	// RegistrationsPerMinuteTotal bounds DCR requests from all addresses together; 0
	// means 120.
	RegistrationsPerMinuteTotal int
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
	// DisableDynamicRegistration turns RFC 7591 registration off: the metadata lists no
	// registration_endpoint and /register is not served. Pre-registered clients and
	// Client ID Metadata Documents remain (MCP 2025-11-25, "Client Registration").
	DisableDynamicRegistration bool
	// MaxRegisteredClients caps the live DCR registrations; past it /register answers
	// 503 until unused ones expire. 0 means 100,000.
	MaxRegisteredClients int

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
	// AllowedEmails, AllowedDomains and AllowedGroups are enforced at login, with the
	// rule of a policy resource's allowlists (policy.Allowlist).
	AllowedEmails, AllowedDomains, AllowedGroups []string
	// SessionSecret signs and encrypts the browser session cookie (at least 32 bytes).
	SessionSecret []byte
	// SessionTTL is the longest a browser login lasts, however much it is used; 0 means 8 h.
	SessionTTL time.Duration
	// SessionIdle ends a browser login unused that long; 0 means 1 h.
	SessionIdle time.Duration
	// AccessTokenTTL, RefreshTokenTTL, CodeTTL and RefreshGrace default to 10 min,
	// 30 days, 1 min and 30 s.
	AccessTokenTTL, RefreshTokenTTL, CodeTTL, RefreshGrace time.Duration
	// SigningKeyRotation is how often a new signing key is added (rotation.go); 0
	// means DefaultSigningKeyRotation, 30 days.
	SigningKeyRotation time.Duration
	// OnGrant, when set, is called for every /token answer (grant type, "ok" or the
	// OAuth error code), for metrics.
	OnGrant func(grant, result string)
	// OnRegistration, when set, is called for every registration (kind "dcr" or "cimd",
	// result "ok" or the error code), for metrics.
	OnRegistration func(kind, result string)
	// OnLogin, when set, is called for every submitted local login form, with its
	// result: "ok", "wrong_password" (or unknown email), "locked_out" or "busy" (no
	// password check slot came free).
	OnLogin func(result string)
}

// Defaults of the token and code lifetimes.
const (
	defaultAccessTokenTTL  = 10 * time.Minute
	defaultRefreshTokenTTL = 30 * 24 * time.Hour
	defaultCodeTTL         = time.Minute
	defaultRefreshGrace    = 30 * time.Second
)

// scopeOfflineAccess asks for a refresh token; it is always allowed.
const scopeOfflineAccess = "offline_access"

// issuer is the issuer identifier (RFC 8414 §2), parsed once by New.
type issuer struct {
	url   string // as configured, echoed byte for byte
	path  string // its path, the prefix of every endpoint: "" for a root issuer
	https bool   // cookies are Secure and __Host- prefixed
}

// parseIssuer checks raw: an absolute http(s) URL without query, fragment or trailing
// slash, whose path needs no escaping and holds no braces (it prefixes ServeMux patterns).
func parseIssuer(raw string) (issuer, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "/") {
		return issuer{}, fmt.Errorf("oauth: issuer %q must be an absolute http(s) URL without query, fragment or trailing slash", raw)
	}
	if strings.ContainsAny(u.Path, "{}") || u.RawPath != "" {
		return issuer{}, fmt.Errorf("oauth: issuer %q: the path must not need escaping or hold braces", raw)
	}
	return issuer{url: raw, path: u.Path, https: strings.HasPrefix(raw, "https://")}, nil
}

// endpoint names the endpoint r was sent to, for the log: its path without the issuer's.
func (iss issuer) endpoint(r *http.Request) string {
	return strings.TrimPrefix(r.URL.Path, iss.path)
}

// scopeSet is the scopes clients may ask for: Config.AllowedScopes and offline_access.
// Its allows method is the one rule every requested scope is held to, at /authorize,
// at a refresh, at registration and in a metadata document.
type scopeSet struct {
	defaults  []string        // AllowedScopes as configured: what a request without scope gets
	supported []string        // defaults and offline_access, once each, in order
	set       map[string]bool // supported, for lookups
}

// newScopeSet checks that every allowed scope is an RFC 6749 §3.3 scope-token.
func newScopeSet(allowed []string) (scopeSet, error) {
	ss := scopeSet{defaults: slices.Clone(allowed), set: map[string]bool{}}
	for _, sc := range append(slices.Clone(allowed), scopeOfflineAccess) {
		if !validScopeToken(sc) {
			return scopeSet{}, fmt.Errorf("oauth: allowed scope %q is not an RFC 6749 scope token", sc)
		}
		if !ss.set[sc] {
			ss.set[sc] = true
			ss.supported = append(ss.supported, sc)
		}
	}
	return ss, nil
}

// allows reports whether clients may ask for sc.
func (ss scopeSet) allows(sc string) bool { return ss.set[sc] }

// parse splits a scope parameter (RFC 6749 §3.3) and refuses it when a scope is not
// allowed; why explains a refusal. Repeated scopes count once.
func (ss scopeSet) parse(scope string) (scopes []string, why string) {
	for sc := range strings.SplitSeq(scope, " ") {
		switch {
		case sc == "" || slices.Contains(scopes, sc):
		case !validScopeToken(sc):
			return nil, "a scope contains a character RFC 6749 §3.3 does not allow"
		case !ss.allows(sc):
			return nil, "scope " + sc + " is not allowed"
		default:
			scopes = append(scopes, sc)
		}
	}
	return scopes, ""
}

// filter keeps the whitespace-separated scopes of requested that are allowed, once
// each: client metadata may name scopes the server does not know (RFC 7591 §2 lets the
// server replace requested values), and they are dropped rather than refused.
func (ss scopeSet) filter(requested string) string {
	var kept []string
	for _, sc := range strings.Fields(requested) {
		if ss.allows(sc) && !slices.Contains(kept, sc) {
			kept = append(kept, sc)
		}
	}
	return strings.Join(kept, " ")
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// lifetimes are the configured token and code lifetimes, defaults applied.
type lifetimes struct{ access, refresh, code, grace time.Duration }

// newLifetimes applies the defaults to c's lifetimes and refuses negative ones.
func newLifetimes(c Config) (lifetimes, error) {
	var l lifetimes
	for _, d := range []struct {
		name string
		v    time.Duration
		def  time.Duration
		dst  *time.Duration
	}{
		{"AccessTokenTTL", c.AccessTokenTTL, defaultAccessTokenTTL, &l.access},
		{"RefreshTokenTTL", c.RefreshTokenTTL, defaultRefreshTokenTTL, &l.refresh},
		{"CodeTTL", c.CodeTTL, defaultCodeTTL, &l.code},
		{"RefreshGrace", c.RefreshGrace, defaultRefreshGrace, &l.grace},
	} {
		switch {
		case d.v < 0:
			return lifetimes{}, fmt.Errorf("oauth: %s must not be negative", d.name)
		case d.v == 0:
			*d.dst = d.def
		default:
			*d.dst = d.v
		}
	}
	return l, nil
}

// checkResources checks that every resource is an absolute URL without fragment.
func checkResources(resources []string) error {
	if len(resources) == 0 {
		return fmt.Errorf("oauth: no resources")
	}
	for _, res := range resources {
		if r, err := url.Parse(res); err != nil || !r.IsAbs() || r.Host == "" || r.Fragment != "" {
			return fmt.Errorf("oauth: resource %q is not an absolute URL without fragment (RFC 8707 §2)", res)
		}
	}
	return nil
}
