package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseEmail splits an email address into its local part and its domain, strictly.
//
// The address must contain exactly one '@', a non-empty local part and a non-empty
// domain, and only printable ASCII: no spaces, control characters, commas or other
// RFC 5322 specials (quoted local parts and address literals are refused). The local
// part is a dot-atom (RFC 5322 §3.2.3) of at most 64 bytes; the domain is a DNS name of
// letters, digits, '-' and '.' (no empty labels, no trailing dot) and is returned lower
// case. The local part is returned as given.
//
// Strictness is deliberate: "a@evil.com@allowed.com" is refused rather than read as an
// address at allowed.com (GHSA-c5c4-8r6x-56w3), and look-alike domains written with
// non-ASCII letters never match an ASCII allowlist entry.
func ParseEmail(s string) (local, domain string, err error) {
	local, domain, why := parseEmail(s)
	if why != "" {
		return "", "", fmt.Errorf("policy: %q is not an email address: %s", s, why)
	}
	return local, domain, nil
}

// parseEmail is ParseEmail without the error allocation: why is non-empty on failure.
func parseEmail(s string) (local, domain, why string) {
	at := strings.IndexByte(s, '@')
	switch {
	case s == "":
		return "", "", "empty"
	case at < 0:
		return "", "", `no "@"`
	case strings.IndexByte(s[at+1:], '@') >= 0:
		return "", "", `more than one "@"`
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			return "", "", "contains a space"
		case c < 0x20 || c == 0x7f:
			return "", "", "contains a control character"
		case c >= 0x80:
			return "", "", "contains a non-ASCII character"
		case c == ',':
			return "", "", "contains a comma"
		}
	}
	local, domain = s[:at], s[at+1:]
	switch {
	case local == "":
		return "", "", "empty local part"
	case domain == "":
		return "", "", "empty domain"
	case len(local) > 64:
		return "", "", "local part longer than 64 bytes"
	case !dotAtom(local):
		return "", "", "local part is not a dot-atom"
	case strings.HasSuffix(domain, "."):
		return "", "", "domain has a trailing dot"
	}
	domain, ok := parseDomain(domain)
	if !ok {
		return "", "", "domain is not a DNS name"
	}
	return local, domain, ""
}

// dotAtom reports whether s is an RFC 5322 dot-atom-text: atext runs separated by
// single dots, with no dot first or last.
func dotAtom(s string) bool {
	prevDot := true // a leading dot is an error
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		if !isAtext(c) {
			return false
		}
		prevDot = false
	}
	return !prevDot
}

// isAtext reports whether c is RFC 5322 atext: a letter, a digit or one of !#$%&'*+-/=?^_`{|}~.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// parseDomain validates a DNS name of letters, digits, '-' and '.' (labels of 1 to 63
// bytes that neither start nor end with '-', at most 253 bytes, no trailing dot) and
// returns it lower case. It allocates only when d has upper-case letters.
func parseDomain(d string) (string, bool) {
	if len(d) == 0 || len(d) > 253 {
		return "", false
	}
	upper := false
	start := 0
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			n := i - start
			if n == 0 || n > 63 || d[start] == '-' || d[i-1] == '-' {
				return "", false
			}
			start = i + 1
			continue
		}
		switch c := d[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		d = strings.ToLower(d)
	}
	return d, true
}

// validIPv6Literal reports whether s is a bracketed IPv6 address without a zone.
func validIPv6Literal(s string) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	a, err := netip.ParseAddr(s[1 : len(s)-1])
	return err == nil && a.Is6() && a.Zone() == ""
}

// lowerASCII returns s with ASCII letters lower-cased; it allocates only when s has
// upper-case letters.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
