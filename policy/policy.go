// Package policy decides whether an authenticated (or anonymous) caller may perform a request on a protected MCP resource.
//
// The package is pure: it does no I/O, reads no clock and takes no context. [New]
// validates a [Config] and compiles it once; [Policy.Decide] then answers each request
// without touching the configuration again.
package policy

import (
	"maps"
	"strconv"
)

// Source is the kind of credential an [Identity] was established from.
type Source string

// The credential kinds. SourceAnonymous is not a credential kind a resource can accept
// through [ResourceConfig.Credentials]; anonymous access is [ResourceConfig.Anonymous].
const (
	SourceOAuth     Source = "oauth"
	SourceJWT       Source = "jwt"
	SourceAPIKey    Source = "apikey"
	SourceProxy     Source = "proxy"
	SourceSession   Source = "session"
	SourceClient    Source = "client" // mcpguard's own access token from the client_credentials grant: a machine, no person
	SourceAnonymous Source = "anonymous"
)

// Identity is who is calling, as the auth layer established it.
type Identity struct {
	Subject       string
	Email         string   // as given; policy parses it strictly itself
	EmailVerified bool     // an email counts for allowlists only when true
	Groups        []string // matched exactly, case-sensitive
	Scopes        []string // granted scopes
	AllScopes     bool     // the credential is not scope-limited (single master API key, trusted proxy identity)
	Source        Source
	ClientID      string
	Issuer        string   // token issuer (jwt and oauth identities)
	Audiences     []string // token audiences (jwt and oauth identities); one must be the resource's, see [ResourceConfig.Audiences]
}

// Request is the original request as the edge proxy received it (already normalized by the caller).
type Request struct {
	Method             string // original HTTP method, upper case
	Host               string // canonical host: lower case, no trailing dot, default port removed; another port is kept
	Path               string // the path as the upstream receives it, unresolved (see forwarded.JudgePath), never a query
	PathParams         bool   // a segment held ";params", cut from Path: refused unless the resource accepts them
	Preflight          bool   // CORS preflight: OPTIONS with Origin and Access-Control-Request-Method
	MCPProtocolVersion string // MCP-Protocol-Version header value ("" when absent)
	MCPMethod          string // Mcp-Method header value
	MCPName            string // Mcp-Name header value
}

// Input is one decision's input.
type Input struct {
	Request
	Identity          *Identity // nil: no valid credential
	CredentialInvalid bool      // a credential was presented and failed verification (Identity is nil then)
}

// Config is the policy: a list of resources (YAML/JSON tags, snake_case, used by the policy file).
type Config struct {
	Resources []ResourceConfig `json:"resources"`
	// ScopeImplications maps a broader scope to the narrower scopes it implies; the
	// relation is transitive. Nil means [DefaultScopeImplications]; an empty map means
	// no implications.
	ScopeImplications map[string][]string `json:"scope_implications,omitempty"`
	// IssuerAudiences maps each external JWT issuer the caller verifies tokens of to the
	// audiences it verifies for that issuer (auth.IssuerConfig.Audiences). With it, [New]
	// refuses a resource that accepts jwt credentials but could never match an audience
	// of the issuers it accepts, and a jwt_issuers entry that names no such issuer. Nil
	// means the caller verifies no external JWTs, and New checks nothing about issuers.
	// It is not part of the policy file: the issuers are configured beside it.
	IssuerAudiences map[string][]string `json:"-"`
}

// DefaultScopeImplications returns a fresh copy of the implications used when
// [Config.ScopeImplications] is nil: mcp:write implies mcp:read (the MCP 2026-07-28
// authorization spec requires scope hierarchies to be honoured).
func DefaultScopeImplications() map[string][]string {
	return map[string][]string{"mcp:write": {"mcp:read"}}
}

// ResourceConfig is one protected resource in a [Config].
type ResourceConfig struct {
	URL         string   `json:"url"`                    // canonical resource URL https://mcp.example.com/mcp (RFC 8707 audience); http or https, absolute, no query/fragment/userinfo
	Hosts       []string `json:"hosts,omitempty"`        // extra host names this resource answers for; "*" = any host
	Paths       []string `json:"paths,omitempty"`        // protected path prefixes; default: [the URL's path] (or "/" when the URL path is empty)
	PublicPaths []string `json:"public_paths,omitempty"` // prefixes that pass without credentials (explicit, never a fallback)
	Credentials []Source `json:"credentials,omitempty"`  // accepted credential kinds; empty = every kind except anonymous
	Anonymous   bool     `json:"anonymous,omitempty"`    // requests without a credential may pass when no requirement applies
	Mode        Mode     `json:"mode,omitempty"`         // strict (default), optional or permissive, as in agentgateway
	JWTIssuers  []string `json:"jwt_issuers,omitempty"`  // issuers whose tokens this resource accepts; empty = every configured issuer
	// Audiences are the token audiences this resource accepts besides its URL (RFC 8707).
	// A jwt or oauth identity passes only with an aud equal to the URL (as canonicalized,
	// or exactly as configured) or to one of these, so a token minted for one resource
	// never opens another unless that resource lists the token's audience here.
	Audiences       []string `json:"audiences,omitempty"`
	RequiredScopes  []string `json:"required_scopes,omitempty"`  // scopes every request needs
	ScopesSupported []string `json:"scopes_supported,omitempty"` // extra scopes for the PRM document
	AllowedEmails   []string `json:"allowed_emails,omitempty"`   // verified emails, case-insensitive
	AllowedDomains  []string `json:"allowed_domains,omitempty"`  // domains of verified emails, case-insensitive
	AllowedGroups   []string `json:"allowed_groups,omitempty"`   // groups, case-sensitive
	// StrictMCPHeaders refuses (403, mcp_headers_untrusted) every request whose
	// Mcp-Method / Mcp-Name headers cannot be trusted: MCP-Protocol-Version older than
	// 2026-07-28, absent or malformed. It holds with or without rules.
	StrictMCPHeaders bool `json:"strict_mcp_headers,omitempty"`
	// InsecureSkipRulesForUntrustedMCPHeaders judges a request whose MCP headers cannot
	// be trusted by the resource-level requirements alone, skipping every rule. By
	// default such a request is judged as the most demanding operation the rules
	// describe: it needs every scope any rule requires, must pass every rule's
	// allowlist, and is refused (mcp_headers_untrusted) when any rule denies (after a
	// 401 challenge, when it has no credential and the resource is not anonymous). With this
	// set, an old client, or one that drops MCP-Protocol-Version, can call a tool a
	// rule denies or restricts: it MUST NOT be set unless the MCP server enforces
	// those restrictions itself. It cannot be combined with StrictMCPHeaders.
	InsecureSkipRulesForUntrustedMCPHeaders bool `json:"insecure_skip_rules_for_untrusted_mcp_headers,omitempty"`
	PreflightRequiresAuth                   bool `json:"preflight_requires_auth,omitempty"`
	// InsecureAllowPathParameters accepts ";params" in the path's segments (Java
	// servlet containers' ;jsessionid) and judges the path with them cut. By default
	// such a path is refused (403, ambiguous_path), because upstream routers disagree
	// on it: Go's ServeMux, Express and Starlette route /mcp/..;/status into /mcp/,
	// while a servlet container serves /status. Set it only for an upstream that cuts
	// ;params itself; dot segments stay refused either way.
	InsecureAllowPathParameters bool           `json:"insecure_allow_path_parameters,omitempty"`
	Rules                       []RuleConfig   `json:"rules,omitempty"`
	Metadata                    map[string]any `json:"metadata,omitempty"` // extra RFC 9728 fields (resource_name, ...); policy only stores it
	// IdentityAssertion, when set, has every 200 carry a signed identity assertion for
	// the upstream (see [IdentityAssertionConfig]).
	IdentityAssertion *IdentityAssertionConfig `json:"identity_assertion,omitempty"`
}

// Mode says how a resource treats requests without a valid credential, as
// agentgateway's JWT modes do.
type Mode string

// The modes.
const (
	// ModeStrict requires a valid credential (unless a path is public or the resource is
	// Anonymous). It is the default.
	ModeStrict Mode = "strict"
	// ModeOptional lets a request without a credential pass as anonymous where no
	// requirement applies; a presented credential must be valid. Risk: the MCP server
	// sees anonymous requests and must treat an empty X-Forwarded-User as no one.
	ModeOptional Mode = "optional"
	// ModePermissive is ModeOptional that also treats an invalid credential as absent.
	// Risk: expired, forged or foreign tokens pass as anonymous instead of failing, so
	// clients never learn to refresh; use it only for migrations.
	ModePermissive Mode = "permissive"
)

// RuleConfig is a per MCP method and tool rule of a resource. It applies by the request's
// Mcp-Method and Mcp-Name when those are trusted (MCP-Protocol-Version 2026-07-28 or
// later); when they are not, every rule of the resource applies at once (see
// [ResourceConfig.InsecureSkipRulesForUntrustedMCPHeaders]).
type RuleConfig struct {
	Name           string   `json:"name,omitempty"`
	Methods        []string `json:"methods,omitempty"` // Mcp-Method values ("tools/call"); empty = any method
	Tools          []string `json:"tools,omitempty"`   // Mcp-Name patterns (path.Match syntax); empty = any name; non-empty requires a non-empty Mcp-Name that matches
	RequiredScopes []string `json:"required_scopes,omitempty"`
	AllowedEmails  []string `json:"allowed_emails,omitempty"`
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	AllowedGroups  []string `json:"allowed_groups,omitempty"`
	Deny           bool     `json:"deny,omitempty"`
}

// Result is the outcome of a decision.
type Result int

// The results: Allow is HTTP 200, Challenge 401, Deny 403.
const (
	Allow Result = iota
	Challenge
	Deny
)

// String returns "allow", "challenge" or "deny".
func (r Result) String() string {
	switch r {
	case Allow:
		return "allow"
	case Challenge:
		return "challenge"
	case Deny:
		return "deny"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Issuers returns the JWT issuers the resource accepts; nil means every configured one.
func (r *Resource) Issuers() []string { return cloneStrings(r.issuers) }

// Reason says why a decision was taken; it is a stable label for logs and metrics.
type Reason string

// The reasons.
const (
	ReasonAllowed               Reason = "allowed"
	ReasonPublicPath            Reason = "public_path"
	ReasonAnonymous             Reason = "anonymous"
	ReasonPreflight             Reason = "preflight"
	ReasonNoResource            Reason = "no_resource"
	ReasonNoCredential          Reason = "no_credential"
	ReasonInvalidCredential     Reason = "invalid_credential"
	ReasonCredentialNotAccepted Reason = "credential_not_accepted"
	ReasonInsufficientScope     Reason = "insufficient_scope"
	ReasonNotAllowed            Reason = "not_allowed" // an allowlist did not match
	ReasonDeniedByRule          Reason = "denied_by_rule"
	ReasonMCPHeadersUntrusted   Reason = "mcp_headers_untrusted"
	ReasonMissingMCPHeader      Reason = "missing_mcp_header" // a trusted version without Mcp-Method, or Mcp-Name where the method has one
	ReasonAudienceMismatch      Reason = "audience_mismatch"  // a token minted for another resource
	ReasonAmbiguousPath         Reason = "ambiguous_path"     // ;params in a path on a resource that does not accept them
)

// Decision is the outcome of [Policy.Decide]. Its slices may be shared with the
// [Policy] and with other decisions: callers must not modify them.
type Decision struct {
	Result   Result
	Reason   Reason
	Resource *Resource // nil when no resource matched
	Scopes   []string  // Challenge / insufficient_scope: ALL scopes the operation needs (resource + applicable rules), for the `scope` challenge param
	Missing  []string  // insufficient_scope: the needed scopes the identity lacks (after implication)
	Rules    []string  // names of the rules that applied ("rules[i]" for an unnamed rule); every rule when the MCP headers are untrusted
	Message  string    // short client-safe English description (goes into error_description)
}

// InvalidToken reports whether d is a Challenge about the credential presented, which
// the challenge reports as error="invalid_token" (RFC 6750 §3.1): it failed
// verification, is of a kind or issuer the resource does not accept, or was minted for
// another resource.
func (d Decision) InvalidToken() bool {
	if d.Result != Challenge {
		return false
	}
	switch d.Reason {
	case ReasonInvalidCredential, ReasonCredentialNotAccepted, ReasonAudienceMismatch:
		return true
	}
	return false
}

// Policy is a compiled, immutable [Config]; it is safe for concurrent use.
type Policy struct {
	resources []*Resource
	byHost    map[string][]*Resource // canonical host -> the resources naming it, in configuration order
	anyHost   []*Resource            // the resources with "*" among their Hosts, in configuration order
	// impliedBy maps a scope to the other scopes that imply it, directly or transitively.
	impliedBy map[string]map[string]struct{}
}

// Resources returns the compiled resources in configuration order.
func (p *Policy) Resources() []*Resource {
	return append([]*Resource(nil), p.resources...)
}

// Resource is a compiled resource.
type Resource struct {
	cfg             ResourceConfig
	url             string
	scheme          string
	host            string
	path            string // "/" for an empty URL path
	metadataURL     string
	hosts           []string // canonical host names, the URL's host first, without duplicates
	anyHost         bool     // "*" is among Hosts
	prefixes        []prefix // longest first; public before protected at equal length
	accepts         uint8    // bit set of sourceBit
	needed          []string // RequiredScopes, deduplicated
	anonymous       bool     // Anonymous, or a mode other than strict
	issuers         []string // JWTIssuers
	audiences       []string // the audiences a token may carry: the URL, as canonicalized and as configured, then Audiences
	gate            Allowlist
	rules           []rule
	scopesSupported []string
	// How a request with untrusted MCP headers is judged: as if every rule applied.
	allNeeded  []string // needed, then every rule's scopes
	allNames   []string // every rule's name
	anyDeny    bool     // a rule denies
	rulesGated bool     // a rule has an allowlist
}

// URL returns the canonical resource URL: scheme and host lower case, default port
// removed, no trailing slash unless the path is "/".
func (r *Resource) URL() string { return r.url }

// Host returns the canonical host of the URL (with its port when not the default one).
func (r *Resource) Host() string { return r.host }

// Path returns the URL path, "/" when the URL has none.
func (r *Resource) Path() string { return r.path }

// MetadataURL returns the RFC 9728 §3.1 path-inserted metadata URL:
// scheme://host/.well-known/oauth-protected-resource followed by the resource path
// (nothing follows when the path is "/").
func (r *Resource) MetadataURL() string { return r.metadataURL }

// ScopesSupported returns, in first-seen order, the union of the resource's
// RequiredScopes, its rules' RequiredScopes and its ScopesSupported, without
// offline_access (MCP 2026-07-28: protected resources SHOULD NOT advertise it).
func (r *Resource) ScopesSupported() []string {
	return append([]string(nil), r.scopesSupported...)
}

// Metadata returns a shallow copy of the extra RFC 9728 fields of the resource.
func (r *Resource) Metadata() map[string]any { return maps.Clone(r.cfg.Metadata) }

// Config returns a copy of the configuration the resource was compiled from.
func (r *Resource) Config() ResourceConfig { return cloneResourceConfig(r.cfg) }

// Accepts reports whether the resource accepts credentials of kind s.
// It is always false for [SourceAnonymous] and for unknown kinds.
func (r *Resource) Accepts(s Source) bool {
	b := sourceBit(s)
	return b != 0 && r.accepts&b != 0
}

// sourceBit maps a credential kind to its bit; 0 for anonymous and unknown kinds.
func sourceBit(s Source) uint8 {
	switch s {
	case SourceOAuth:
		return 1 << 0
	case SourceJWT:
		return 1 << 1
	case SourceAPIKey:
		return 1 << 2
	case SourceProxy:
		return 1 << 3
	case SourceSession:
		return 1 << 4
	case SourceClient:
		return 1 << 5
	}
	return 0
}

// allCredentials is every credential kind, the default of an empty Credentials list.
const allCredentials = 1<<6 - 1

func cloneResourceConfig(c ResourceConfig) ResourceConfig {
	c.Hosts = cloneStrings(c.Hosts)
	c.Paths = cloneStrings(c.Paths)
	c.PublicPaths = cloneStrings(c.PublicPaths)
	c.Credentials = append([]Source(nil), c.Credentials...)
	c.RequiredScopes = cloneStrings(c.RequiredScopes)
	c.ScopesSupported = cloneStrings(c.ScopesSupported)
	c.AllowedEmails = cloneStrings(c.AllowedEmails)
	c.AllowedDomains = cloneStrings(c.AllowedDomains)
	c.AllowedGroups = cloneStrings(c.AllowedGroups)
	c.JWTIssuers = cloneStrings(c.JWTIssuers)
	c.Audiences = cloneStrings(c.Audiences)
	c.Metadata = maps.Clone(c.Metadata)
	if c.IdentityAssertion != nil {
		ia := *c.IdentityAssertion
		c.IdentityAssertion = &ia
	}
	if c.Rules != nil {
		rules := make([]RuleConfig, len(c.Rules))
		for i, rc := range c.Rules {
			rc.Methods = cloneStrings(rc.Methods)
			rc.Tools = cloneStrings(rc.Tools)
			rc.RequiredScopes = cloneStrings(rc.RequiredScopes)
			rc.AllowedEmails = cloneStrings(rc.AllowedEmails)
			rc.AllowedDomains = cloneStrings(rc.AllowedDomains)
			rc.AllowedGroups = cloneStrings(rc.AllowedGroups)
			rules[i] = rc
		}
		c.Rules = rules
	}
	return c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
