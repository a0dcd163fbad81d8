package app

// What /auth needs of the authorization server for browsers and upstreams: the browser
// session credential, the login page of a 401, and the signer of identity assertions.

import (
	"errors"
	"fmt"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/policy"
)

// browserOptions fills the session, login and assertion options of /auth. A resource
// that lists `session` or sets identity_assertion needs mcpguard's authorization
// server (PROVIDER): without it, the configuration is refused rather than half-working.
func browserOptions(c config, s *setup, o *forwardauth.Options) error {
	for _, r := range s.policy.Resources() {
		_, asserts := r.AssertionHeader()
		if s.as != nil || !(asserts || r.ListsCredential(policy.SourceSession)) {
			continue
		}
		what := "credentials: [session]"
		if asserts {
			what = "identity_assertion"
		}
		if c.Provider == "" {
			return fmt.Errorf("config: POLICY_FILE: resource %s: %s needs the authorization server: set PROVIDER", r.URL(), what)
		}
		return errors.New("config: MCP_CLIENT_AUTH_ENABLED=false: resource " + r.URL() + ": " + what + " needs the authorization server")
	}
	if s.as == nil {
		return nil
	}
	o.Sessions = s.as.BrowserSessions()
	o.LoginURL = c.issuer + "/login"
	o.Assertions = s.as.IdentityAssertions()
	return nil
}
