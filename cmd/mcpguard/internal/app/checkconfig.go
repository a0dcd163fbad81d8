package app

// The check-config command: the configuration validated as serve would and printed for a
// person to read.

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/policy"
)

// checkConfig validates the configuration as serve would and prints it.
func checkConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	apiKeySet := c.APIKey != ""
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // no background discovery outlives the check
	s, err := newSetup(ctx, &c, newLogger(c, stderr), newMetrics(), "memory://")
	if err != nil {
		return err
	}
	defer s.Close()
	// What serve refuses about browser logins and assertions, check-config refuses too;
	// its warnings (a session resource off the issuer's host) go to stderr.
	if err := browserOptions(c, s, &forwardauth.Options{}, newLogger(c, stderr)); err != nil {
		return err
	}
	if !apiKeySet {
		c.APIKey = "" // a key generated for the check is no part of the configuration
	}
	if err := printConfig(stdout, c); err != nil {
		return err
	}
	issHost := ""
	if iss, err := url.Parse(c.issuer); err == nil {
		issHost, _ = forwarded.CanonicalHost(iss.Host, iss.Scheme)
	}
	for _, r := range s.policy.Resources() {
		rc := r.Config()
		fmt.Fprintf(stdout, "# resource: %s paths=%s public=%s scopes=%s metadata=%s session=%s assertion=%s\n",
			r.URL(), list(rc.Paths), list(rc.PublicPaths), list(rc.RequiredScopes), r.MetadataURL(),
			sessionSummary(r, issHost), assertionSummary(r))
	}
	kinds := make([]string, 0, len(s.authenticators))
	for _, a := range s.authenticators {
		kinds = append(kinds, credentialKind(a))
	}
	if s.generatedKey != "" {
		kinds = append(kinds, "(no credentials configured: serve generates an API key)")
	}
	for _, ic := range s.issuers {
		fmt.Fprintf(stdout, "# jwt issuer: %s audiences=%s\n", ic.Issuer, list(ic.Audiences))
	}
	_, err = fmt.Fprintf(stdout, "# credentials: %s\n", strings.Join(kinds, ", "))
	return err
}

// sessionSummary says whether a resource accepts the browser session (`session` in its
// credentials: browser logins, the login redirect), and when its host is not the
// issuer's, that the session cookie never reaches it.
func sessionSummary(r *policy.Resource, issuerHost string) string {
	switch {
	case !r.ListsCredential(policy.SourceSession):
		return "no"
	case r.Host() != issuerHost:
		return "yes(not-on-issuer-host)"
	}
	return "yes"
}

// assertionSummary names the header a resource's signed identity assertion goes in,
// "none" when it asks for none.
func assertionSummary(r *policy.Resource) string {
	h, ok := r.AssertionHeader()
	switch {
	case !ok:
		return "none"
	case strings.EqualFold(h, "Authorization"):
		return "Authorization(Bearer)"
	}
	return h
}

// credentialKind names a credential kind as the policy file's credentials list does.
func credentialKind(a forwardauth.Authenticator) string {
	switch a.(type) {
	case *auth.OwnTokens:
		return "mcpguard's access tokens (oauth)"
	case *auth.JWTVerifier:
		return "external JWTs (jwt)"
	case *auth.APIKeys:
		return "API keys (apikey)"
	case *auth.ProxyIdentity:
		return "trusted proxy identity (proxy)"
	}
	return fmt.Sprintf("%T", a)
}

// secretVars are printed redacted by check-config.
var secretVars = map[string]bool{"MCP_PROXY_API_KEY": true, "CLIENT_SECRET": true, "GOOGLE_CLIENT_SECRET": true, "SESSION_SECRET": true, "ADMIN_TOKEN": true}

// listVars are the variables that hold a list; check-config prints them comma-joined,
// however they were separated.
var listVars = map[string]bool{
	"REQUIRED_SCOPES": true, "ALLOWED_SCOPES": true, "ALLOWED_EMAILS": true, "ALLOWED_DOMAINS": true,
	"ALLOWED_GROUPS": true, "PUBLIC_PATHS": true, "UPSTREAM_SCOPES": true, "CIMD_ALLOWED_DOMAINS": true,
}

// printConfig writes the effective configuration, one VARIABLE=value line each in the
// order of the config struct, secrets redacted, for `mcpguard check-config`. Values are
// written as a person would write them: durations as 10m or 720h, lists and prefixes
// comma-joined.
func printConfig(w io.Writer, c config) error {
	v, t := reflect.ValueOf(c), reflect.TypeOf(c)
	for i := 0; i < t.NumField(); i++ {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		if key == "" {
			continue
		}
		var s string
		switch f := v.Field(i).Interface().(type) {
		case time.Duration:
			s = formatDuration(f)
		case bool:
			s = strconv.FormatBool(f)
		case int:
			s = strconv.Itoa(f)
		case string:
			s = f
		default:
			return fmt.Errorf("config: %s has no printer", key)
		}
		switch {
		case secretVars[key] && s != "":
			s = "<redacted>"
		case key == "STORE":
			s = redactDSN(s)
		case key == "TRUSTED_PROXIES":
			s = prefixes(c.trustedProxies)
		case key == "PROXY_AUTH_TRUSTED_CIDRS":
			s = prefixes(c.proxyCIDRs)
		case listVars[key]:
			s = strings.Join(splitList(s), ",")
		}
		if _, err := fmt.Fprintf(w, "%s=%s\n", key, s); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "# issuer: %s\n", c.issuer)
	return err
}

// formatDuration writes d without the zero units time.Duration.String ends with:
// 10m, 720h, 1h30m, 30s, 1m30s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// prefixes joins CIDR prefixes with commas.
func prefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

// list joins a list with commas, "(none)" when it is empty.
func list(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ",")
}
