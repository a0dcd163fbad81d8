package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// googleIssuer is the OIDC issuer of Provider "google".
const googleIssuer = "https://accounts.google.com"

// Timeouts of the upstream login.
const (
	upstreamTimeout       = 15 * time.Second // one discovery or code exchange
	upstreamClientTimeout = 10 * time.Second // one HTTP request, for the default client
	discoveryMaxBackoff   = time.Minute
)

// upstream is the identity provider users log in with for Provider "google" and
// "oidc": mcpguard is its OAuth client (x/oauth2, PKCE S256, state, nonce) and verifies
// its ID tokens with go-oidc. Its tokens are used once, in the callback, to learn who
// logged in; they are never stored nor given to anyone.
type upstream struct {
	issuer   string
	google   bool
	hd       string
	client   *http.Client
	config   oauth2.Config // without Endpoint until discovery
	now      func() time.Time
	provider atomic.Pointer[upstreamProvider]
	lastErr  atomic.Pointer[error]
}

// upstreamProvider is what discovery established.
type upstreamProvider struct {
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// newUpstream validates the upstream configuration of c and starts discovery in the
// background, until ctx is done; logins wait for it (ready reports it).
func newUpstream(ctx context.Context, c Config, iss issuer, now func() time.Time) (*upstream, error) {
	u := &upstream{issuer: c.UpstreamIssuer, google: c.Provider == "google", client: c.UpstreamHTTPClient, now: now}
	switch {
	case u.google && u.issuer == "":
		u.issuer = googleIssuer
	case u.issuer == "":
		return nil, errors.New("oauth: provider oidc needs the upstream issuer (OIDC_ISSUER)")
	}
	if !u.google && c.GoogleHostedDomain != "" {
		return nil, errors.New("oauth: a Google hosted domain is set but the provider is not google")
	}
	u.hd = strings.ToLower(c.GoogleHostedDomain)
	if c.UpstreamClientID == "" {
		return nil, fmt.Errorf("oauth: provider %s needs the upstream client id (CLIENT_ID)", c.Provider)
	}
	if u.client == nil {
		u.client = &http.Client{Timeout: upstreamClientTimeout}
	}
	scopes := c.UpstreamScopes
	if scopes == nil {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
		if !u.google && len(c.AllowedGroups) > 0 {
			scopes = append(scopes, "groups")
		}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, errors.New("oauth: the upstream scopes must include openid")
	}
	u.config = oauth2.Config{
		ClientID:     c.UpstreamClientID,
		ClientSecret: c.UpstreamClientSecret,
		RedirectURL:  iss.url + "/callback",
		Scopes:       scopes,
	}
	go u.run(ctx)
	return u, nil
}

// run discovers the upstream, retrying with exponential backoff until it succeeds or
// ctx is done.
func (u *upstream) run(ctx context.Context) {
	wait := time.Second
	for {
		err := u.discover(ctx)
		if err == nil {
			return
		}
		u.lastErr.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, discoveryMaxBackoff)
	}
}

// discover fetches the upstream's OIDC discovery document (its issuer must match).
func (u *upstream) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, u.client), u.issuer)
	if err != nil {
		return fmt.Errorf("oauth: upstream %q discovery: %w", u.issuer, err)
	}
	cfg := u.config
	cfg.Endpoint = p.Endpoint()
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect
	u.provider.Store(&upstreamProvider{
		config:   cfg,
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: u.now}),
	})
	return nil
}

// ready reports whether discovery succeeded, or why not.
func (u *upstream) ready() error {
	if u.provider.Load() != nil {
		return nil
	}
	if err := u.lastErr.Load(); err != nil {
		return *err
	}
	return fmt.Errorf("oauth: upstream %q not discovered yet", u.issuer)
}

// upstreamClaims are the ID token claims mapped to an identity.
type upstreamClaims struct {
	Email             string `json:"email"`
	EmailVerified     any    `json:"email_verified"` // bool, or "true" from some IdPs
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Groups            any    `json:"groups"` // list of strings, or one string
	HostedDomain      string `json:"hd"`
}

// claimStrings reads a groups-like claim: a list of strings, or one string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
