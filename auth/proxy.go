package auth

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// defaultProxyHeader is the header ProxyIdentity reads when ProxyConfig.Header is empty.
	defaultProxyHeader = "X-Authenticated-User"
	// maxProxyUserLen bounds the proxy user header value, in bytes.
	maxProxyUserLen = 256
)

// Errors of ProxyIdentity.Authenticate. They name the condition, never the value.
var (
	errProxyRepeated = invalid("proxy user header present more than once")
	errProxyEmpty    = invalid("empty proxy user header")
	errProxyTooLong  = invalid(fmt.Sprintf("proxy user header longer than %d bytes", maxProxyUserLen))
	errProxySyntax   = invalid("proxy user header contains a comma, control character or invalid UTF-8")
)

// ProxyConfig configures ProxyIdentity.
type ProxyConfig struct {
	// Header is the request header in which the authenticating proxy names the user;
	// default "X-Authenticated-User" (PROXY_USER_HEADER). Only letters, digits and '-'
	// are allowed; it is matched in any letter case.
	Header string
	// TrustedCIDRs are the networks of the authenticating proxies
	// (PROXY_AUTH_TRUSTED_CIDRS). The header counts only when Request.Client is inside one
	// of them; empty means the header is never trusted.
	TrustedCIDRs []netip.Prefix
}

// ProxyIdentity trusts a user header set by an authenticating proxy in front (the
// ContextForge mode, TRUST_PROXY_AUTH=true). The edge proxy must strip that header from
// client requests; the trusted networks are the second line of defence. A ProxyIdentity
// is safe for concurrent use.
type ProxyIdentity struct {
	header  string
	trusted []netip.Prefix
}

// NewProxyIdentity validates c and returns the authenticator. Invalid prefixes and header
// names are errors; an empty TrustedCIDRs is not (the authenticator then never trusts the
// header, and the caller should warn).
func NewProxyIdentity(c ProxyConfig) (*ProxyIdentity, error) {
	header, err := headerName(c.Header, defaultProxyHeader)
	if err != nil {
		return nil, fmt.Errorf("auth: proxy user header: %w", err)
	}
	p := &ProxyIdentity{header: header, trusted: make([]netip.Prefix, 0, len(c.TrustedCIDRs))}
	for i, pfx := range c.TrustedCIDRs {
		if !pfx.IsValid() {
			return nil, fmt.Errorf("auth: trusted CIDRs[%d]: invalid prefix", i)
		}
		// An IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) means the IPv4 network;
		// clients are unmapped before the check, so store it in IPv4 form.
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		p.trusted = append(p.trusted, pfx.Masked())
	}
	return p, nil
}

// Authenticate implements the authenticator contract (see the package documentation)
// for a trusted proxy's user header.
//
// An absent header gives ErrNoCredentials. So does a header from a client that is
// unknown (the zero Addr), has an IPv6 zone, or is outside TrustedCIDRs: a spoofed header
// is simply ignored. IPv4-mapped IPv6 clients are unmapped before the check. From a
// trusted client, a header that is repeated, empty, longer than 256 bytes, or contains a
// comma, a control character or invalid UTF-8 is an error wrapping ErrInvalidCredential.
//
// The Principal has Subject set to the value, AllScopes and Source "proxy". When the
// value is an email address (exactly one '@', ASCII, a dot-separated domain), Email is
// set to it with the domain lower-cased, and EmailVerified is true: the proxy asserts it.
func (p *ProxyIdentity) Authenticate(r *Request) (Principal, error) {
	if r == nil {
		return Principal{}, ErrNoCredentials
	}
	vals := r.Header[p.header]
	if len(vals) == 0 || !p.trusts(r.Client) {
		return Principal{}, ErrNoCredentials
	}
	v := vals[0]
	switch {
	case len(vals) > 1:
		return Principal{}, errProxyRepeated
	case v == "":
		return Principal{}, errProxyEmpty
	case len(v) > maxProxyUserLen:
		return Principal{}, errProxyTooLong
	case !utf8.ValidString(v) || strings.ContainsFunc(v, isControlOrComma):
		return Principal{}, errProxySyntax
	}
	pr := Principal{Subject: v, AllScopes: true, Source: SourceProxy}
	if isEmail(v) {
		at := strings.IndexByte(v, '@')
		pr.Email = v[:at+1] + strings.ToLower(v[at+1:])
		pr.EmailVerified = true
	}
	return pr, nil
}

// trusts reports whether the client address is inside a trusted network.
func (p *ProxyIdentity) trusts(client netip.Addr) bool {
	if !client.IsValid() || client.Zone() != "" {
		return false
	}
	client = client.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(client) {
			return true
		}
	}
	return false
}

// isControlOrComma reports whether r may not appear in an identity value that becomes a
// response header (X-Forwarded-User, X-Forwarded-Groups): control and format characters
// (C0, DEL, C1, bidi overrides, zero-width characters) and the list separator ','.
func isControlOrComma(r rune) bool {
	return r == ',' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// isEmail reports whether s has the shape of an email address: exactly one '@', a
// non-empty local part of visible ASCII without commas, and a domain of non-empty labels
// made of letters, digits and '-', separated by '.', without a trailing dot. It is
// deliberately narrower than RFC 5322 (no quoted local parts, no IP literals, no IDNA):
// a value that fails is still a valid Subject, just not an email. Policy parses emails
// again, itself.
func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.IndexByte(domain, '@') >= 0 {
		return false
	}
	if !isVisibleASCII(local) || strings.IndexByte(local, ',') >= 0 {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return false // leading, trailing or doubled dot
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}
