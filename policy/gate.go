package policy

import "fmt"

// Allowlist is one allowlist of emails, domains and groups, checked together: a
// resource's or a rule's AllowedEmails, AllowedDomains and AllowedGroups, or the
// authorization server's login allowlists. When any list is set, an identity is
// admitted when its verified email is listed, or that email's domain is, or one of its
// groups is. An Allowlist whose lists are all empty, and a nil *Allowlist, admit
// everyone.
type Allowlist struct {
	emails  map[string]struct{} // lower case
	domains map[string]struct{} // lower case
	groups  map[string]struct{} // as configured
	active  bool                // any list is non-empty
}

// NewAllowlist validates and compiles the three lists: emails as [ParseEmail] requires
// (matched case-folded), domains as DNS names (case-folded, no '@', no trailing dot),
// groups as non-empty names (matched exactly). The error names the list at fault by its
// policy-file field.
func NewAllowlist(emails, domains, groups []string) (*Allowlist, error) {
	a, field, why := compileAllowlist(emails, domains, groups)
	if why != "" {
		return nil, fmt.Errorf("policy: %s: %s", field, why)
	}
	return &a, nil
}

// Admits reports whether id passes the allowlist. Its email counts only when
// EmailVerified is set and the email parses strictly: "a@evil.com@allowed.com" matches
// nothing (GHSA-c5c4-8r6x-56w3). A nil id passes only an empty allowlist.
func (a *Allowlist) Admits(id *Identity) bool {
	if a == nil || !a.active {
		return true
	}
	if id == nil {
		return false
	}
	email, domain := verifiedEmail(id)
	return a.admits(id, email, domain)
}

// compileGate compiles a resource's or a rule's allowlist; where names it in errors.
func compileGate(where fieldError, emails, domains, groups []string) (Allowlist, error) {
	a, field, why := compileAllowlist(emails, domains, groups)
	if why != "" {
		return Allowlist{}, where.errorf(field, "%s", why)
	}
	return a, nil
}

// compileAllowlist is NewAllowlist without the error allocation: on failure, field is
// the policy-file field at fault and why is non-empty.
func compileAllowlist(emails, domains, groups []string) (a Allowlist, field, why string) {
	if len(emails) > 0 {
		a.emails = make(map[string]struct{}, len(emails))
	}
	for _, e := range emails {
		local, domain, bad := parseEmail(e)
		if bad != "" {
			return Allowlist{}, "allowed_emails", fmt.Sprintf("%q is not an email address", e)
		}
		a.emails[lowerASCII(local)+"@"+domain] = struct{}{}
	}
	if len(domains) > 0 {
		a.domains = make(map[string]struct{}, len(domains))
	}
	for _, d := range domains {
		cd, ok := parseDomain(d)
		if !ok {
			return Allowlist{}, "allowed_domains", fmt.Sprintf("%q is not a domain name", d)
		}
		a.domains[cd] = struct{}{}
	}
	if len(groups) > 0 {
		a.groups = make(map[string]struct{}, len(groups))
	}
	for _, g := range groups {
		if g == "" {
			return Allowlist{}, "allowed_groups", "empty group name"
		}
		a.groups[g] = struct{}{}
	}
	a.active = len(a.emails)+len(a.domains)+len(a.groups) > 0
	return a, "", ""
}

// admits is Admits for an identity whose verified email and domain verifiedEmail
// already returned: Decide checks a resource's and its rules' allowlists with one parse.
func (a *Allowlist) admits(id *Identity, email, domain string) bool {
	if !a.active {
		return true
	}
	if email != "" {
		if _, ok := a.emails[email]; ok {
			return true
		}
		if _, ok := a.domains[domain]; ok {
			return true
		}
	}
	for _, g := range id.Groups {
		if _, ok := a.groups[g]; ok {
			return true
		}
	}
	return false
}
