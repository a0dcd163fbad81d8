package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults and bounds of IssuerConfig.
const (
	defaultClockSkew = 60 * time.Second
	// maxClockSkew bounds ClockSkew. go-oidc checks exp and nbf too, with a fixed 5
	// minutes of leeway on nbf; its clock is set back by the skew so that its exp check
	// honours the skew, which leaves it 5m minus the skew on nbf. At most 2m30s keeps
	// that at least the skew, so go-oidc never refuses what the skew allows.
	maxClockSkew = 150 * time.Second
	// presetKeycloak is the IssuerConfig.Preset for Keycloak's role claims.
	presetKeycloak = "keycloak"
)

// defaultAlgorithms are the signature algorithms an issuer accepts unless its
// Algorithms says otherwise: every asymmetric JWS algorithm go-oidc supports
// (RFC 7518 §3.1, RFC 8037).
var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// defaultScopeClaims are the claims scopes are read from unless ScopeClaims says
// otherwise: "scope" (RFC 9068 §2.2.3, RFC 8693 §4.2) and "scp" (Entra ID, Okta).
var defaultScopeClaims = []string{"scope", "scp"}

// defaultClientIDClaims are the claims Principal.ClientID is read from, the first that
// holds a string, unless ClientIDClaim says otherwise: "azp" (OpenID Connect Core §2;
// Keycloak, Auth0, Entra ID v2), "client_id" (RFC 9068 §2.2, RFC 8693 §4.3), "cid"
// (Okta) and "appid" (Entra ID v1). Never "aud": in an access token it names the
// resource, not the client.
var defaultClientIDClaims = []string{"azp", "client_id", "cid", "appid"}

// IssuerConfig is one trusted external issuer (Keycloak, Auth0, Entra ID, Okta, Dex...).
// The JSON names are those of the policy file.
//
// Claim names (UserClaim, EmailClaim, GroupsClaim, ScopeClaims) are looked up as a
// top-level claim first, so namespaced names such as Auth0's "https://example.com/roles"
// work; when there is no such claim, a name with dots is a path into nested objects
// ("realm_access.roles").
type IssuerConfig struct {
	// Issuer is the exact iss value of the issuer's tokens, compared byte for byte (a
	// trailing slash matters): an https URL without query or fragment; http only for
	// loopback hosts (localhost, 127.0.0.0/8, ::1).
	Issuer string `json:"issuer"`
	// Audiences are the accepted audiences; at least one is required. A token whose aud
	// holds none of them is invalid. For MCP, the resource URL (RFC 8707) is the natural
	// audience.
	Audiences []string `json:"audiences"`
	// JWKSURI is the issuer's key set URL (same scheme rules as Issuer, query allowed).
	// When empty, OIDC discovery finds it: <Issuer>/.well-known/openid-configuration,
	// whose issuer must equal Issuer.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Algorithms is the allowlist of signature algorithms; default RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA. HS256/384/512 and none are
	// refused: a verifier holding only public keys must never accept a MAC.
	Algorithms []string `json:"algorithms,omitempty"`
	// Preset is "" or "keycloak". The keycloak preset reads groups from
	// realm_access.roles (unless GroupsClaim is set) and adds the roles of
	// resource_access.<ClientID>.roles to the scopes (when ClientID is set).
	Preset string `json:"preset,omitempty"`
	// ClientID is the Keycloak client whose roles the keycloak preset reads; only with
	// that preset.
	ClientID string `json:"client_id,omitempty"`
	// UserClaim names the claim that becomes Principal.Subject; default "sub". A token
	// without it (a non-empty printable string) is invalid.
	UserClaim string `json:"user_claim,omitempty"`
	// EmailClaim names the email claim; default "email".
	EmailClaim string `json:"email_claim,omitempty"`
	// GroupsClaim names the groups claim (a string or a list of strings); default
	// "groups". Groups with commas or control characters are ignored.
	GroupsClaim string `json:"groups_claim,omitempty"`
	// ClientIDClaim names the claim that becomes Principal.ClientID (X-Auth-Client-Id).
	// Default: the first of azp, client_id, cid (Okta) and appid (Entra ID v1) that holds
	// a printable string; aud is never used. Not to be confused with ClientID, the
	// keycloak preset's client.
	ClientIDClaim string `json:"client_id_claim,omitempty"`
	// ScopeClaims name the claims scopes are read from; default ["scope", "scp"]. Each
	// may be a space-separated string or a list of strings; "roles" (Entra ID app roles)
	// and "permissions" (Auth0 RBAC) are common additions. Values that are not RFC 6749
	// §3.3 scope tokens are ignored.
	ScopeClaims []string `json:"scope_claims,omitempty"`
	// EmailsVerified declares that the issuer verifies every email it puts in a token:
	// an email then counts as verified unless the token says email_verified: false.
	// Otherwise an email counts only with email_verified: true. Either way the email is
	// reported in Principal.Email; policy counts it only when EmailVerified is set.
	EmailsVerified bool `json:"emails_verified,omitempty"`
	// ClockSkew is the leeway allowed on exp, nbf and iat; default 60s, at most 2m30s.
	ClockSkew Duration `json:"clock_skew,omitempty"`
	// Optional issuers are not waited for: Ready does not fail while their keys are not
	// loaded (their tokens are invalid until then).
	Optional bool `json:"optional,omitempty"`
}

// Duration is a time.Duration written in configuration as a Go duration string ("30s",
// "1m30s"); a JSON number is refused, so no one configures 30 nanoseconds by accident.
type Duration time.Duration

// String returns d in time.Duration's format.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; JSON and YAML strings use it.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("auth: %q is not a duration such as 30s or 1m30s", b)
	}
	*d = Duration(v)
	return nil
}

// compileIssuer validates c, the i-th configured issuer, and returns it ready to run.
func compileIssuer(i int, c IssuerConfig) (*issuer, error) {
	if c.Issuer == "" {
		return nil, fmt.Errorf("auth: jwt issuers[%d]: issuer: required", i)
	}
	field := func(name, format string, args ...any) error {
		return fmt.Errorf("auth: jwt issuer %q: %s: %s", c.Issuer, name, fmt.Sprintf(format, args...))
	}
	if err := checkIssuerURL(c.Issuer); err != nil {
		return nil, field("issuer", "%v", err)
	}
	is := &issuer{
		name:           c.Issuer,
		jwksURI:        c.JWKSURI,
		emailsVerified: c.EmailsVerified,
		optional:       c.Optional,
		skew:           time.Duration(c.ClockSkew),
	}
	if len(c.Audiences) == 0 {
		return nil, field("audiences", "at least one is required")
	}
	for _, a := range c.Audiences {
		if err := checkAudience(a); err != nil {
			return nil, field("audiences", "%v", err)
		}
		if !slices.Contains(is.audiences, a) {
			is.audiences = append(is.audiences, a)
		}
	}
	if c.JWKSURI != "" {
		if err := checkFetchURL(c.JWKSURI); err != nil {
			return nil, field("jwks_uri", "%v", err)
		}
	}
	is.algs = slices.Clone(c.Algorithms)
	if len(is.algs) == 0 {
		is.algs = slices.Clone(defaultAlgorithms)
	}
	for _, a := range is.algs {
		switch {
		case slices.Contains(defaultAlgorithms, a):
		case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
			return nil, field("algorithms", "%q refused: only asymmetric algorithms are accepted", a)
		default:
			return nil, field("algorithms", "%q is not one of %s", a, strings.Join(defaultAlgorithms, ", "))
		}
	}
	switch {
	case is.skew < 0:
		return nil, field("clock_skew", "must not be negative")
	case is.skew > maxClockSkew:
		return nil, field("clock_skew", "%v is more than %v", is.skew, maxClockSkew)
	case is.skew == 0:
		is.skew = defaultClockSkew
	}

	claims := []struct {
		name string
		val  *string
		def  string
	}{
		{"user_claim", &c.UserClaim, "sub"},
		{"email_claim", &c.EmailClaim, "email"},
		{"groups_claim", &c.GroupsClaim, "groups"},
	}
	switch c.Preset {
	case "":
		if c.ClientID != "" {
			return nil, field("client_id", "only used by the keycloak preset")
		}
	case presetKeycloak:
		claims[2].def = "realm_access.roles"
	default:
		return nil, field("preset", "%q is not \"\" or %q", c.Preset, presetKeycloak)
	}
	for _, cl := range claims {
		if *cl.val == "" {
			*cl.val = cl.def
		} else if !validClaimName(*cl.val) {
			return nil, field(cl.name, "%q is not a claim name", *cl.val)
		}
	}
	is.userClaim, is.emailClaim, is.groupsClaim = newClaimPath(c.UserClaim), newClaimPath(c.EmailClaim), newClaimPath(c.GroupsClaim)
	clientIDs := defaultClientIDClaims
	if c.ClientIDClaim != "" {
		if !validClaimName(c.ClientIDClaim) {
			return nil, field("client_id_claim", "%q is not a claim name", c.ClientIDClaim)
		}
		clientIDs = []string{c.ClientIDClaim}
	}
	for _, name := range clientIDs {
		is.clientIDClaims = append(is.clientIDClaims, newClaimPath(name))
	}
	scopes := c.ScopeClaims
	if len(scopes) == 0 {
		scopes = defaultScopeClaims
	}
	for j, s := range scopes {
		if !validClaimName(s) {
			return nil, field(fmt.Sprintf("scope_claims[%d]", j), "%q is not a claim name", s)
		}
		is.scopeClaims = append(is.scopeClaims, newClaimPath(s))
	}
	if c.Preset == presetKeycloak && c.ClientID != "" {
		if !validClaimName(c.ClientID) {
			return nil, field("client_id", "%q is not a client id", c.ClientID)
		}
		// A path of segments, not a dotted name: client ids may contain dots.
		is.scopeClaims = append(is.scopeClaims, claimPath{segs: []string{"resource_access", c.ClientID, "roles"}})
	}
	return is, nil
}

// validClaimName reports whether s can name a claim: 1-256 bytes of UTF-8 without
// control characters.
func validClaimName(s string) bool {
	return s != "" && len(s) <= maxNameLen && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// ParseIssuersEnv parses JWT_ISSUERS: comma-separated issuer=audience pairs, the
// oauth2-proxy --extra-jwt-issuers convention. Each pair is split at its last '='. A
// repeated issuer adds an audience to the first entry for it, so
//
//	https://idp.example.com=https://mcp.example.com/mcp,https://idp.example.com=api://mcp
//
// is one issuer with two audiences. Spaces around pairs and their parts are ignored; an
// empty string gives no issuers. An empty pair, a pair without '=', an empty issuer or
// audience, and an issuer that is not an https URL (http only for loopback hosts) are
// errors. Everything else takes its default; the policy file gives the full form.
func ParseIssuersEnv(s string) ([]IssuerConfig, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []IssuerConfig
	index := map[string]int{}
	for i, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			return nil, fmt.Errorf("auth: jwt issuers: pair %d: empty (a stray comma?)", i+1)
		}
		j := strings.LastIndexByte(pair, '=')
		if j < 0 {
			return nil, fmt.Errorf("auth: jwt issuers: pair %d (%q): want issuer=audience", i+1, pair)
		}
		iss, aud := strings.TrimSpace(pair[:j]), strings.TrimSpace(pair[j+1:])
		switch {
		case iss == "":
			return nil, fmt.Errorf("auth: jwt issuers: pair %d (%q): empty issuer", i+1, pair)
		case aud == "":
			return nil, fmt.Errorf("auth: jwt issuers: pair %d (%q): empty audience", i+1, pair)
		}
		if err := checkIssuerURL(iss); err != nil {
			return nil, fmt.Errorf("auth: jwt issuers: pair %d: issuer: %w", i+1, err)
		}
		if err := checkAudience(aud); err != nil {
			return nil, fmt.Errorf("auth: jwt issuers: pair %d: audience: %w", i+1, err)
		}
		if k, ok := index[iss]; ok {
			if !slices.Contains(out[k].Audiences, aud) {
				out[k].Audiences = append(out[k].Audiences, aud)
			}
			continue
		}
		index[iss] = len(out)
		out = append(out, IssuerConfig{Issuer: iss, Audiences: []string{aud}})
	}
	return out, nil
}

// IssuerAudiences maps each issuer of issuers to the audiences its tokens are verified
// against, in order and without duplicates: the form policy.Config.IssuerAudiences takes,
// so that policy can refuse at start-up a resource no accepted issuer could ever reach.
// An issuer listed twice gets the audiences of both entries (NewJWTVerifier refuses such
// a list anyway).
func IssuerAudiences(issuers []IssuerConfig) map[string][]string {
	m := make(map[string][]string, len(issuers))
	for _, ic := range issuers {
		auds := m[ic.Issuer]
		for _, a := range ic.Audiences {
			if !slices.Contains(auds, a) {
				auds = append(auds, a)
			}
		}
		m[ic.Issuer] = auds
	}
	return m
}

// checkIssuerURL checks an issuer identifier (OpenID Connect Discovery 1.0 §2): an
// https URL with a host and no userinfo, query or fragment; http only for loopback.
func checkIssuerURL(s string) error {
	u, err := checkURL(s)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%q must not have a query", s)
	}
	return nil
}

// checkFetchURL checks a URL mcpguard fetches keys from: an https URL with a host and
// no userinfo or fragment; http only for loopback.
func checkFetchURL(s string) error {
	_, err := checkURL(s)
	return err
}

// checkURL holds the rules checkIssuerURL and checkFetchURL share.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%q is not an absolute URL", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not have userinfo", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("%q must not have a fragment", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
	default:
		return nil, fmt.Errorf("%q is not an https URL (http only for loopback hosts)", s)
	}
	return u, nil
}

// IsLoopbackHost reports whether host, a URL's host without its port (as
// url.URL.Hostname returns it), names this machine without a name lookup, so that plain
// http to it never leaves the machine: an IPv4 literal in 127.0.0.0/8, the IPv6 literal
// ::1 (bracketed or not), or the name localhost in any letter case (RFC 8252 §7.3 and
// §8.3; RFC 6761 §6.3 lets applications treat localhost as loopback). Nothing else is:
// not names under .localhost nor "localhost." (RFC 6761 lets resolvers, not every
// resolver, answer them with loopback), not IPv4 addresses mapped into IPv6
// (::ffff:127.0.0.1), not zoned addresses.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")
	if bracketed {
		host = host[1 : len(host)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return false
	}
	if a.Is4() {
		return !bracketed && a.IsLoopback()
	}
	return a == netip.IPv6Loopback()
}

// checkAudience checks an accepted audience: non-empty, no space or control character.
func checkAudience(a string) error {
	if a == "" || len(a) > 1024 || !utf8.ValidString(a) || strings.ContainsFunc(a, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) {
		return fmt.Errorf("%q is not an audience (1-1024 characters, no space or control character)", a)
	}
	return nil
}

// errCrossOriginRedirect stops the default fetch client from following a redirect to
// another origin.
var errCrossOriginRedirect = errors.New("auth: jwt: redirect to another origin refused")

// defaultFetchClient returns the client used when JWTConfig.HTTPClient is nil.
func defaultFetchClient() *http.Client {
	return &http.Client{
		Timeout: defaultFetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("auth: jwt: more than 3 redirects")
			}
			if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
				return errCrossOriginRedirect
			}
			return nil
		},
	}
}
