package oauth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcpguard/mcpguard/store"
)

// ErrUnknownClient reports a client_id that names no client: not configured, not
// registered (or its registration expired), and not a usable Client ID Metadata Document.
var ErrUnknownClient = errors.New("oauth: unknown client")

// Defaults of the client settings in Config.
const (
	defaultRegistrationTTL        = 30 * 24 * time.Hour
	defaultRegistrationsPerMinute = 10
	defaultMaxRegisteredClients   = 100000
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

// metadataError is rejected client metadata: an RFC 7591 §3.2.2 error code
// ("invalid_redirect_uri" or "invalid_client_metadata") and a description that is safe
// to show the client.
type metadataError struct {
	code, description string
}

func (e *metadataError) Error() string { return "oauth: " + e.code + ": " + e.description }

func invalidMetadata(format string, args ...any) error {
	return &metadataError{code: "invalid_client_metadata", description: fmt.Sprintf(format, args...)}
}

// parseMetadataObject decodes a JSON object into its members, keyed exactly (unlike
// encoding/json's case-insensitive struct matching, "REDIRECT_URIS" is not
// "redirect_uris"). Of duplicate members the last wins.
func parseMetadataObject(body []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, invalidMetadata("the body is not a JSON object")
	}
	return fields, nil
}

// metadataField decodes member name of fields into dst; absent and null leave dst alone.
func metadataField(fields map[string]json.RawMessage, name string, dst any) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return invalidMetadata("%s has the wrong JSON type", name)
	}
	return nil
}

// clientFromMetadata validates RFC 7591 §2 client metadata and returns the client it
// describes, without ID or secret. Unknown members are ignored (RFC 7591 §2). kind is
// kindDCR or kindCIMD; a metadata document may only describe a public client. scopes are
// the scopes the server knows: a requested scope outside them is dropped, not refused
// (RFC 7591 §2 lets the server replace requested values), because clients send their
// own defaults ("claudeai", "openid").
func clientFromMetadata(fields map[string]json.RawMessage, kind string, scopes []string) (store.Client, error) {
	var (
		redirects, grants, responses []string
		method, appType, name, scope string
		clientURI, logoURI           string
	)
	for _, f := range []struct {
		member string
		dst    any
	}{
		{"redirect_uris", &redirects}, {"grant_types", &grants}, {"response_types", &responses},
		{"token_endpoint_auth_method", &method}, {"application_type", &appType}, {"client_name", &name},
		{"scope", &scope}, {"client_uri", &clientURI}, {"logo_uri", &logoURI},
	} {
		if err := metadataField(fields, f.member, f.dst); err != nil {
			return store.Client{}, err
		}
	}

	if len(redirects) == 0 {
		return store.Client{}, &metadataError{"invalid_redirect_uri", "redirect_uris is required"}
	}
	if len(redirects) > maxRedirectURIs {
		return store.Client{}, &metadataError{"invalid_redirect_uri", fmt.Sprintf("at most %d redirect_uris are allowed", maxRedirectURIs)}
	}
	switch appType {
	case "", appTypeWeb, appTypeNative:
	default:
		return store.Client{}, invalidMetadata("application_type must be %q or %q", appTypeWeb, appTypeNative)
	}
	var uris []string
	native := true
	for i, u := range redirects {
		if err := validateRedirectURI(u, appType); err != nil {
			return store.Client{}, &metadataError{"invalid_redirect_uri", fmt.Sprintf("redirect_uris[%d]: %s", i, strings.TrimPrefix(err.Error(), "oauth: "))}
		}
		native = native && isNativeRedirect(u)
		if !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	if appType == "" {
		// OIDC Registration §2 defaults to web; a client whose every callback only a
		// native app can receive is a native app.
		appType = appTypeWeb
		if native {
			appType = appTypeNative
		}
	}

	if len(grants) == 0 {
		grants = []string{"authorization_code"} // RFC 7591 §2 default
	}
	var grantTypes []string
	for _, g := range grants {
		if g != "authorization_code" && g != "refresh_token" {
			return store.Client{}, invalidMetadata("grant_types may hold only authorization_code and refresh_token")
		}
		if !slices.Contains(grantTypes, g) {
			grantTypes = append(grantTypes, g)
		}
	}
	if !slices.Contains(grantTypes, "authorization_code") {
		return store.Client{}, invalidMetadata("grant_types must include authorization_code")
	}
	for _, r := range responses {
		if r != "code" {
			return store.Client{}, invalidMetadata("response_types may hold only code")
		}
	}

	switch method {
	case "":
		method = authMethodNone
	case authMethodNone:
	case authMethodSecretBasic, authMethodSecretPost:
		if kind == kindCIMD {
			return store.Client{}, invalidMetadata("a client ID metadata document may only describe a public client (token_endpoint_auth_method none)")
		}
	default:
		return store.Client{}, invalidMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}

	if err := validClientName(name); err != nil {
		return store.Client{}, err
	}

	return store.Client{
		Name:                    name,
		RedirectURIs:            uris,
		GrantTypes:              grantTypes,
		ResponseTypes:           []string{"code"},
		ApplicationType:         appType,
		TokenEndpointAuthMethod: method,
		Scope:                   knownScopes(scope, scopes),
		ClientURI:               httpsURLOrEmpty(clientURI),
		LogoURI:                 httpsURLOrEmpty(logoURI),
		Kind:                    kind,
	}, nil
}

// validClientName accepts up to 200 characters of printable text: consent pages show the
// name, so control and format characters (bidi overrides, zero-width) are refused.
func validClientName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClientNameLen {
		return invalidMetadata("client_name must be valid UTF-8 of at most %d characters", maxClientNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return invalidMetadata("client_name must not contain control or formatting characters")
		}
	}
	return nil
}

// knownScopes keeps the space-separated scopes of requested that are in known, once each.
func knownScopes(requested string, known []string) string {
	var kept []string
	for _, s := range strings.Fields(requested) {
		if slices.Contains(known, s) && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, " ")
}

// httpsURLOrEmpty returns raw when it is an https URL fit to link from a consent page,
// and "" otherwise: an unusable client_uri or logo_uri is dropped, not refused.
func httpsURLOrEmpty(raw string) string {
	if raw == "" || len(raw) > maxRedirectURILen || strings.ContainsAny(raw, "#\\") {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || checkURIHost(u.Host) != nil {
		return ""
	}
	return raw
}

// initClients validates the clients part of the configuration and prepares what the
// client endpoints and lookups need: the static clients, the metadata document, the
// registration rate limiter and the CIMD cache.
func (s *Server) initClients(ctx context.Context) error {
	c := s.cfg
	if c.RegistrationTTL < 0 || c.RegistrationsPerMinute < 0 || c.MaxRegisteredClients < 0 {
		return errors.New("oauth: RegistrationTTL, RegistrationsPerMinute and MaxRegisteredClients must not be negative")
	}
	s.registrationTTL = cmp.Or(c.RegistrationTTL, defaultRegistrationTTL)
	s.maxDCRClients = cmp.Or(c.MaxRegisteredClients, defaultMaxRegisteredClients)
	s.registrations = newRateLimiter(cmp.Or(c.RegistrationsPerMinute, defaultRegistrationsPerMinute))

	s.clientScopes = nil
	for _, sc := range append(slices.Clone(c.AllowedScopes), "offline_access") {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return fmt.Errorf("oauth: allowed scope %q is empty or has a space, quote or backslash", sc)
		}
		if !slices.Contains(s.clientScopes, sc) {
			s.clientScopes = append(s.clientScopes, sc)
		}
	}

	u, err := url.Parse(c.Issuer)
	if err != nil {
		return fmt.Errorf("oauth: issuer %q: %w", c.Issuer, err)
	}
	if strings.ContainsAny(u.Path, "{}") || u.RawPath != "" {
		return fmt.Errorf("oauth: issuer %q: the path must not need escaping or hold braces", c.Issuer)
	}
	s.issuerPath = u.Path
	if s.asMetadata, err = buildASMetadata(c.Issuer, s.clientScopes); err != nil {
		return fmt.Errorf("oauth: authorization server metadata: %w", err)
	}

	s.staticClients = make(map[string]store.Client, len(c.Clients))
	for i, sc := range c.Clients {
		cl, err := staticClient(sc)
		if err != nil {
			return fmt.Errorf("oauth: client %d (%q): %w", i, sc.ID, err)
		}
		if _, dup := s.staticClients[cl.ID]; dup {
			return fmt.Errorf("oauth: client id %q is configured twice", cl.ID)
		}
		s.staticClients[cl.ID] = cl
	}

	var domains []string
	for _, d := range c.CIMDAllowedDomains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" || checkURIHost(d) != nil || strings.ContainsAny(d, ":_") || strings.HasPrefix(d, "[") {
			return fmt.Errorf("oauth: CIMD allowed domain %q is not a host name", d)
		}
		domains = append(domains, d)
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
	s.cimd = &cimdCache{
		client:       hc,
		now:          s.now,
		allowPrivate: c.InsecureCIMDAllowPrivate,
		domains:      domains,
		scopes:       s.clientScopes,
		report:       func(result string) { s.reportRegistration(kindCIMD, result) },
		entries:      map[string]cimdEntry{},
		inflight:     map[string]*cimdCall{},
	}
	return nil
}

// staticClient turns a configured client into a store.Client: confidential (secret
// hashed, client_secret_basic) when it has a secret, public otherwise.
func staticClient(sc StaticClient) (store.Client, error) {
	if sc.ID == "" || strings.TrimSpace(sc.ID) != sc.ID {
		return store.Client{}, errors.New("a client needs a client_id without surrounding spaces")
	}
	if len(sc.RedirectURIs) == 0 {
		return store.Client{}, errors.New("a client needs at least one redirect URI")
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
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ApplicationType:         appTypeWeb,
		TokenEndpointAuthMethod: authMethodNone,
		Kind:                    kindStatic,
	}
	if native {
		cl.ApplicationType = appTypeNative
	}
	if sc.Secret != "" {
		cl.SecretHash = clientSecretHash(sc.Secret)
		cl.TokenEndpointAuthMethod = authMethodSecretBasic
	}
	return cl, nil
}

// clientRoutes adds the metadata, registration and their CORS preflights to mux. Paths
// are the issuer's path (usually empty) plus the endpoint, as the metadata advertises;
// for an issuer with a path the metadata is also served at the RFC 8414 §3.1
// path-inserted and the OIDC path-appended well-known URLs.
func (s *Server) clientRoutes(mux *http.ServeMux) {
	meta := s.handleASMetadata()
	preflight := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writePreflight(w, "GET, HEAD, OPTIONS") })
	metaPaths := []string{WellKnownAuthorizationServer + s.issuerPath, WellKnownOpenIDConfiguration + s.issuerPath}
	if s.issuerPath != "" {
		metaPaths = append(metaPaths, s.issuerPath+WellKnownOpenIDConfiguration)
	}
	for _, p := range metaPaths {
		mux.Handle("GET "+p, meta)
		mux.Handle("OPTIONS "+p, preflight)
	}
	mux.Handle("POST "+s.issuerPath+"/register", s.handleRegister())
	mux.Handle("OPTIONS "+s.issuerPath+"/register", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writePreflight(w, "POST, OPTIONS")
	}))
}

// client returns the client registered under id: static (Config.Clients), DCR (the
// store), or the Client ID Metadata Document at id when id is an https URL. Errors wrap
// ErrUnknownClient when there is no such client; any other error is the store's. A
// non-URL id never causes a fetch. The result is a copy the caller may change.
func (s *Server) client(ctx context.Context, id string) (store.Client, error) {
	if id == "" || len(id) > maxRedirectURILen {
		return store.Client{}, fmt.Errorf("oauth: client id of %d bytes: %w", len(id), ErrUnknownClient)
	}
	if c, ok := s.staticClients[id]; ok {
		return cloneClient(c), nil
	}
	c, err := s.cfg.Store.GetClient(ctx, id)
	switch {
	case err == nil:
		if !c.ExpiresAt.IsZero() && !s.now().Before(c.ExpiresAt) {
			return store.Client{}, fmt.Errorf("oauth: client %q expired: %w", id, ErrUnknownClient)
		}
		return c, nil
	case !errors.Is(err, store.ErrNotFound):
		return store.Client{}, fmt.Errorf("oauth: client %q: %w", id, err)
	}
	if s.cimd.isURL(id) {
		c, err := s.cimd.get(ctx, id)
		if err != nil {
			return store.Client{}, fmt.Errorf("oauth: client %q: %w: %w", id, ErrUnknownClient, err)
		}
		return c, nil
	}
	return store.Client{}, fmt.Errorf("oauth: client %q: %w", id, ErrUnknownClient)
}

// touchClient records a use of a DCR client, pushing its expiry to now +
// RegistrationTTL; other kinds do not expire. Errors are ignored: a failed touch only
// shortens the registration's life.
func (s *Server) touchClient(ctx context.Context, c store.Client) {
	if c.Kind != kindDCR || c.ID == "" {
		return
	}
	_ = s.cfg.Store.TouchClient(ctx, c.ID, s.now(), s.registrationTTL)
}
