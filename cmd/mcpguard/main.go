// Command mcpguard guards MCP servers at the edge: the proxy in front of them asks its
// /auth endpoint about every request, and it answers 200 with identity headers, 401 with
// an RFC 9728 challenge, or 403.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/doctor"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
	"github.com/rs/zerolog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mcpguard: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: mcpguard [command] [flags]

commands:
  serve          run the decision service (the default)
  check-config   validate the configuration and print it, secrets redacted
  doctor URL     check an MCP deployment from the outside, as an MCP client does
  hash-key       read an API key on stdin and print its SHA-256 for API_KEYS_FILE
  hash-password  read a password on stdin and print its bcrypt hash for LOCAL_USERS_FILE
  healthcheck    exit 0 when the local server answers /healthz (for container probes)
  version        print the version

Configuration comes from environment variables (see README.md); flags override them.
`

// run is the whole program. Everything it needs from the OS is a parameter, so tests run
// it in-process; it returns when ctx is cancelled or on a fatal error.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", []string{}
	if len(args) > 1 {
		rest = args[1:]
		if !strings.HasPrefix(rest[0], "-") {
			cmd, rest = rest[0], rest[1:]
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "check-config":
		return checkConfig(rest, getenv, stdout, stderr)
	case "doctor":
		return doctor.Run(ctx, rest, doctor.Options{Version: version}, stdout, stderr)
	case "hash-key":
		return hashKey(stdin, stdout)
	case "hash-password":
		return hashPassword(stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stderr)
	case "version":
		_, err := fmt.Fprintln(stdout, "mcpguard", version)
		return err
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// newLogger builds the one logger of the process.
func newLogger(c config, w io.Writer) zerolog.Logger {
	if c.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(c.level).With().Timestamp().Logger()
}

// setup builds everything serve and check-config share from a validated config.
type setup struct {
	policy         *policy.Policy
	authenticators []forwardauth.Authenticator
	meta           *oauth.MetadataHandler
	jwt            *auth.JWTVerifier // nil without external issuers
	issuers        []auth.IssuerConfig
	as             *oauth.Server // mcpguard's authorization server; nil without PROVIDER
	store          store.Store   // the authorization server's state; nil without PROVIDER
	generatedKey   string
}

// Close releases the store.
func (s *setup) Close() error {
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// newSetup builds the policy, the credential kinds and the metadata documents. Work it
// starts in the background (JWKS discovery) stops with ctx.
// storeDSN overrides STORE (check-config validates against a memory store, so it never
// locks the file of a running server).
func newSetup(ctx context.Context, c *config, log zerolog.Logger, m *metrics, storeDSN string) (*setup, error) {
	s := &setup{}
	var err error
	var file policyFile
	if s.policy, file, err = loadPolicy(*c); err != nil {
		return nil, err
	}
	if s.issuers, err = mergeIssuers(c.JWTIssuers, file.Issuers); err != nil {
		return nil, err
	}
	if len(file.Clients) > 0 && c.Provider == "" {
		return nil, errors.New("config: POLICY_FILE: clients need the authorization server: set PROVIDER")
	}
	if c.ClientAuthEnabled && c.APIKey == "" && c.APIKeysFile == "" && len(s.issuers) == 0 && c.Provider == "" {
		// Nothing configured: the embedded default is API-key mode with a fresh key.
		key, err := auth.GenerateKey()
		if err != nil {
			return nil, err
		}
		c.APIKey, s.generatedKey = key, key
		if c.PolicyFile == "" {
			if s.policy, _, err = loadPolicy(*c); err != nil { // with /status public, as for any single key
				return nil, err
			}
		}
	}
	if s.authenticators, err = buildAuthenticators(*c, log); err != nil {
		return nil, err
	}
	if len(s.issuers) > 0 && c.ClientAuthEnabled {
		s.jwt, err = auth.NewJWTVerifier(ctx, auth.JWTConfig{
			Issuers:         s.issuers,
			RefetchCooldown: c.JWKSRefetchCooldown,
			CacheSize:       c.JWTCacheSize,
			OnRefresh: func(issuer string, err error) {
				result := "ok"
				if err != nil {
					result = "error"
					log.Warn().Str("issuer", issuer).Err(err).Msg("jwks refresh failed")
				}
				m.jwksRefreshes.WithLabelValues(issuer, result).Inc()
			},
		})
		if err != nil {
			return nil, fmt.Errorf("config: JWT_ISSUERS, POLICY_FILE issuers: %w", err)
		}
		s.authenticators = append(s.authenticators, s.jwt)
	}
	if c.Provider != "" && c.ClientAuthEnabled {
		if storeDSN == "" {
			storeDSN = c.Store
		}
		if s.store, err = store.Open(storeDSN); err != nil {
			return nil, fmt.Errorf("config: STORE: %w", err)
		}
		if s.as, err = newAuthServer(ctx, *c, s.store, s.policy, file.Clients, m, log); err != nil {
			s.store.Close()
			return nil, err
		}
		// mcpguard's own tokens first: its verifier passes tokens of other issuers on.
		s.authenticators = append([]forwardauth.Authenticator{s.as.AccessTokens()}, s.authenticators...)
	}
	var docs []oauth.ProtectedResource
	for _, r := range s.policy.Resources() {
		hosts := []string{r.Host()}
		for _, h := range r.Config().Hosts {
			if h == "*" {
				hosts = append(hosts, "*")
			} else if ch, err := forwarded.CanonicalHost(h, ""); err == nil {
				hosts = append(hosts, ch)
			}
		}
		docs = append(docs, oauth.ProtectedResource{
			Resource:             r.URL(),
			Hosts:                hosts,
			Path:                 r.Path(),
			AuthorizationServers: s.authorizationServers(c.issuer, r),
			ScopesSupported:      r.ScopesSupported(),
			Extra:                r.Metadata(),
		})
	}
	if s.meta, err = oauth.NewMetadataHandler(docs); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return s, nil
}

// authorizationServers are the issuers a resource's metadata points clients at: the
// external JWT issuers the resource accepts, as agentgateway does, when there are any
// (mcpguard's own authorization server is not enabled); otherwise mcpguard's issuer.
func (s *setup) authorizationServers(issuer string, r *policy.Resource) []string {
	if s.as != nil || s.jwt == nil || !r.Accepts(policy.SourceJWT) {
		return []string{issuer}
	}
	accepted := r.Issuers()
	var out []string
	for _, ic := range s.issuers {
		if len(accepted) == 0 || slices.Contains(accepted, ic.Issuer) {
			out = append(out, ic.Issuer)
		}
	}
	if len(out) == 0 {
		return []string{issuer}
	}
	return out
}

// mergeIssuers joins the JWT_ISSUERS pairs and the policy file's issuers; an issuer
// configured in both places is an error.
func mergeIssuers(env string, file []auth.IssuerConfig) ([]auth.IssuerConfig, error) {
	fromEnv, err := auth.ParseIssuersEnv(env)
	if err != nil {
		return nil, fmt.Errorf("config: JWT_ISSUERS: %w", err)
	}
	out := append([]auth.IssuerConfig(nil), file...)
	for _, e := range fromEnv {
		for _, f := range file {
			if f.Issuer == e.Issuer {
				return nil, fmt.Errorf("config: JWT_ISSUERS: issuer %q is also in POLICY_FILE; configure it in one place", e.Issuer)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// buildAuthenticators turns the credential settings into the ordered list /auth tries.
// Inconsistent settings start anyway, loudly, and trust nothing extra.
func buildAuthenticators(c config, log zerolog.Logger) ([]forwardauth.Authenticator, error) {
	var list []forwardauth.Authenticator
	if !c.ClientAuthEnabled {
		if c.APIKey != "" || c.APIKeysFile != "" {
			log.Warn().Msg("MCP_CLIENT_AUTH_ENABLED=false: MCP_PROXY_API_KEY and API_KEYS_FILE are ignored")
		}
		if !c.TrustProxyAuth {
			log.Warn().Msg("MCP_CLIENT_AUTH_ENABLED=false without TRUST_PROXY_AUTH=true: no credential is accepted, every protected request is denied")
			return nil, nil
		}
		if len(c.proxyCIDRs) == 0 {
			log.Warn().Msg("TRUST_PROXY_AUTH=true but PROXY_AUTH_TRUSTED_CIDRS is empty: no proxy is trusted, every protected request is denied")
		}
		p, err := auth.NewProxyIdentity(auth.ProxyConfig{Header: c.ProxyUserHeader, TrustedCIDRs: c.proxyCIDRs})
		if err != nil {
			return nil, fmt.Errorf("config: PROXY_USER_HEADER, PROXY_AUTH_TRUSTED_CIDRS: %w", err)
		}
		return append(list, p), nil
	}
	if c.TrustProxyAuth {
		log.Warn().Msg("TRUST_PROXY_AUTH=true has no effect while MCP_CLIENT_AUTH_ENABLED=true: proxy identity headers are not trusted")
	}
	var entries []auth.KeyEntry
	if c.APIKeysFile != "" {
		data, err := readBounded(c.APIKeysFile, 4<<20)
		if err != nil {
			return nil, fmt.Errorf("config: API_KEYS_FILE: %w", err)
		}
		if entries, err = auth.ParseKeysFile(data); err != nil {
			return nil, fmt.Errorf("config: API_KEYS_FILE %q: %w", c.APIKeysFile, err)
		}
	}
	if c.APIKey != "" || len(entries) > 0 {
		k, err := auth.NewAPIKeys(auth.APIKeysConfig{Header: c.APIKeyHeader, Key: c.APIKey, Keys: entries})
		if err != nil {
			return nil, fmt.Errorf("config: MCP_PROXY_API_KEY, API_KEYS_FILE: %w", err)
		}
		list = append(list, k)
	}
	return list, nil
}

// gcPercent is the collector's target when GOGC is not set. mcpguard's live heap is
// small (a few MB plus its caches) while every /auth request allocates, so the Go
// default of 100 collects dozens of times a second under load; letting the heap grow 4x
// between collections costs a few tens of MB and takes most of that work off the hot
// path (docs/benchmarks.md). GOGC in the environment wins; GOMEMLIMIT caps the heap.
const gcPercent = 400

// serve runs the decision service until ctx is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	logw := newBatchWriter(stderr, 200*time.Millisecond)
	defer logw.Close()
	log := newLogger(c, logw)
	m := newMetrics()
	s, err := newSetup(ctx, &c, log, m, "")
	if err != nil {
		return err
	}
	defer s.Close()
	ready := &readiness{}
	ready.add("policy", func() error { return nil })
	if s.jwt != nil {
		ready.add("jwt_issuers", s.jwt.Ready)
	}
	if s.as != nil {
		ready.add("authorization_server", func() error {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return s.as.Ready(rctx)
		})
		go gcStore(ctx, s.store, 10*time.Minute, log)
	}
	d := forwardauth.New(forwardauth.Options{
		Policy:                    s.policy,
		Authenticators:            s.authenticators,
		TrustedProxies:            c.trustedProxies,
		PassUpstreamAuthorization: c.PassUpstreamAuthorization,
		Log:                       log,
		BodyReadTimeout:           readTimeout,
	})
	m.registry.MustRegister(d.Collectors()...)
	addr := c.ListenAddr
	if addr == "" {
		addr = ":" + strconv.Itoa(c.Port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:     newServer(log, d, s.meta, s.as, ready, m, c.ProtectedPath),
		ConnContext: d.ConnContext,
		// Headers must arrive within ReadHeaderTimeout and an idle connection closes
		// after IdleTimeout. The whole-request read and write deadlines are set per
		// request by newServer (withDeadlines): every endpoint but /auth gets them.
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	log.Info().Str("addr", ln.Addr().String()).Str("issuer", c.issuer).Str("version", version).
		Int("resources", len(s.policy.Resources())).Int("credential_kinds", len(s.authenticators)).Msg("mcpguard listening")
	fmt.Fprintf(stdout, "mcpguard listening on http://%s\n", ln.Addr())
	if s.generatedKey != "" {
		printQuickstart(stdout, ln.Addr().String(), s.generatedKey)
	}
	if s.as != nil {
		fmt.Fprintf(stdout, "authorization server %s (%s login): %s/.well-known/oauth-authorization-server\n",
			c.issuer, c.Provider, c.issuer)
		for _, r := range s.policy.Resources() {
			fmt.Fprintf(stdout, "protected resource %s: metadata at %s\n", r.URL(), r.MetadataURL())
		}
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	log.Info().Msg("mcpguard shutting down")
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// printQuickstart tells a first-time user the generated key and how to try it. The key
// goes to stdout once, never to the log.
func printQuickstart(w io.Writer, addr, key string) {
	_, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(w, `
No credentials are configured, so mcpguard generated an API key for this run:

  MCP_PROXY_API_KEY=%s

Ask /auth what your proxy would ask:

  curl -i http://localhost:%s/auth -H 'X-Forwarded-Proto: http' -H 'X-Forwarded-Host: localhost' \
       -H 'X-Forwarded-Method: POST' -H 'X-Forwarded-Uri: /mcp' -H 'X-API-Key: %s'

Without the key the answer is 401 with a WWW-Authenticate challenge; the protected-resource
metadata is at http://localhost:%s/.well-known/oauth-protected-resource/mcp
`, key, port, key, port)
}

// checkConfig validates the configuration as serve would and prints it.
func checkConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(args, getenv, stderr)
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

// hashKey prints the SHA-256 of the API key on stdin, for API_KEYS_FILE.
func hashKey(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4097)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-key: %w", err)
	}
	key := strings.TrimRight(line, "\r\n")
	switch {
	case len(key) > 4096:
		return errors.New("hash-key: the key is longer than 4096 bytes")
	case len(key) < 16:
		return errors.New("hash-key: read no key of at least 16 characters on stdin")
	}
	_, err = fmt.Fprintln(stdout, auth.HashKey(key))
	return err
}

// healthcheck asks the local server's /healthz, for a container HEALTHCHECK without curl.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	port := strconv.Itoa(c.Port)
	if c.ListenAddr != "" {
		if _, p, err := net.SplitHostPort(c.ListenAddr); err == nil {
			port = p
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}
