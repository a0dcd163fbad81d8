package forwardauth

// The signed identity assertion of a 200, for resources that set identity_assertion:
// a short-lived JWT the upstream verifies against the issuer's /jwks, instead of
// trusting the plain identity headers any hop could have set.

import (
	"fmt"
	"net/http"

	"github.com/mcpguard/mcpguard/auth"
)

// Asserter signs identity assertions: a JWT that says p called resource. It may hand
// out the same assertion again while it is fresh.
type Asserter interface {
	Assertion(resource string, p *auth.Principal) (string, error)
}

// assert fills v's assertion when its resource asks for one: the header always, so a
// client's copy is overwritten; the signed JWT when someone authenticated. A signing
// fault fails closed (500). It reports false when v is now that fault.
func (d *Decider) assert(v *verdict) bool {
	res := v.decision.Resource
	if res == nil {
		return true
	}
	hdr, ok := res.AssertionHeader()
	if !ok {
		return true
	}
	v.assertHeader = hdr
	if !v.authenticated || d.assertions == nil {
		return true
	}
	p := v.principal // a copy: v itself must not escape through the interface
	tok, err := d.assertions.Assertion(res.URL(), &p)
	if err != nil {
		v.status, v.reason, v.cause = http.StatusInternalServerError, "internal_error", fmt.Errorf("forwardauth: identity assertion: %w", err)
		return false
	}
	if hdr == "Authorization" {
		tok = "Bearer " + tok
	}
	v.assertion = tok
	return true
}
