package policy

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// New validates c and compiles it into a [Policy]. Errors name the resource (index and
// URL) and the field at fault:
//
//	policy: resources[1] (https://x/mcp): allowed_emails: "a@b@c" is not an email address
func New(c Config) (*Policy, error) {
	if len(c.Resources) == 0 {
		return nil, errors.New("policy: no resources configured")
	}
	impl := c.ScopeImplications
	if impl == nil {
		impl = DefaultScopeImplications()
	}
	impliedBy, err := compileImplications(impl)
	if err != nil {
		return nil, err
	}
	p := &Policy{impliedBy: impliedBy, byHost: make(map[string][]*Resource)}
	seen := make(map[string]int, len(c.Resources))
	for i, rc := range c.Resources {
		r, err := compileResource(i, rc)
		if err != nil {
			return nil, err
		}
		key := r.scheme + "://" + r.host + r.path // https://x and https://x/ are one resource
		if j, dup := seen[key]; dup {
			return nil, &FieldError{Resource: i, Field: "url",
				msg: fmt.Sprintf("policy: resources[%d] (%s): url: duplicate of resources[%d]", i, rc.URL, j)}
		}
		seen[key] = i
		if c.IssuerAudiences != nil {
			if err := r.checkIssuers(i, c.IssuerAudiences); err != nil {
				return nil, err
			}
		}
		p.resources = append(p.resources, r)
		for _, h := range r.hosts {
			p.byHost[h] = append(p.byHost[h], r)
		}
		if r.anyHost {
			p.anyHost = append(p.anyHost, r)
		}
	}
	return p, nil
}

// FieldError is a validation error of [New]. It names the resource and the field at
// fault, so a caller can point at its own source of that field (a policy file line, an
// environment variable).
type FieldError struct {
	// Resource is the index in Config.Resources.
	Resource int
	// Field is the ResourceConfig field's YAML name, prefixed with "rules[j]." inside a rule.
	Field string
	msg   string
	err   error
}

// Error returns the message, which starts with "policy: resources[i] (url): field: ".
func (e *FieldError) Error() string { return e.msg }

// Unwrap returns the underlying cause, if any.
func (e *FieldError) Unwrap() error { return e.err }

// fieldError builds validation errors that name where in the configuration they are.
type fieldError struct {
	where  string // "resources[1] (https://x/mcp)" or "...: rules[0] (name)"
	index  int    // the resource index
	prefix string // "rules[j]." inside a rule
}

func (w fieldError) errorf(field, format string, args ...any) error {
	return &FieldError{Resource: w.index, Field: w.prefix + field,
		msg: fmt.Sprintf("policy: %s: %s: %s", w.where, field, fmt.Sprintf(format, args...))}
}

func (w fieldError) wrapf(err error, field, format string, args ...any) error {
	return &FieldError{Resource: w.index, Field: w.prefix + field, err: err,
		msg: fmt.Sprintf("policy: %s: %s: %s: %v", w.where, field, fmt.Sprintf(format, args...), err)}
}

func compileResource(i int, rc ResourceConfig) (*Resource, error) {
	where := fieldError{where: fmt.Sprintf("resources[%d] (%s)", i, rc.URL), index: i}
	if rc.URL == "" {
		where.where = fmt.Sprintf("resources[%d]", i)
	}
	rc = cloneResourceConfig(rc) // the compiled resource owns every slice it keeps
	r := &Resource{cfg: rc}
	if err := r.parseURL(where, rc.URL); err != nil {
		return nil, err
	}
	if err := compileAssertion(where, r.cfg.IdentityAssertion); err != nil {
		return nil, err
	}

	r.hosts = []string{r.host}
	for _, h := range rc.Hosts {
		if h == "*" {
			r.anyHost = true
			continue
		}
		ch, ok := canonicalConfigHost(h, r.scheme)
		if !ok {
			return nil, where.errorf("hosts", "%q is not a host name", h)
		}
		if !slices.Contains(r.hosts, ch) {
			r.hosts = append(r.hosts, ch)
		}
	}

	paths := rc.Paths
	if len(paths) == 0 {
		paths = []string{r.path}
	}
	for _, field := range []struct {
		name   string
		list   []string
		public bool
	}{{"paths", paths, false}, {"public_paths", rc.PublicPaths, true}} {
		for _, pp := range field.list {
			cp, why := cleanPrefix(pp)
			if why != "" {
				return nil, where.errorf(field.name, "%q %s", pp, why)
			}
			r.prefixes = append(r.prefixes, prefix{path: cp, public: field.public})
		}
	}
	// Longest prefix first, so a protected path nested in a public one stays protected.
	// At equal length a public prefix comes first: an explicit public path overrides the
	// default protected path taken from the URL.
	sort.SliceStable(r.prefixes, func(a, b int) bool {
		pa, pb := r.prefixes[a], r.prefixes[b]
		if len(pa.path) != len(pb.path) {
			return len(pa.path) > len(pb.path)
		}
		return pa.public && !pb.public
	})

	if len(rc.Credentials) == 0 {
		r.accepts = allCredentials
	}
	for _, s := range rc.Credentials {
		if s == SourceAnonymous {
			return nil, where.errorf("credentials", "%q is not a credential kind: use anonymous: true", s)
		}
		b := sourceBit(s)
		if b == 0 {
			return nil, where.errorf("credentials", "unknown credential kind %q", s)
		}
		r.accepts |= b
	}

	switch rc.Mode {
	case "", ModeStrict:
		r.anonymous = rc.Anonymous
	case ModeOptional, ModePermissive:
		r.anonymous = true
	default:
		return nil, where.errorf("mode", "%q is not strict, optional or permissive", rc.Mode)
	}
	for _, iss := range rc.JWTIssuers {
		if u, err := url.Parse(iss); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, where.errorf("jwt_issuers", "%q is not an issuer URL", iss)
		}
	}
	for _, a := range rc.Audiences {
		if a == "" || strings.ContainsAny(a, " \t\r\n") {
			return nil, where.errorf("audiences", "%q is not an audience", a)
		}
	}
	r.issuers = rc.JWTIssuers
	r.audiences = dedupe([]string{r.url}, []string{rc.URL})
	r.audiences = dedupe(r.audiences, rc.Audiences)
	if rc.StrictMCPHeaders && rc.InsecureSkipRulesForUntrustedMCPHeaders {
		return nil, where.errorf("insecure_skip_rules_for_untrusted_mcp_headers", "contradicts strict_mcp_headers: choose one")
	}
	if err := checkScopes(where, "required_scopes", rc.RequiredScopes); err != nil {
		return nil, err
	}
	if err := checkScopes(where, "scopes_supported", rc.ScopesSupported); err != nil {
		return nil, err
	}
	r.needed = dedupe(nil, rc.RequiredScopes)

	var err error
	if r.gate, err = compileGate(where, rc.AllowedEmails, rc.AllowedDomains, rc.AllowedGroups); err != nil {
		return nil, err
	}

	supported := dedupe(nil, rc.RequiredScopes)
	for j, ruc := range rc.Rules {
		ru, err := compileRule(where, j, ruc, r.needed)
		if err != nil {
			return nil, err
		}
		r.rules = append(r.rules, ru)
		supported = dedupe(supported, ru.scopes)
		r.allNames = append(r.allNames, ru.names[0])
		r.anyDeny = r.anyDeny || ru.deny
		r.rulesGated = r.rulesGated || ru.gate.active
	}
	r.allNeeded = r.needed
	for _, ru := range r.rules {
		r.allNeeded = dedupe(r.allNeeded[:len(r.allNeeded):len(r.allNeeded)], ru.scopes)
	}
	supported = dedupe(supported, rc.ScopesSupported)
	r.scopesSupported = supported[:0:0]
	for _, s := range supported {
		if s != "offline_access" {
			r.scopesSupported = append(r.scopesSupported, s)
		}
	}
	return r, nil
}

// checkIssuers checks that the resource, the i-th, can match an audience of the external
// JWT issuers it accepts, given each issuer's verified audiences. An issuer it names in
// jwt_issuers must be configured and verify one of its audiences; when it names none,
// at least one configured issuer must. A resource that does not accept jwt credentials
// passes.
func (r *Resource) checkIssuers(i int, issuerAudiences map[string][]string) error {
	if !r.Accepts(SourceJWT) || (len(r.issuers) == 0 && len(issuerAudiences) == 0) {
		return nil
	}
	where := fieldError{where: fmt.Sprintf("resources[%d] (%s)", i, r.cfg.URL), index: i}
	matches := func(auds []string) bool {
		return slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(r.audiences, a) })
	}
	for _, iss := range r.issuers {
		auds, ok := issuerAudiences[iss]
		if !ok {
			return where.errorf("jwt_issuers", "%q is not a configured issuer", iss)
		}
		if !matches(auds) {
			return where.errorf("audiences", "issuer %q verifies audiences %q and none is the resource URL or in its audiences", iss, auds)
		}
	}
	if len(r.issuers) > 0 {
		return nil
	}
	names := make([]string, 0, len(issuerAudiences))
	for iss, auds := range issuerAudiences {
		if matches(auds) {
			return nil
		}
		names = append(names, iss)
	}
	slices.Sort(names)
	if len(names) == 1 {
		return where.errorf("audiences", "issuer %q verifies audiences %q and none is the resource URL or in its audiences "+
			"(add one to audiences, or leave jwt out of credentials)", names[0], issuerAudiences[names[0]])
	}
	return where.errorf("audiences", "none of the issuers %q verifies an audience that is the resource URL or in its audiences "+
		"(add one to audiences, or leave jwt out of credentials)", names)
}

// parseURL validates the resource URL and derives the canonical URL, host, path and
// metadata URL from it.
func (r *Resource) parseURL(where fieldError, raw string) error {
	if raw == "" {
		return where.errorf("url", "required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return where.errorf("url", "%q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return where.errorf("url", "%q: scheme must be http or https", raw)
	case u.Opaque != "" || u.Host == "":
		return where.errorf("url", "%q: host is missing", raw)
	case u.User != nil:
		return where.errorf("url", "%q: must not contain userinfo", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return where.errorf("url", "%q: must not contain a query", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return where.errorf("url", "%q: must not contain a fragment", raw)
	}
	host, ok := canonicalConfigHost(u.Host, u.Scheme)
	if !ok {
		return where.errorf("url", "%q: %q is not a host name", raw, u.Host)
	}
	r.scheme, r.host = u.Scheme, host

	p := u.Path
	if p != "" {
		cp, why := cleanPrefix(p)
		if why != "" {
			return where.errorf("url", "%q: path %s", raw, why)
		}
		p = cp
	}
	// The URL keeps the operator's escaping but never a trailing slash (except a bare "/").
	escaped := strings.TrimSuffix(u.EscapedPath(), "/")
	if p == "/" {
		escaped = "/"
	} else if p == "" {
		escaped = ""
	}
	origin := r.scheme + "://" + r.host
	r.url = origin + escaped
	r.path = p
	if r.path == "" {
		r.path = "/"
	}
	r.metadataURL = origin + "/.well-known/oauth-protected-resource"
	if r.path != "/" {
		r.metadataURL += escaped
	}
	return nil
}

// canonicalConfigHost canonicalizes a configured host[:port]: lower case, no trailing
// dot, the scheme's default port removed. ok is false for anything but a DNS name, an
// IPv4 address or a bracketed IPv6 address, with an optional port.
func canonicalConfigHost(h, scheme string) (string, bool) {
	h = lowerASCII(h) // never strings.ToLower: it folds U+212A KELVIN SIGN to 'k'
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		name, port = h[:end+1], h[end+1:]
		if !validIPv6Literal(name) {
			return "", false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if port[0] != ':' || err != nil || n < 1 || n > 65535 || port[1] == '0' || port[1] == '+' {
			return "", false
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	if !strings.HasPrefix(name, "[") {
		name = strings.TrimSuffix(name, ".")
		if _, ok := parseDomain(name); !ok {
			return "", false
		}
	}
	return name + port, true
}

// cleanPrefix validates a configured path prefix and trims a trailing slash. why is
// non-empty when the prefix is not usable.
func cleanPrefix(p string) (prefix string, why string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", `must start with "/"`
	case strings.ContainsAny(p, "?#"):
		return "", "must not contain a query or fragment"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", "must not contain control characters"
	}
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	if path.Clean(p) != p {
		return "", "is not a clean path (no //, . or .. segments)"
	}
	return p, ""
}

func compileRule(where fieldError, j int, rc RuleConfig, resourceNeeded []string) (rule, error) {
	name := rc.Name
	if name == "" {
		name = fmt.Sprintf("rules[%d]", j)
	}
	rw := fieldError{where: fmt.Sprintf("%s: rules[%d]", where.where, j), index: where.index, prefix: fmt.Sprintf("rules[%d].", j)}
	if rc.Name != "" {
		rw.where = fmt.Sprintf("%s: rules[%d] (%s)", where.where, j, rc.Name)
	}
	ru := rule{names: []string{name}, methods: rc.Methods, deny: rc.Deny}
	for _, m := range rc.Methods {
		if m == "" {
			return rule{}, rw.errorf("methods", "empty method")
		}
	}
	for _, pat := range rc.Tools {
		if pat == "" {
			return rule{}, rw.errorf("tools", "empty pattern")
		}
		if _, err := path.Match(pat, ""); err != nil {
			return rule{}, rw.wrapf(err, "tools", "%q is not a valid pattern", pat)
		}
		ru.tools = append(ru.tools, compileToolPattern(pat))
	}
	if err := checkScopes(rw, "required_scopes", rc.RequiredScopes); err != nil {
		return rule{}, err
	}
	ru.scopes = dedupe(nil, rc.RequiredScopes)
	ru.needed = dedupe(append([]string(nil), resourceNeeded...), ru.scopes)
	var err error
	if ru.gate, err = compileGate(rw, rc.AllowedEmails, rc.AllowedDomains, rc.AllowedGroups); err != nil {
		return rule{}, err
	}
	return ru, nil
}

func checkScopes(where fieldError, field string, scopes []string) error {
	for _, s := range scopes {
		if !validScopeToken(s) {
			return where.errorf(field, "%q is not an RFC 6749 scope token", s)
		}
	}
	return nil
}
