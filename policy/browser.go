package policy

import (
	"net/textproto"
	"slices"
)

// DefaultAssertionHeader is the header a signed identity assertion goes in when
// [IdentityAssertionConfig.Header] is empty.
const DefaultAssertionHeader = "X-Mcpguard-Assertion"

// IdentityAssertionConfig asks /auth to hand the upstream a short-lived JWT, signed by
// mcpguard's authorization server, that says who is calling (`identity_assertion:` in
// the policy file). The upstream verifies it against the issuer's /jwks instead of
// trusting plain identity headers.
type IdentityAssertionConfig struct {
	// Header is the response header of a 200 that carries the assertion; empty means
	// [DefaultAssertionHeader]. "Authorization" carries it as "Bearer <jwt>".
	Header string `json:"header,omitempty"`
}

// identityHeaders are the headers /auth always sets itself: an assertion cannot take
// their place.
var identityHeaders = []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
	"X-Forwarded-Scopes", "X-Auth-Source", "X-Auth-Client-Id", "X-Upstream-Authorization"}

// compileAssertion checks and canonicalizes the resource's identity_assertion.
func compileAssertion(where fieldError, c *IdentityAssertionConfig) error {
	if c == nil {
		return nil
	}
	if c.Header == "" {
		c.Header = DefaultAssertionHeader
	}
	for i := 0; i < len(c.Header); i++ {
		b := c.Header[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return where.errorf("identity_assertion.header", "%q is not a header name: use letters, digits and '-'", c.Header)
		}
	}
	c.Header = textproto.CanonicalMIMEHeaderKey(c.Header)
	if slices.Contains(identityHeaders, c.Header) {
		return where.errorf("identity_assertion.header", "%q is an identity header /auth sets itself; pick another name", c.Header)
	}
	return nil
}

// AssertionHeader returns the header of the resource's signed identity assertion, in
// canonical form, and whether the resource asks for one.
func (r *Resource) AssertionHeader() (string, bool) {
	if c := r.cfg.IdentityAssertion; c != nil {
		return c.Header, true
	}
	return "", false
}

// ListsCredential reports whether the resource's credentials list names s explicitly.
// An empty list accepts every kind ([Resource.Accepts]) but lists none: the browser
// features of the session kind (its cookie at /auth, the login redirect of a 401) are
// for resources that ask for them by name, never for an MCP route by default.
func (r *Resource) ListsCredential(s Source) bool {
	return slices.Contains(r.cfg.Credentials, s)
}
