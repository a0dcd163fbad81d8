package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/mcpguard/mcpguard/auth"
	"github.com/rs/zerolog"
)

// config is everything mcpguard reads from its environment and flags, parsed once.
// List values accept commas and white space as separators.
type config struct {
	Port            int           `env:"PORT" envDefault:"11000"`
	ListenAddr      string        `env:"LISTEN_ADDR"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`

	ProtectedPath string `env:"PROTECTED_PATH" envDefault:"/sse"`
	IssuerURL     string `env:"ISSUER_URL"`
	OAuthDomain   string `env:"OAUTH_DOMAIN"`
	DevMode       bool   `env:"DEV_MODE"`

	PolicyFile       string `env:"POLICY_FILE"`
	ResourceURL      string `env:"RESOURCE_URL"`
	RequiredScopes   string `env:"REQUIRED_SCOPES"`
	AllowedScopes    string `env:"ALLOWED_SCOPES" envDefault:"mcp:read,mcp:write"`
	AllowedEmails    string `env:"ALLOWED_EMAILS"`
	AllowedDomains   string `env:"ALLOWED_DOMAINS"`
	AllowedGroups    string `env:"ALLOWED_GROUPS"`
	PublicPaths      string `env:"PUBLIC_PATHS"`
	StrictMCPHeaders bool   `env:"STRICT_MCP_HEADERS"`

	// TrustedProxies are the peers whose forwarded headers are believed: loopback only
	// by default, so that no other host can claim a client address or a path.
	TrustedProxies string `env:"TRUSTED_PROXIES" envDefault:"127.0.0.0/8,::1/128"`

	APIKey       string `env:"MCP_PROXY_API_KEY"`
	APIKeysFile  string `env:"API_KEYS_FILE"`
	APIKeyHeader string `env:"API_KEY_HEADER" envDefault:"X-API-Key"`

	ClientAuthEnabled     bool   `env:"MCP_CLIENT_AUTH_ENABLED" envDefault:"true"`
	TrustProxyAuth        bool   `env:"TRUST_PROXY_AUTH"`
	ProxyUserHeader       string `env:"PROXY_USER_HEADER" envDefault:"X-Authenticated-User"`
	ProxyAuthTrustedCIDRs string `env:"PROXY_AUTH_TRUSTED_CIDRS"`

	PassUpstreamAuthorization bool `env:"PASS_UPSTREAM_AUTHORIZATION" envDefault:"true"`

	Provider           string        `env:"PROVIDER"`
	ClientID           string        `env:"CLIENT_ID"`
	ClientSecret       string        `env:"CLIENT_SECRET"`
	GoogleClientID     string        `env:"GOOGLE_CLIENT_ID"`
	GoogleClientSecret string        `env:"GOOGLE_CLIENT_SECRET"`
	GoogleHD           string        `env:"GOOGLE_HD"`
	OIDCIssuer         string        `env:"OIDC_ISSUER"`
	UpstreamScopes     string        `env:"UPSTREAM_SCOPES"`
	LocalUsersFile     string        `env:"LOCAL_USERS_FILE"`
	SessionSecret      string        `env:"SESSION_SECRET"`
	Store              string        `env:"STORE" envDefault:"bolt:///var/lib/mcpguard/mcpguard.db"`
	AccessTokenTTL     time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"10m"`
	RefreshTokenTTL    time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	SigningKeyRotation time.Duration `env:"SIGNING_KEY_ROTATION" envDefault:"720h"`
	SessionTTL         time.Duration `env:"SESSION_TTL" envDefault:"8h"`
	SessionIdle        time.Duration `env:"SESSION_IDLE" envDefault:"1h"`
	CIMDAllowedDomains string        `env:"CIMD_ALLOWED_DOMAINS"`
	// DynamicRegistration offers RFC 7591 registration at /register; false leaves
	// pre-registered clients and Client ID Metadata Documents only.
	DynamicRegistration bool `env:"DYNAMIC_REGISTRATION" envDefault:"true"`
	// InsecureCIMDAllowPrivate lets Client ID Metadata Document fetches reach loopback
	// and private addresses over plain http. For tests; it MUST NOT be set in production.
	InsecureCIMDAllowPrivate bool `env:"INSECURE_CIMD_ALLOW_PRIVATE"`

	// AdminAddr is where the admin API listens when AdminToken is set.
	AdminAddr  string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:11001"`
	AdminToken string `env:"ADMIN_TOKEN"`

	JWTIssuers          string        `env:"JWT_ISSUERS"`
	JWKSRefetchCooldown time.Duration `env:"JWKS_REFETCH_COOLDOWN" envDefault:"30s"`
	JWTCacheSize        int           `env:"JWT_CACHE_SIZE" envDefault:"10000"`

	// Derived by validate.
	issuer         string
	level          zerolog.Level
	trustedProxies []netip.Prefix
	listen         string // the address serve listens on: LISTEN_ADDR; else :PORT when PORT is set; else 127.0.0.1:11000
	proxyCIDRs     []netip.Prefix
}

// loadConfig reads the environment through getenv, then the flags in args (without the
// program and sub-command names), and validates the result. Flags win over variables.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	params, err := env.GetFieldParams(&config{})
	if err != nil {
		return config{}, fmt.Errorf("config: %w", err)
	}
	environ := make(map[string]string, len(params))
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			environ[p.Key] = v
		}
	}
	c, err := env.ParseAsWithOptions[config](env.Options{Environment: environ})
	if err != nil {
		var pe env.ParseError
		if errors.As(err, &pe) {
			return config{}, fmt.Errorf("config: %s: %q is not a valid %s", envKey(pe.Name), environ[envKey(pe.Name)], pe.Type)
		}
		return config{}, fmt.Errorf("config: %w", err)
	}

	fs := newFlagSet(&c, io.Discard) // the error says what is wrong
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("config: %w (mcpguard help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	portSet := environ["PORT"] != ""
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" })
	switch {
	case c.ListenAddr != "":
		c.listen = c.ListenAddr
	case portSet:
		// A deployment names its port (PORT, -port): every interface, as containers need.
		c.listen = ":" + strconv.Itoa(c.Port)
	default:
		// The embedded default, with its published demo password: this machine only.
		c.listen = "127.0.0.1:" + strconv.Itoa(c.Port)
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

// newFlagSet is the flag set of serve, check-config and healthcheck, writing to c's
// fields with c's values as the defaults; its usage goes to out. A flag that does not
// parse prints nothing: the defaults would show what the environment set, secrets
// included.
func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mcpguard", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {}
	fs.IntVar(&c.Port, "port", c.Port, "port to listen on (PORT)")
	fs.StringVar(&c.ListenAddr, "listen", c.ListenAddr, "address to listen on, host:port; overrides -port (LISTEN_ADDR)")
	fs.StringVar(&c.APIKey, "api-key", c.APIKey, "the single API key clients must present (MCP_PROXY_API_KEY)")
	fs.StringVar(&c.OAuthDomain, "oauthDomain", c.OAuthDomain, "public domain of mcpguard; the issuer is https://<domain> (OAUTH_DOMAIN)")
	fs.BoolVar(&c.DevMode, "devMode", c.DevMode, "use http:// for the issuer built from -oauthDomain (DEV_MODE)")
	fs.StringVar(&c.ProtectedPath, "protectedPath", c.ProtectedPath, "extra path that answers like /auth, for mcpauth configurations (PROTECTED_PATH)")
	fs.StringVar(&c.AllowedEmails, "allowedEmails", c.AllowedEmails, "comma-separated email allowlist (ALLOWED_EMAILS)")
	fs.StringVar(&c.ResourceURL, "resourceURL", c.ResourceURL, "canonical URL of the protected MCP server (RESOURCE_URL)")
	fs.StringVar(&c.PolicyFile, "policyFile", c.PolicyFile, "YAML policy file describing several resources (POLICY_FILE)")
	fs.StringVar(&c.LogLevel, "logLevel", c.LogLevel, "0 debug, 1 info, 2 minimal, or a level name (LOG_LEVEL)")
	fs.StringVar(&c.Provider, "provider", c.Provider, "upstream login of the authorization server: local, google or oidc (PROVIDER)")
	fs.StringVar(&c.ClientID, "clientID", c.ClientID, "mcpguard's client id at the upstream identity provider (CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "clientSecret", c.ClientSecret, "mcpguard's client secret at the upstream identity provider (CLIENT_SECRET)")
	return fs
}

// Variables are the environment variables mcpguard reads, in the order check-config
// prints them.
func Variables() []string {
	params, _ := env.GetFieldParams(&config{})
	names := make([]string, 0, len(params))
	for _, p := range params {
		names = append(names, p.Key)
	}
	return names
}

// CheckEnv validates the configuration getenv describes as serve does first: every value
// parses and agrees with the others. Unlike check-config it reads none of the files the
// configuration names and reaches no provider, so it can judge a deployment's settings
// away from the deployment.
func CheckEnv(getenv func(string) string) error {
	_, err := loadConfig(nil, getenv)
	return err
}

// envKey is the variable name of a config field.
func envKey(field string) string {
	f, ok := reflect.TypeOf(config{}).FieldByName(field)
	if !ok {
		return field
	}
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return name
}

// validate checks every value and fills the derived fields. Its errors name the variable.
func (c *config) validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, a...)))
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("PORT", "%d is not a TCP port", c.Port)
	}
	lvl, err := parseLogLevel(c.LogLevel)
	if err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	c.level = lvl
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("LOG_FORMAT", "%q is neither json nor console", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.ProtectedPath != "" && (!strings.HasPrefix(c.ProtectedPath, "/") || reservedPath(c.ProtectedPath)) {
		bad("PROTECTED_PATH", "%q must be an absolute path that is not one of mcpguard's own endpoints", c.ProtectedPath)
	}

	port := strconv.Itoa(c.Port)
	if c.ListenAddr != "" {
		if _, p, err := net.SplitHostPort(c.ListenAddr); err != nil {
			bad("LISTEN_ADDR", "%q is not host:port", c.ListenAddr)
		} else if p != "0" {
			port = p
		}
	}
	c.issuer, err = issuerURL(c.IssuerURL, c.OAuthDomain, c.DevMode, port)
	if err != nil {
		name := "ISSUER_URL"
		if c.IssuerURL == "" {
			name = "OAUTH_DOMAIN"
		}
		bad(name, "%v", err)
	}

	if c.trustedProxies, err = parsePrefixes(c.TrustedProxies); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	if c.proxyCIDRs, err = parsePrefixes(c.ProxyAuthTrustedCIDRs); err != nil {
		bad("PROXY_AUTH_TRUSTED_CIDRS", "%v", err)
	}
	if c.APIKey != "" && len(c.APIKey) < 16 {
		bad("MCP_PROXY_API_KEY", "must be at least 16 characters long")
	}
	if !validHeaderName(c.APIKeyHeader) {
		bad("API_KEY_HEADER", "%q is not an HTTP header name", c.APIKeyHeader)
	}
	if !validHeaderName(c.ProxyUserHeader) {
		bad("PROXY_USER_HEADER", "%q is not an HTTP header name", c.ProxyUserHeader)
	}
	if c.PolicyFile != "" {
		for name, v := range map[string]string{
			"RESOURCE_URL": c.ResourceURL, "REQUIRED_SCOPES": c.RequiredScopes,
			"ALLOWED_EMAILS": c.AllowedEmails, "ALLOWED_DOMAINS": c.AllowedDomains,
			"ALLOWED_GROUPS": c.AllowedGroups, "PUBLIC_PATHS": c.PublicPaths,
		} {
			if v != "" {
				bad(name, "cannot be combined with POLICY_FILE; describe the resources in the policy file")
			}
		}
	}
	if c.ResourceURL != "" {
		if u, err := url.Parse(c.ResourceURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("RESOURCE_URL", "%q is not an absolute http(s) URL", c.ResourceURL)
		}
	}
	if c.ClientID == "" {
		c.ClientID = c.GoogleClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = c.GoogleClientSecret
	}
	switch c.Provider {
	case "":
	case "local":
		if c.LocalUsersFile == "" {
			bad("LOCAL_USERS_FILE", "required with PROVIDER=local")
		}
	case "google", "oidc":
		if c.ClientID == "" || c.ClientSecret == "" {
			bad("CLIENT_ID", "CLIENT_ID and CLIENT_SECRET (or GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET) are required with PROVIDER=%s", c.Provider)
		}
		if c.Provider == "oidc" && c.OIDCIssuer == "" {
			bad("OIDC_ISSUER", "required with PROVIDER=oidc")
		}
	default:
		bad("PROVIDER", "%q is not local, google or oidc", c.Provider)
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		bad("SESSION_SECRET", "must be at least 32 characters long")
	}
	if c.Provider != "" && !knownStore(c.Store) {
		bad("STORE", "%q is not memory://, bolt:///absolute/path.db, redis://, rediss://, redis+sentinel://, redis+cluster:// or postgres://", redactDSN(c.Store))
	}
	if c.AccessTokenTTL < 30*time.Second || c.AccessTokenTTL > 24*time.Hour {
		bad("ACCESS_TOKEN_TTL", "must be between 30s and 24h")
	}
	if c.SigningKeyRotation < time.Hour {
		bad("SIGNING_KEY_ROTATION", "must be at least 1h")
	}
	if c.RefreshTokenTTL < time.Minute {
		bad("REFRESH_TOKEN_TTL", "must be at least 1m")
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("SESSION_TTL", "must be between 1m and 720h")
	}
	if c.SessionIdle < time.Minute || c.SessionIdle > c.SessionTTL {
		bad("SESSION_IDLE", "must be at least 1m and at most SESSION_TTL")
	}
	if c.AdminToken != "" {
		if len(c.AdminToken) < 32 {
			bad("ADMIN_TOKEN", "must be at least 32 characters long")
		}
		if c.Provider == "" {
			bad("ADMIN_TOKEN", "needs PROVIDER: the admin API manages the authorization server's sessions")
		}
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			bad("ADMIN_ADDR", "%q is not host:port", c.AdminAddr)
		}
	}
	if c.JWKSRefetchCooldown < time.Second {
		bad("JWKS_REFETCH_COOLDOWN", "must be at least 1s")
	}
	if c.JWTCacheSize < 0 || c.JWTCacheSize > 10_000_000 {
		bad("JWT_CACHE_SIZE", "%d is not between 0 and 10000000", c.JWTCacheSize)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// issuerURL derives mcpguard's issuer identifier (RFC 8414 §2): ISSUER_URL, else
// https://OAUTH_DOMAIN (http:// with DEV_MODE), else http://localhost:PORT. It has no
// trailing slash, so it stays byte-identical wherever it is published.
func issuerURL(issuer, domain string, dev bool, port string) (string, error) {
	switch {
	case issuer != "":
	case domain != "":
		if strings.ContainsAny(domain, "/?#@ ") {
			return "", fmt.Errorf("%q must be a host name, optionally with a port", domain)
		}
		scheme := "https"
		if dev {
			scheme = "http"
		}
		issuer = scheme + "://" + domain
	default:
		return "http://localhost:" + port, nil
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q must not have a query, fragment or user info", issuer)
	}
	if u.Scheme == "http" && !dev && !auth.IsLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("%q must use https (set DEV_MODE=true for plain http)", issuer)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return strings.TrimSuffix(u.String(), "/"), nil
}

// parseLogLevel accepts the mcpauth numbers (0 debug, 1 info, 2 minimal) and zerolog names.
func parseLogLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "debug":
		return zerolog.DebugLevel, nil
	case "1", "info", "":
		return zerolog.InfoLevel, nil
	case "2", "minimal", "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	case "trace":
		return zerolog.TraceLevel, nil
	}
	return zerolog.NoLevel, fmt.Errorf("%q is not 0, 1, 2, trace, debug, info, warn or error", s)
}

// splitList splits a list variable on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// parsePrefixes parses a list of CIDR prefixes; a bare address counts as a /32 or /128.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// validHeaderName reports whether s is an RFC 9110 field name made only of letters,
// digits and hyphens: names with '_' or '.' are dropped by nginx and spoofable elsewhere.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// knownStore reports whether dsn names a store backend: the backend itself checks the rest.
func knownStore(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "memory", "redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster", "postgres", "postgresql":
		return true
	case "bolt":
		return strings.HasPrefix(dsn[len(scheme)+3:], "/")
	}
	return false
}

// redactDSN is dsn with the password of its user information, and of a password=
// parameter, replaced by "redacted", for messages and check-config.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		if _, rest, ok := strings.Cut(dsn, "://"); ok && strings.Contains(rest, "@") {
			return dsn[:strings.Index(dsn, "://")] + "://<redacted>"
		}
		return dsn
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
