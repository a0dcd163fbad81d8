package app

// Building what NewHandler and check-config share from a validated configuration.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
	"github.com/rs/zerolog"
)

// newLogger builds the one logger of the process.
func newLogger(c config, w io.Writer) zerolog.Logger {
	if c.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(c.level).With().Timestamp().Logger()
}

// setup is everything NewHandler and check-config share, built from a validated config.
type setup struct {
	policy         *policy.Policy
	authenticators []forwardauth.Authenticator
	meta           *oauth.MetadataHandler
	jwt            *auth.JWTVerifier // nil without external issuers
	issuers        []auth.IssuerConfig
	as             *oauth.Server // mcpguard's authorization server; nil without PROVIDER
	store          store.Store   // the authorization server's state; nil without PROVIDER
	storeDown      error         // why the store could not start at start-up; nil when it did
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
	if s.policy, file, s.issuers, err = loadPolicy(*c); err != nil {
		return nil, err
	}
	if (len(file.Clients) > 0 || len(file.EnterpriseIdPs) > 0 || len(file.WorkloadIssuers) > 0) && c.Provider == "" {
		return nil, errors.New("config: POLICY_FILE: clients, enterprise_idps and workload_issuers need the authorization server: set PROVIDER")
	}
	workloads, err := file.workloadIssuers()
	if err != nil {
		return nil, err
	}
	if c.ClientAuthEnabled && c.APIKey == "" && c.APIKeysFile == "" && len(s.issuers) == 0 && c.Provider == "" {
		// Nothing configured: the embedded default is API-key mode with a fresh key.
		key, err := auth.GenerateKey()
		if err != nil {
			return nil, err
		}
		c.APIKey, s.generatedKey = key, key
		if c.PolicyFile == "" {
			if s.policy, _, _, err = loadPolicy(*c); err != nil { // with /status public, as for any single key
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
		// A Redis or PostgreSQL server that cannot be reached yet does not stop start-up:
		// serve finishes it once the server answers (awaitStore). Any other refusal does.
		if s.store, err = store.New(store.Config{DSN: storeDSN, StartLater: true}); err != nil {
			return nil, fmt.Errorf("config: STORE: %w", err)
		}
		if err := store.Start(ctx, s.store); errors.Is(err, store.ErrUnavailable) {
			s.storeDown = err
		} else if err != nil {
			s.store.Close()
			return nil, fmt.Errorf("config: STORE: %w", err)
		}
		if s.as, err = newAuthServer(ctx, *c, s.store, s.policy, file.Clients, file.EnterpriseIdPs, workloads, m, log); err != nil {
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

// authorizationServers are the issuers a resource's metadata points clients at:
// mcpguard's issuer when its authorization server runs; otherwise the external JWT
// issuers the resource accepts, as agentgateway does, or none. Without PROVIDER nothing
// answers at mcpguard's issuer, and a client sent there fails on a 404 (the TypeScript
// SDK's "Invalid OAuth error response", mcp-remote's "Dynamic Client Registration
// rejected"); the 401 says where the API key goes instead (credentialHint).
func (s *setup) authorizationServers(issuer string, r *policy.Resource) []string {
	if s.as != nil {
		return []string{issuer}
	}
	if s.jwt == nil || !r.Accepts(policy.SourceJWT) {
		return nil
	}
	accepted := r.Issuers()
	var out []string
	for _, ic := range s.issuers {
		if len(accepted) == 0 || slices.Contains(accepted, ic.Issuer) {
			out = append(out, ic.Issuer)
		}
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
