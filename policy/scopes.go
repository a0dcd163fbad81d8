package policy

import (
	"fmt"
	"slices"
)

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), that is printable ASCII without space, '"' and '\'.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// compileImplications validates the broader -> narrower implications and returns their
// transitive closure reversed: for each implied scope, the set of other scopes that
// imply it. Decide checks a needed scope against a granted one with one lookup in that
// set, so it never builds the closure of the granted scopes.
func compileImplications(impl map[string][]string) (map[string]map[string]struct{}, error) {
	keys := make([]string, 0, len(impl))
	for k := range impl {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic errors
	for _, k := range keys {
		if !validScopeToken(k) {
			return nil, fmt.Errorf("policy: scope_implications: %q is not an RFC 6749 scope token", k)
		}
		for _, n := range impl[k] {
			if !validScopeToken(n) {
				return nil, fmt.Errorf("policy: scope_implications: %s: %q is not an RFC 6749 scope token", k, n)
			}
		}
	}
	impliedBy := make(map[string]map[string]struct{})
	for _, k := range keys {
		for n := range closure(impl, k) {
			if n == k {
				continue
			}
			set := impliedBy[n]
			if set == nil {
				set = make(map[string]struct{})
				impliedBy[n] = set
			}
			set[k] = struct{}{}
		}
	}
	return impliedBy, nil
}

// closure returns the scopes s implies, directly or transitively, s included.
// Cycles (a implies b implies a) are allowed and terminate.
func closure(impl map[string][]string, s string) map[string]struct{} {
	set := map[string]struct{}{s: {}}
	queue := []string{s}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range impl[cur] {
			if _, ok := set[n]; !ok {
				set[n] = struct{}{}
				queue = append(queue, n)
			}
		}
	}
	return set
}

// grants reports whether the granted scopes include want, directly or through an
// implication. It does not allocate.
func (p *Policy) grants(granted []string, want string) bool {
	if slices.Contains(granted, want) {
		return true
	}
	by := p.impliedBy[want]
	if by == nil {
		return false
	}
	for _, g := range granted {
		if _, ok := by[g]; ok {
			return true
		}
	}
	return false
}

// missing returns the needed scopes that granted lacks after implication, or nil. It
// allocates only when something is missing.
func (p *Policy) missing(needed, granted []string) []string {
	var out []string
	for i, want := range needed {
		if p.grants(granted, want) {
			continue
		}
		if out == nil {
			out = make([]string, 0, len(needed)-i)
		}
		out = append(out, want)
	}
	return out
}

// dedupe appends to dst the elements of src not already in dst, keeping order.
func dedupe(dst, src []string) []string {
	for _, s := range src {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}
