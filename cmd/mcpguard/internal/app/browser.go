package app

// What /auth needs of the authorization server for browsers and upstreams: the browser
// session credential, the login page of a 401, and the signer of identity assertions.

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/policy"
)

// browserOptions fills the session, login and assertion options of /auth. A resource
// that lists `session` or sets identity_assertion needs mcpguard's authorization
// server (PROVIDER): without it, the configuration is refused rather than half-working.
// A resource that lists `session` on another host than the issuer's gets a warning:
// the __Host- session cookie never reaches it, so its browsers would go round between
// the login and the application.
func browserOptions(c config, s *setup, o *forwardauth.Options, log zerolog.Logger) error {
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
	iss, err := url.Parse(c.issuer)
	if err != nil {
		return fmt.Errorf("config: ISSUER_URL: %w", err)
	}
	issHost, _ := forwarded.CanonicalHost(iss.Host, iss.Scheme)
	for _, r := range s.policy.Resources() {
		if r.ListsCredential(policy.SourceSession) && r.Host() != issHost {
			log.Warn().Str("resource", r.URL()).Str("issuer", c.issuer).
				Msg("this resource lists session, but the session cookie is the issuer's host's only: serve the application on the issuer's host, or its browsers loop between the login and the application")
		}
	}
	o.Sessions = s.as.BrowserSessions()
	o.LoginURL = c.issuer + "/login"
	o.Assertions = s.as.IdentityAssertions()
	return nil
}
