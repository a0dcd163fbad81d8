package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults and bounds of the authorization flow.
const (
	defaultAccessTokenTTL  = 10 * time.Minute
	defaultRefreshTokenTTL = 30 * 24 * time.Hour
	defaultCodeTTL         = time.Minute
	defaultRefreshGrace    = 30 * time.Second
	// scopeOfflineAccess asks for a refresh token; it is always allowed.
	scopeOfflineAccess = "offline_access"
	// maxStateLen bounds the client's state: it travels in the session cookie, which
	// browsers cap at 4 KiB.
	maxStateLen = 512
)

// initFlow validates the flow's configuration and loads what it needs: the signing
// keys (generated on first start), the session keys, the pages, and the login provider.
func (s *Server) initFlow(ctx context.Context) error {
	s.flowCtx = ctx
	u, _ := url.Parse(s.cfg.Issuer) // New checked it
	s.prefix = strings.TrimSuffix(u.Path, "/")
	for _, d := range []struct {
		name string
		v    time.Duration
		def  time.Duration
		dst  *time.Duration
	}{
		{"AccessTokenTTL", s.cfg.AccessTokenTTL, defaultAccessTokenTTL, &s.ttl.access},
		{"RefreshTokenTTL", s.cfg.RefreshTokenTTL, defaultRefreshTokenTTL, &s.ttl.refresh},
		{"CodeTTL", s.cfg.CodeTTL, defaultCodeTTL, &s.ttl.code},
		{"RefreshGrace", s.cfg.RefreshGrace, defaultRefreshGrace, &s.ttl.grace},
	} {
		switch {
		case d.v < 0:
			return fmt.Errorf("oauth: %s must not be negative", d.name)
		case d.v == 0:
			*d.dst = d.def
		default:
			*d.dst = d.v
		}
	}
	s.scopes = map[string]bool{scopeOfflineAccess: true}
	for _, sc := range s.cfg.AllowedScopes {
		if !validScopeToken(sc) {
			return fmt.Errorf("oauth: allowed scope %q is not an RFC 6749 scope token", sc)
		}
		s.scopes[sc] = true
	}
	for _, res := range s.cfg.Resources {
		if r, err := url.Parse(res); err != nil || !r.IsAbs() || r.Host == "" || r.Fragment != "" {
			return fmt.Errorf("oauth: resource %q is not an absolute URL without fragment (RFC 8707 §2)", res)
		}
	}
	var err error
	if s.gate, err = newGate(s.cfg.AllowedEmails, s.cfg.AllowedDomains, s.cfg.AllowedGroups); err != nil {
		return err
	}
	if err := s.initSessions(); err != nil {
		return err
	}
	if s.pages, err = parsePages(); err != nil {
		return err
	}
	s.deny = newDenylist()
	if err := s.initKeys(ctx); err != nil {
		return err
	}
	switch s.cfg.Provider {
	case "", "local":
		return s.initLocal()
	case "google", "oidc":
		return s.initUpstream(ctx)
	}
	return fmt.Errorf("oauth: provider %q is not one of local, google, oidc", s.cfg.Provider)
}

// flowRoutes adds the flow's endpoints, under the issuer's path.
func (s *Server) flowRoutes(mux *http.ServeMux) {
	p := s.prefix
	mux.HandleFunc("GET "+p+"/jwks", s.handleJWKS)
	mux.HandleFunc("OPTIONS "+p+"/jwks", preflight("GET, OPTIONS"))
	mux.HandleFunc("GET "+p+"/authorize", s.handleAuthorize)
	mux.HandleFunc("GET "+p+"/login", s.handleLoginPage)
	mux.HandleFunc("POST "+p+"/login", s.handleLoginSubmit)
	mux.HandleFunc("GET "+p+"/callback", s.handleCallback)
	mux.HandleFunc("GET "+p+"/consent", s.handleConsentPage)
	mux.HandleFunc("POST "+p+"/consent", s.handleConsentSubmit)
	mux.HandleFunc("POST "+p+"/token", s.handleToken)
	mux.HandleFunc("OPTIONS "+p+"/token", preflight("POST, OPTIONS"))
	mux.HandleFunc("POST "+p+"/revoke", s.handleRevoke)
	mux.HandleFunc("OPTIONS "+p+"/revoke", preflight("POST, OPTIONS"))
	mux.HandleFunc("GET "+p+"/logout", s.handleLogout)
	mux.HandleFunc("POST "+p+"/logout", s.handleLogout)
}

// preflight answers CORS preflights of a public endpoint.
func preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writePreflight(w, methods) }
}

// authorizeError is a refused authorization request. Before the client and its
// redirect URI are established it is shown to the user (page); after, it goes back to
// the client as an RFC 6749 §4.1.2.1 error response.
type authorizeError struct {
	page        bool
	status      int    // of the page
	title       string // of the page
	code        string // OAuth error code, for a redirect
	description string
}

func pageError(status int, title, description string) *authorizeError {
	return &authorizeError{page: true, status: status, title: title, description: description}
}

func redirectError(code, description string) *authorizeError {
	return &authorizeError{code: code, description: description}
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OAuth 2.1 §4.1.1).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ar, aerr := s.parseAuthorize(r.Context(), r.URL.Query())
	if aerr != nil {
		if aerr.page {
			s.errorPage(w, r, aerr.status, aerr.title, aerr.description)
			return
		}
		s.redirectToClient(w, r, ar.RedirectURI, url.Values{"error": {aerr.code}, "error_description": {aerr.description}}, ar.State)
		return
	}
	forceLogin := ar.Prompt == "login"
	if forceLogin {
		ar.Prompt = "" // satisfied by the login about to happen
	}
	ss := s.session(r)
	ss.setPending(ar)
	id, ok := ss.identity(s.now())
	if ok && (forceLogin || !s.gate.admits(id)) {
		ss.clearIdentity()
		ok = false
	}
	if !ok {
		if ar.Prompt == "none" {
			ss.clearPending()
			s.saveSession(w, r, ss)
			s.redirectToClient(w, r, ar.RedirectURI, url.Values{"error": {"login_required"}, "error_description": {"the user is not logged in"}}, ar.State)
			return
		}
		s.startLogin(w, r, ss)
		return
	}
	s.proceed(w, r, ss, id, ar)
}

// parseAuthorize checks an authorization request in the order RFC 6749 §4.1.2.1 asks:
// first the client and its redirect URI, whose failures are never redirected, then
// everything else, whose failures are. The returned request carries the redirect URI
// and state an error response needs.
func (s *Server) parseAuthorize(ctx context.Context, q url.Values) (authRequest, *authorizeError) {
	var ar authRequest
	clientID, ok := single(q, "client_id")
	if !ok || clientID == "" {
		return ar, pageError(http.StatusBadRequest, "Invalid request", "The request has no client_id, or more than one.")
	}
	c, err := s.client(ctx, clientID)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return ar, pageError(http.StatusBadRequest, "Unknown application", "mcpguard does not know the application that sent you here. Ask it to register again.")
	case err != nil:
		return ar, pageError(http.StatusBadGateway, "Application not available", "The application's registration could not be loaded. Try again in a moment.")
	}
	redirectURI, ok := single(q, "redirect_uri")
	switch {
	case !ok || redirectURI == "":
		return ar, pageError(http.StatusBadRequest, "Invalid request", "The request has no redirect_uri, or more than one.")
	case strings.Contains(redirectURI, "#") || !redirectAllowed(c, redirectURI):
		return ar, pageError(http.StatusBadRequest, "Invalid redirect URI", "The redirect URI is not registered for this application, so mcpguard will not send you there.")
	}
	ar.ClientID, ar.RedirectURI = clientID, redirectURI

	// From here on, errors go back to the client.
	state, ok := single(q, "state")
	if !ok {
		return ar, redirectError("invalid_request", "state is repeated")
	}
	if len(state) > maxStateLen {
		return ar, redirectError("invalid_request", fmt.Sprintf("state is longer than %d bytes", maxStateLen))
	}
	ar.State = state
	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			return ar, redirectError("invalid_request", "parameter "+errorText(k)+" is repeated")
		}
	}
	switch {
	case q.Has("request"):
		return ar, redirectError("request_not_supported", "request objects are not supported")
	case q.Has("request_uri"):
		return ar, redirectError("request_uri_not_supported", "request_uri is not supported")
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return ar, redirectError("invalid_request", "response_type is required")
	case rt != "code":
		return ar, redirectError("unsupported_response_type", "only response_type=code is supported")
	case len(c.ResponseTypes) > 0 && !slices.Contains(c.ResponseTypes, "code"),
		len(c.GrantTypes) > 0 && !slices.Contains(c.GrantTypes, "authorization_code"):
		return ar, redirectError("unauthorized_client", "the client is not registered for the authorization code grant")
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "":
		return ar, redirectError("invalid_request", "PKCE S256 is required: code_challenge is missing")
	case method == "" || method == "plain":
		return ar, redirectError("invalid_request", "PKCE S256 is required: code_challenge_method must be S256")
	case method != "S256":
		return ar, redirectError("invalid_request", "code_challenge_method must be S256")
	case len(challenge) != 43 || !onlyBase64URL(challenge):
		return ar, redirectError("invalid_request", "code_challenge is not a base64url SHA-256 (43 characters)")
	}
	ar.Challenge = challenge
	switch res := q["resource"]; {
	case len(res) == 0:
		ar.Resource = s.cfg.Resources[0]
	case len(res) > 1:
		return ar, redirectError("invalid_target", "request one resource at a time")
	case !slices.Contains(s.cfg.Resources, res[0]):
		return ar, redirectError("invalid_target", "the resource is not one this server issues tokens for")
	default:
		ar.Resource = res[0]
	}
	scopes, why := s.parseScope(q.Get("scope"))
	if why != "" {
		return ar, redirectError("invalid_scope", why)
	}
	if len(scopes) == 0 {
		// RFC 6749 §3.3: an omitted scope gets a pre-defined default, every allowed scope.
		scopes = slices.Clone(s.cfg.AllowedScopes)
	}
	ar.Scopes = scopes
	for p := range strings.FieldsSeq(q.Get("prompt")) {
		switch p {
		case "none", "login", "consent":
			if ar.Prompt != "" && ar.Prompt != p {
				return ar, redirectError("invalid_request", "prompt=none cannot be combined with other values")
			}
			ar.Prompt = p
		}
	}
	ar.ID = randomString(16)
	return ar, nil
}

// single returns the value of parameter k, and false when it is repeated (RFC 6749
// §3.1: parameters MUST NOT be included more than once).
func single(q url.Values, k string) (string, bool) {
	v := q[k]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// parseScope splits a scope parameter (RFC 6749 §3.3) and checks every scope against
// the allowed ones; why explains a refusal. Repeated scopes count once.
func (s *Server) parseScope(scope string) (scopes []string, why string) {
	for sc := range strings.SplitSeq(scope, " ") {
		switch {
		case sc == "" || slices.Contains(scopes, sc):
		case !validScopeToken(sc):
			return nil, "a scope contains a character RFC 6749 §3.3 does not allow"
		case !s.scopes[sc]:
			return nil, "scope " + sc + " is not allowed"
		default:
			scopes = append(scopes, sc)
		}
	}
	return scopes, ""
}

// errorText keeps the characters RFC 6749 §4.1.2.1 and §5.2 allow in error and
// error_description (%x20-21 / %x23-5B / %x5D-7E), at most 128 of them, so a value a
// request chose can be named in an error.
func errorText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 128; i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// onlyBase64URL reports whether s is made of the unpadded base64url alphabet.
func onlyBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// redirectToClient sends the user to the client's redirect URI with params, state
// (when the request had one) and iss (RFC 9207) added to its query; the registered
// query is kept as it is.
func (s *Server) redirectToClient(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	if state != "" {
		params.Set("state", state)
	}
	params.Set("iss", s.cfg.Issuer)
	sep := "?"
	switch {
	case strings.HasSuffix(redirectURI, "?"):
		sep = ""
	case strings.Contains(redirectURI, "?"):
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Location", redirectURI+sep+params.Encode())
	w.WriteHeader(http.StatusFound)
}

// saveOrFail saves the session, or shows an error page and returns false.
func (s *Server) saveOrFail(w http.ResponseWriter, r *http.Request, ss *session) bool {
	if err := s.saveSession(w, r, ss); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"mcpguard could not keep your session: the request or your account data is too large for a browser cookie.")
		return false
	}
	return true
}
