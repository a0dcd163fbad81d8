package app

// The check-config command: the configuration validated as serve would and printed.

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
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
	if !apiKeySet {
		c.APIKey = "" // a key generated for the check is no part of the configuration
	}
	if err := printConfig(stdout, c); err != nil {
		return err
	}
	for _, r := range s.policy.Resources() {
		rc := r.Config()
		fmt.Fprintf(stdout, "# resource: %s paths=%v public=%v scopes=%v metadata=%s\n",
			r.URL(), rc.Paths, rc.PublicPaths, rc.RequiredScopes, r.MetadataURL())
	}
	kinds := make([]string, 0, len(s.authenticators))
	for _, a := range s.authenticators {
		kinds = append(kinds, fmt.Sprintf("%T", a))
	}
	if s.generatedKey != "" {
		kinds = append(kinds, "(no credentials configured: serve generates an API key)")
	}
	for _, ic := range s.issuers {
		fmt.Fprintf(stdout, "# jwt issuer: %s audiences=%v\n", ic.Issuer, ic.Audiences)
	}
	_, err = fmt.Fprintf(stdout, "# credentials: %s\n", strings.Join(kinds, ", "))
	return err
}

// secretVars are printed redacted by check-config.
var secretVars = map[string]bool{"MCP_PROXY_API_KEY": true, "CLIENT_SECRET": true, "GOOGLE_CLIENT_SECRET": true, "SESSION_SECRET": true}

// printConfig writes the effective configuration, one VARIABLE=value line each, secrets
// redacted, for `mcpguard check-config`.
func printConfig(w io.Writer, c config) error {
	params, err := env.GetFieldParams(&c)
	if err != nil {
		return err
	}
	values := map[string]string{
		"PORT": strconv.Itoa(c.Port), "LISTEN_ADDR": c.ListenAddr, "LOG_LEVEL": c.LogLevel,
		"LOG_FORMAT": c.LogFormat, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout.String(),
		"PROTECTED_PATH": c.ProtectedPath, "ISSUER_URL": c.IssuerURL, "OAUTH_DOMAIN": c.OAuthDomain,
		"DEV_MODE": strconv.FormatBool(c.DevMode), "POLICY_FILE": c.PolicyFile,
		"RESOURCE_URL": c.ResourceURL, "REQUIRED_SCOPES": c.RequiredScopes,
		"ALLOWED_SCOPES": c.AllowedScopes, "ALLOWED_EMAILS": c.AllowedEmails,
		"ALLOWED_DOMAINS": c.AllowedDomains, "ALLOWED_GROUPS": c.AllowedGroups,
		"PUBLIC_PATHS": c.PublicPaths, "STRICT_MCP_HEADERS": strconv.FormatBool(c.StrictMCPHeaders),
		"TRUSTED_PROXIES": c.TrustedProxies, "MCP_PROXY_API_KEY": c.APIKey,
		"API_KEYS_FILE": c.APIKeysFile, "API_KEY_HEADER": c.APIKeyHeader,
		"MCP_CLIENT_AUTH_ENABLED": strconv.FormatBool(c.ClientAuthEnabled),
		"TRUST_PROXY_AUTH":        strconv.FormatBool(c.TrustProxyAuth),
		"PROXY_USER_HEADER":       c.ProxyUserHeader, "PROXY_AUTH_TRUSTED_CIDRS": c.ProxyAuthTrustedCIDRs,
		"PASS_UPSTREAM_AUTHORIZATION": strconv.FormatBool(c.PassUpstreamAuthorization),
		"JWT_ISSUERS":                 c.JWTIssuers, "JWKS_REFETCH_COOLDOWN": c.JWKSRefetchCooldown.String(),
		"JWT_CACHE_SIZE": strconv.Itoa(c.JWTCacheSize),
		"PROVIDER":       c.Provider, "CLIENT_ID": c.ClientID, "CLIENT_SECRET": c.ClientSecret,
		"GOOGLE_CLIENT_ID": c.GoogleClientID, "GOOGLE_CLIENT_SECRET": c.GoogleClientSecret,
		"GOOGLE_HD": c.GoogleHD, "OIDC_ISSUER": c.OIDCIssuer, "UPSTREAM_SCOPES": c.UpstreamScopes, "LOCAL_USERS_FILE": c.LocalUsersFile,
		"SESSION_SECRET": c.SessionSecret, "STORE": c.Store,
		"ACCESS_TOKEN_TTL": c.AccessTokenTTL.String(), "REFRESH_TOKEN_TTL": c.RefreshTokenTTL.String(),
		"CIMD_ALLOWED_DOMAINS":        c.CIMDAllowedDomains,
		"INSECURE_CIMD_ALLOW_PRIVATE": strconv.FormatBool(c.InsecureCIMDAllowPrivate),
	}
	for _, p := range params {
		v, ok := values[p.Key]
		if !ok {
			return fmt.Errorf("config: %s has no printer", p.Key)
		}
		if secretVars[p.Key] && v != "" {
			v = "<redacted>"
		}
		if _, err := fmt.Fprintf(w, "%s=%s\n", p.Key, v); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "# issuer: %s\n", c.issuer)
	return err
}
