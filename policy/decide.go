package policy

import (
	"path"
	"slices"
	"strings"
)

// prefix is a compiled path prefix of a resource.
type prefix struct {
	path   string // no trailing slash, except "/" itself
	public bool
}

// toolPattern is a compiled Mcp-Name pattern. The two common shapes skip path.Match: a
// literal name, and a literal prefix followed by one final '*' ("delete_*").
type toolPattern struct {
	pattern string
	kind    patternKind
}

type patternKind uint8

const (
	patternGlob   patternKind = iota // anything else: path.Match
	patternExact                     // no metacharacter
	patternPrefix                    // pattern[:len-1] is literal, the last byte is '*'
)

func compileToolPattern(pat string) toolPattern {
	const meta = `*?[\`
	switch {
	case !strings.ContainsAny(pat, meta):
		return toolPattern{pattern: pat, kind: patternExact}
	case strings.HasSuffix(pat, "*") && !strings.ContainsAny(pat[:len(pat)-1], meta):
		return toolPattern{pattern: pat[:len(pat)-1], kind: patternPrefix}
	}
	return toolPattern{pattern: pat, kind: patternGlob}
}

// match reports whether name matches, with path.Match semantics: '*' never matches '/'.
func (t toolPattern) match(name string) bool {
	switch t.kind {
	case patternExact:
		return name == t.pattern
	case patternPrefix:
		return strings.HasPrefix(name, t.pattern) && strings.IndexByte(name[len(t.pattern):], '/') < 0
	}
	ok, _ := path.Match(t.pattern, name)
	return ok
}

// rule is a compiled RuleConfig.
type rule struct {
	names   []string // the one name reported in Decision.Rules, shared
	methods []string
	tools   []toolPattern
	scopes  []string // RequiredScopes, deduplicated
	needed  []string // the resource's needed scopes followed by scopes: needed when this rule alone applies
	gate    Allowlist
	deny    bool
}

// Client-safe messages for Decision.Message.
const (
	msgAllowed               = "access granted"
	msgPublicPath            = "public path"
	msgAnonymous             = "anonymous access granted"
	msgPreflight             = "CORS preflight"
	msgNoResource            = "no protected resource matches this request"
	msgNoCredential          = "authentication required"
	msgInvalidCredential     = "the credential presented is not valid"
	msgCredentialNotAccepted = "this kind of credential is not accepted for this resource"
	msgInsufficientScope     = "the credential lacks a scope this request requires"
	msgNotAllowed            = "you are not allowed to access this resource"
	msgDeniedByRule          = "this operation is denied by policy"
	msgMCPHeadersUntrusted   = "this resource requires MCP-Protocol-Version 2026-07-28 or later"
	msgAmbiguousPath         = "upstream routers disagree on paths with ;params: this resource refuses them"
	msgMissingMCPHeader      = "MCP-Protocol-Version 2026-07-28 and later require the Mcp-Method header, and Mcp-Name for tools/call, prompts/get and resources/read"
	msgAudienceMismatch      = "token audience is not this resource"
)

// minTrustedMCPVersion is the first MCP revision whose servers must reject requests whose
// Mcp-Method / Mcp-Name headers disagree with the body, so the headers can be trusted.
const minTrustedMCPVersion = "2026-07-28"

// Decide decides one request. It never fails: an unknown host or path is denied. In order:
//
//  1. Match the resource by host and path prefix (the exact host, then the host without
//     its port, then "*"; within each, the longest prefix wins, then configuration
//     order); none: Deny, ReasonNoResource.
//  2. A path with ;params (Request.PathParams) unless InsecureAllowPathParameters: Deny,
//     ReasonAmbiguousPath. A path whose longest matching prefix is public: Allow,
//     ReasonPublicPath.
//  3. A CORS preflight (an OPTIONS request) unless PreflightRequiresAuth: Allow, ReasonPreflight.
//  4. Mcp-Method / Mcp-Name are trusted only with MCP-Protocol-Version 2026-07-28 or
//     later. Untrusted with StrictMCPHeaders: Deny, ReasonMCPHeadersUntrusted. On a
//     resource with rules: a trusted GET, HEAD or DELETE without Mcp-Method carries no
//     MCP message and is judged by the resource's rules; any other trusted request without Mcp-Method, or without Mcp-Name for
//     tools/call, prompts/get or resources/read: Deny, ReasonMissingMCPHeader; trusted,
//     the rules that match the headers apply; untrusted, every rule applies (unless
//     InsecureSkipRulesForUntrustedMCPHeaders). The needed scopes are the resource's
//     and the applicable rules'.
//  5. No identity: Challenge ReasonInvalidCredential when a credential failed; Deny
//     ReasonMCPHeadersUntrusted on an anonymous resource when every rule applies and one
//     denies; Allow ReasonAnonymous for an anonymous resource with nothing required;
//     Deny ReasonDeniedByRule when a rule matching trusted headers denies; otherwise
//     Challenge ReasonNoCredential (so an old client still discovers the resource).
//  6. A credential kind or token issuer the resource does not accept: Challenge
//     ReasonCredentialNotAccepted; a jwt or oauth token none of whose audiences is the
//     resource URL or in its Audiences: Challenge ReasonAudienceMismatch.
//  7. Every rule applies and one denies: Deny ReasonMCPHeadersUntrusted. An applicable
//     rule that denies: Deny ReasonDeniedByRule.
//  8. An allowlist (the resource's, each applicable rule's) that does not admit the
//     identity: Deny ReasonNotAllowed.
//  9. Needed scopes the identity lacks after implication (unless AllScopes): Deny
//     ReasonInsufficientScope.
//  10. Allow, ReasonAllowed.
//
// Decide does not allocate on the allow path unless two or more rules match trusted
// headers, the request host is not canonical, or an allowlist is checked against an
// identity email that is not lower case.
func (p *Policy) Decide(in Input) Decision {
	r, public := p.match(canonicalRequestHost(in.Host), in.Path)
	if r == nil {
		return Decision{Result: Deny, Reason: ReasonNoResource, Message: msgNoResource}
	}
	d := Decision{Resource: r}
	if in.PathParams && !r.cfg.InsecureAllowPathParameters {
		return d.with(Deny, ReasonAmbiguousPath, msgAmbiguousPath)
	}
	if public {
		return d.with(Allow, ReasonPublicPath, msgPublicPath)
	}
	if in.Preflight && in.Method == "OPTIONS" && !r.cfg.PreflightRequiresAuth {
		return d.with(Allow, ReasonPreflight, msgPreflight)
	}

	trusted := trustedMCPVersion(in.MCPProtocolVersion)
	if !trusted && r.cfg.StrictMCPHeaders {
		return d.with(Deny, ReasonMCPHeadersUntrusted, msgMCPHeadersUntrusted)
	}
	var buf [8]int
	applied := buf[:0]
	allRules := false // untrusted headers: judged as if every rule applied
	switch {
	case len(r.rules) == 0:
	case trusted && in.MCPMethod == "" && carriesNoMessage(in.Method):
		// A GET (the server's SSE stream), HEAD or DELETE (the end of a session)
		// carries no JSON-RPC message, so no method or tool rule describes it: the
		// resource's rules judge it.
	case trusted:
		if in.MCPMethod == "" || (in.MCPName == "" && namedMethod(in.MCPMethod)) {
			return d.with(Deny, ReasonMissingMCPHeader, msgMissingMCPHeader)
		}
		for i := range r.rules {
			if r.rules[i].applies(in.MCPMethod, in.MCPName) {
				applied = append(applied, i)
			}
		}
	case !r.cfg.InsecureSkipRulesForUntrustedMCPHeaders:
		allRules = true
	}
	untrustedDeny := allRules && r.anyDeny // some operation is denied: refused, after the credential checks
	needed, denied, gated := r.needed, false, r.gate.active
	switch {
	case allRules:
		needed, d.Rules = r.allNeeded, r.allNames
		gated = gated || r.rulesGated
	case len(applied) == 0:
	case len(applied) == 1:
		ru := &r.rules[applied[0]]
		needed, d.Rules = ru.needed, ru.names
		denied, gated = ru.deny, gated || ru.gate.active
	default:
		needed = r.needed[:len(r.needed):len(r.needed)] // the first append copies
		d.Rules = make([]string, 0, len(applied))
		for _, i := range applied {
			ru := &r.rules[i]
			needed = dedupe(needed, ru.scopes)
			d.Rules = append(d.Rules, ru.names[0])
			denied = denied || ru.deny
			gated = gated || ru.gate.active
		}
	}

	id := in.Identity
	if id == nil {
		switch {
		case in.CredentialInvalid && r.cfg.Mode != ModePermissive:
			d.Scopes = needed
			return d.with(Challenge, ReasonInvalidCredential, msgInvalidCredential)
		case untrustedDeny && r.anonymous:
			return d.with(Deny, ReasonMCPHeadersUntrusted, msgMCPHeadersUntrusted)
		case r.anonymous && !denied && len(needed) == 0 && !gated:
			return d.with(Allow, ReasonAnonymous, msgAnonymous)
		case denied:
			return d.with(Deny, ReasonDeniedByRule, msgDeniedByRule)
		}
		d.Scopes = needed
		return d.with(Challenge, ReasonNoCredential, msgNoCredential)
	}
	if !r.Accepts(id.Source) || !r.acceptsIssuer(id) {
		d.Scopes = needed
		return d.with(Challenge, ReasonCredentialNotAccepted, msgCredentialNotAccepted)
	}
	if !r.acceptsAudience(id) {
		d.Scopes = needed
		return d.with(Challenge, ReasonAudienceMismatch, msgAudienceMismatch)
	}
	if untrustedDeny {
		return d.with(Deny, ReasonMCPHeadersUntrusted, msgMCPHeadersUntrusted)
	}
	if denied {
		return d.with(Deny, ReasonDeniedByRule, msgDeniedByRule)
	}
	if gated {
		email, domain := verifiedEmail(id)
		ok := r.gate.admits(id, email, domain)
		if allRules {
			for i := range r.rules {
				ok = ok && r.rules[i].gate.admits(id, email, domain)
			}
		}
		for _, i := range applied {
			ok = ok && r.rules[i].gate.admits(id, email, domain)
		}
		if !ok {
			return d.with(Deny, ReasonNotAllowed, msgNotAllowed)
		}
	}
	if !id.AllScopes && len(needed) > 0 {
		if m := p.missing(needed, id.Scopes); m != nil {
			d.Scopes, d.Missing = needed, m
			return d.with(Deny, ReasonInsufficientScope, msgInsufficientScope)
		}
	}
	return d.with(Allow, ReasonAllowed, msgAllowed)
}

// carriesNoMessage reports whether a streamable HTTP request of this HTTP method never
// carries a JSON-RPC message: GET opens the server's stream, DELETE ends a session.
func carriesNoMessage(method string) bool {
	return method == "GET" || method == "HEAD" || method == "DELETE"
}

// namedMethod reports whether an MCP method must carry Mcp-Name (MCP 2026-07-28
// streamable HTTP: the tool, prompt or resource it names).
func namedMethod(method string) bool {
	switch method {
	case "tools/call", "prompts/get", "resources/read":
		return true
	}
	return false
}

func (d Decision) with(res Result, reason Reason, msg string) Decision {
	d.Result, d.Reason, d.Message = res, reason, msg
	return d
}

// trustedMCPVersion reports whether v is a valid YYYY-MM-DD date no earlier than
// 2026-07-28, the first MCP revision that makes servers validate Mcp-Method and
// Mcp-Name against the body.
func trustedMCPVersion(v string) bool {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i != 4 && i != 7 && (v[i] < '0' || v[i] > '9') {
			return false
		}
	}
	year := int(v[0]-'0')*1000 + int(v[1]-'0')*100 + int(v[2]-'0')*10 + int(v[3]-'0')
	month := int(v[5]-'0')*10 + int(v[6]-'0')
	day := int(v[8]-'0')*10 + int(v[9]-'0')
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return false
	}
	return v >= minTrustedMCPVersion
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// applies reports whether the rule matches the (trusted) Mcp-Method and Mcp-Name.
func (ru *rule) applies(method, name string) bool {
	if len(ru.methods) > 0 && !slices.Contains(ru.methods, method) {
		return false
	}
	if len(ru.tools) == 0 {
		return true
	}
	if name == "" {
		return false
	}
	for _, t := range ru.tools {
		if t.match(name) {
			return true
		}
	}
	return false
}

// verifiedEmail returns the identity's email, lower case, and its domain when the email
// is verified and parses strictly; empty strings otherwise.
func verifiedEmail(id *Identity) (email, domain string) {
	if !id.EmailVerified || id.Email == "" {
		return "", ""
	}
	_, domain, why := parseEmail(id.Email)
	if why != "" {
		return "", ""
	}
	return lowerASCII(id.Email), domain
}

// acceptsIssuer checks a jwt identity's issuer against the resource's jwt_issuers.
func (r *Resource) acceptsIssuer(id *Identity) bool {
	return id.Source != SourceJWT || len(r.issuers) == 0 || contains(r.issuers, id.Issuer)
}

// acceptsAudience checks that a token identity (jwt, oauth or client) carries one of the
// resource's audiences: its URL or one of Audiences (RFC 8707 §2: a token minted for
// another resource is not accepted here).
func (r *Resource) acceptsAudience(id *Identity) bool {
	if id.Source != SourceJWT && id.Source != SourceOAuth && id.Source != SourceClient {
		return true
	}
	for _, a := range id.Audiences {
		if contains(r.audiences, a) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
