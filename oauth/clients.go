package oauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// ErrUnknownClient reports a client_id that names no client: not configured, not
// registered (or its registration expired), and not a usable Client ID Metadata Document.
var ErrUnknownClient = errors.New("oauth: unknown client")

// Defaults of the client settings in Config.
const (
	defaultRegistrationTTL        = 30 * 24 * time.Hour
	defaultRegistrationsPerMinute = 10
	// defaultRegistrationsPerMinuteTotal is the ceiling over every address: a flood
	// from many addresses (or through a proxy not in TRUSTED_PROXIES) stops there.
	defaultRegistrationsPerMinuteTotal = 120
	defaultMaxRegisteredClients        = 100000
)

// Limits on client registrations and Client ID Metadata Documents.
const (
	maxMetadataBody  = 64 << 10 // a registration request or a metadata document
	maxRedirectURIs  = 20
	maxClientNameLen = 200 // characters
	clientIDPrefix   = "mcpg-"
)

// Token endpoint authentication methods (RFC 7591 §2) mcpguard supports.
const (
	authMethodNone        = "none"
	authMethodSecretBasic = "client_secret_basic"
	authMethodSecretPost  = "client_secret_post"
)

// Registration kinds, as in store.Client.Kind and Config.OnRegistration.
const (
	kindStatic = "static"
	kindDCR    = "dcr"
	kindCIMD   = "cimd"
)

// registry knows the clients: configured ones (Config.Clients), registered ones (DCR,
// RFC 7591, kept in the store and expiring when unused) and those a Client ID Metadata
// Document describes (fetched and cached). It serves /register.
type registry struct {
	iss            issuer
	store          store.Store
	now            func() time.Time
	scopes         scopeSet
	static         map[string]store.Client        // Config.Clients by id
	auth           map[string]*clientAuth         // Config.Clients' methods, keys and machine grants, by id
	ttl            time.Duration                  // life of an unused DCR registration
	maxDCR         int                            // cap on live DCR registrations
	limiter        *rateLimiter                   // DCR requests per source address
	global         *rateLimiter                   // DCR requests in all
	cimd           *cimdCache                     // Client ID Metadata Documents
	clientAddr     func(*http.Request) netip.Addr // Config.ClientAddr; nil: the TCP peer
	onRegistration func(kind, result string)
}

// newRegistry validates the client settings of c and prepares the static clients, the
// registration rate limiter and the CIMD cache.
func newRegistry(c Config, iss issuer, scopes scopeSet, now func() time.Time) (*registry, error) {
	if c.RegistrationTTL < 0 || c.RegistrationsPerMinute < 0 || c.RegistrationsPerMinuteTotal < 0 || c.MaxRegisteredClients < 0 {
		return nil, errors.New("oauth: RegistrationTTL, RegistrationsPerMinute, RegistrationsPerMinuteTotal and MaxRegisteredClients must not be negative")
	}
	reg := &registry{
		iss:            iss,
		store:          c.Store,
		now:            now,
		scopes:         scopes,
		static:         make(map[string]store.Client, len(c.Clients)),
		auth:           make(map[string]*clientAuth, len(c.Clients)),
		ttl:            cmp.Or(c.RegistrationTTL, defaultRegistrationTTL),
		maxDCR:         cmp.Or(c.MaxRegisteredClients, defaultMaxRegisteredClients),
		limiter:        newRateLimiter(cmp.Or(c.RegistrationsPerMinute, defaultRegistrationsPerMinute)),
		global:         newRateLimiter(cmp.Or(c.RegistrationsPerMinuteTotal, defaultRegistrationsPerMinuteTotal)),
		clientAddr:     c.ClientAddr,
		onRegistration: c.OnRegistration,
	}
	hc := newCIMDHTTPClient(c.InsecureCIMDAllowPrivate)
	if c.CIMDHTTPClient != nil {
		cp := *c.CIMDHTTPClient // never follow redirects, whatever client was given
		cp.CheckRedirect = refuseRedirect
		if cp.Timeout == 0 {
			cp.Timeout = cimdTimeout
		}
		hc = &cp
	}
	for i, sc := range c.Clients {
		cl, err := staticClient(sc)
		if err != nil {
			return nil, fmt.Errorf("oauth: client %d (%q): %w", i, sc.ID, err)
		}
		ca, err := newClientAuth(sc, c.Resources, scopes, hc, c.InsecureCIMDAllowPrivate)
		if err != nil {
			return nil, fmt.Errorf("oauth: client %d (%q): %w", i, sc.ID, err)
		}
		if _, dup := reg.static[cl.ID]; dup {
			return nil, fmt.Errorf("oauth: client id %q is configured twice", cl.ID)
		}
		reg.static[cl.ID] = cl
		reg.auth[cl.ID] = ca
	}

	var domains []string
	for _, d := range c.CIMDAllowedDomains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" || checkURIHost(d) != nil || strings.ContainsAny(d, ":_") || strings.HasPrefix(d, "[") {
			return nil, fmt.Errorf("oauth: CIMD allowed domain %q is not a host name", d)
		}
		domains = append(domains, d)
	}
	reg.cimd = &cimdCache{
		client:       hc,
		now:          now,
		allowPrivate: c.InsecureCIMDAllowPrivate,
		domains:      domains,
		scopes:       scopes,
		report:       func(result string) { reg.report(kindCIMD, result) },
		entries:      map[string]cimdEntry{},
		inflight:     map[string]*cimdCall{},
	}
	return reg, nil
}

// staticClient turns a configured client into a store.Client: confidential (secret
// hashed, client_secret_basic unless another method is set; or private_key_jwt with
// keys) when it has a secret or keys, public otherwise. newClientAuth checks the rest.
func staticClient(sc StaticClient) (store.Client, error) {
	if sc.ID == "" || strings.TrimSpace(sc.ID) != sc.ID {
		return store.Client{}, errors.New("a client needs a client_id without surrounding spaces")
	}
	// A resource server (introspection) without grant_types has no grant at all.
	browser := (len(sc.GrantTypes) == 0 && !sc.Introspection) || slices.Contains(sc.GrantTypes, grantAuthorizationCode)
	if browser && len(sc.RedirectURIs) == 0 {
		return store.Client{}, errors.New("a client needs at least one redirect URI")
	}
	if !browser && len(sc.RedirectURIs) > 0 {
		return store.Client{}, errors.New("redirect_uris are for the authorization_code grant, which grant_types does not list")
	}
	native := true
	for _, u := range sc.RedirectURIs {
		if err := validateRedirectURI(u, ""); err != nil {
			return store.Client{}, fmt.Errorf("redirect URI %q: %w", u, err)
		}
		native = native && isNativeRedirect(u)
	}
	if err := validClientName(sc.Name); err != nil {
		return store.Client{}, err
	}
	cl := store.Client{
		ID:                      sc.ID,
		Name:                    cmp.Or(sc.Name, sc.ID),
		RedirectURIs:            slices.Clone(sc.RedirectURIs),
		GrantTypes:              []string{grantAuthorizationCode, grantRefreshToken},
		ResponseTypes:           []string{"code"},
		Scope:                   sc.Scope,
		ApplicationType:         appTypeWeb,
		TokenEndpointAuthMethod: authMethodNone,
		Kind:                    kindStatic,
	}
	if native {
		cl.ApplicationType = appTypeNative
	}
	if len(sc.GrantTypes) > 0 {
		cl.GrantTypes = slices.Clone(sc.GrantTypes)
	}
	if !browser {
		cl.ResponseTypes = nil
		if len(sc.GrantTypes) == 0 {
			cl.GrantTypes = nil
		}
	}
	if sc.Secret != "" {
		cl.SecretHash = clientSecretHash(sc.Secret)
		cl.TokenEndpointAuthMethod = authMethodSecretBasic
	}
	if sc.SecretHash != "" {
		cl.SecretHash = sc.SecretHash
		cl.TokenEndpointAuthMethod = authMethodSecretBasic
	}
	if sc.TokenEndpointAuthMethod != "" {
		cl.TokenEndpointAuthMethod = sc.TokenEndpointAuthMethod
	} else if len(sc.JWKS) > 0 || sc.JWKSURI != "" {
		cl.TokenEndpointAuthMethod = authMethodPrivateKeyJWT
	}
	return cl, nil
}

// routes adds /register and its CORS preflight to mux, under the issuer's path.
func (reg *registry) routes(mux routeSet) {
	mux.Handle("POST "+reg.iss.path+"/register", reg.handleRegister())
	mux.HandleFunc("OPTIONS "+reg.iss.path+"/register", preflight("POST, OPTIONS"))
}

// lookup returns the client registered under id: static (Config.Clients), DCR (the
// store), or the Client ID Metadata Document at id when id is an https URL. Errors wrap
// ErrUnknownClient when there is no such client; any other error is the store's. A
// non-URL id never causes a fetch. The result is a copy the caller may change.
func (reg *registry) lookup(ctx context.Context, id string) (store.Client, error) {
	if id == "" || len(id) > maxRedirectURILen {
		return store.Client{}, fmt.Errorf("oauth: client id of %d bytes: %w", len(id), ErrUnknownClient)
	}
	if c, ok := reg.static[id]; ok {
		return cloneClient(c), nil
	}
	c, err := reg.store.GetClient(ctx, id)
	switch {
	case err == nil:
		if !c.ExpiresAt.IsZero() && !reg.now().Before(c.ExpiresAt) {
			return store.Client{}, fmt.Errorf("oauth: client %q expired: %w", id, ErrUnknownClient)
		}
		return c, nil
	case !errors.Is(err, store.ErrNotFound):
		return store.Client{}, fmt.Errorf("oauth: client %q: store: GetClient: %w", id, err)
	}
	if reg.cimd.isURL(id) {
		c, err := reg.cimd.get(ctx, id)
		if err != nil {
			return store.Client{}, fmt.Errorf("oauth: client %q: %w: %w", id, ErrUnknownClient, err)
		}
		return c, nil
	}
	return store.Client{}, fmt.Errorf("oauth: client %q: %w", id, ErrUnknownClient)
}

// touch records a use of a DCR client, pushing its expiry to now + RegistrationTTL;
// other kinds do not expire. Errors are ignored: a failed touch only shortens the
// registration's life.
func (reg *registry) touch(ctx context.Context, c store.Client) {
	if c.Kind != kindDCR || c.ID == "" {
		return
	}
	_ = reg.store.TouchClient(ctx, c.ID, reg.now(), reg.ttl)
}

// report calls Config.OnRegistration when it is set.
func (reg *registry) report(kind, result string) {
	if reg.onRegistration != nil {
		reg.onRegistration(kind, result)
	}
}
