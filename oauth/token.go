package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// tokenError is an RFC 6749 §5.2 error answer of /token or /revoke.
type tokenError struct {
	status      int
	code        string
	description string
	basic       bool // the client authenticated with HTTP Basic: answer with a Basic challenge
}

func badRequest(code, description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: code, description: description}
}

var errInvalidClient = &tokenError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}

// writeTokenError writes e with the headers every token answer carries.
func writeTokenError(w http.ResponseWriter, e *tokenError) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Pragma", "no-cache")
	if e.basic && e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="mcpguard", charset="UTF-8"`)
	}
	writeJSONError(w, e.status, e.code, e.description)
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// handleToken is the token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, terr := readForm(w, r)
	grantType := form.Get("grant_type")
	var resp *tokenResponse
	if terr == nil {
		switch grantType {
		case "authorization_code":
			resp, terr = s.codeGrant(r, form)
		case "refresh_token":
			resp, terr = s.refreshGrant(r, form)
		case "":
			terr = badRequest("invalid_request", "grant_type is required")
		default:
			terr = badRequest("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		}
	}
	if s.cfg.OnGrant != nil {
		label := grantType
		if label != "authorization_code" && label != "refresh_token" {
			label = "other"
		}
		result := "ok"
		if terr != nil {
			result = terr.code
		}
		s.cfg.OnGrant(label, result)
	}
	if terr != nil {
		writeTokenError(w, terr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(resp)
}

// readForm reads a form-encoded POST body of at most maxFormBytes whose parameters
// each appear once (RFC 6749 §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *tokenError) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return url.Values{}, badRequest("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return url.Values{}, badRequest("invalid_request", "the body is not a form of at most 64 KiB")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return r.PostForm, badRequest("invalid_request", "parameter "+errorText(k)+" is repeated")
		}
	}
	return r.PostForm, nil
}

// authenticateClient identifies the client of a /token or /revoke request (RFC 6749
// §2.3): a confidential client by client_secret_basic or client_secret_post (either is
// accepted), a public client by client_id alone. Secrets are compared as SHA-256 in
// constant time.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (store.Client, *tokenError) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	basic := false
	if user, pass, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return store.Client{}, badRequest("invalid_request", "use one client authentication method")
		}
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (id != "" && id != u) {
			return store.Client{}, &tokenError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed", basic: true}
		}
		id, secret, basic = u, p, true
	} else if r.Header.Get("Authorization") != "" {
		return store.Client{}, errInvalidClient
	}
	fail := &tokenError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed", basic: basic}
	if id == "" {
		return store.Client{}, fail
	}
	c, err := s.client(r.Context(), id)
	if err != nil {
		if !errors.Is(err, ErrUnknownClient) {
			return store.Client{}, &tokenError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the client's registration could not be loaded"}
		}
		return store.Client{}, fail
	}
	switch {
	case c.SecretHash == "" && secret == "":
		return c, nil // a public client (an empty Basic password included)
	case c.SecretHash == "" || secret == "":
		return store.Client{}, fail
	}
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(c.SecretHash)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return store.Client{}, fail
	}
	return c, nil
}

// codeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is
// marked used before anything else is checked; a code presented twice revokes every
// token its first exchange issued (RFC 6749 §4.1.2).
func (s *Server) codeGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := s.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	code := form.Get("code")
	if code == "" {
		return nil, badRequest("invalid_request", "code is required")
	}
	ctx := r.Context()
	now := s.now()
	ac, err := s.cfg.Store.UseAuthCode(ctx, hashToken(code), now)
	switch {
	case errors.Is(err, store.ErrCodeUsed):
		if err := s.revokeFamily(ctx, ac.FamilyID, now); err != nil {
			return nil, serverError()
		}
		return nil, badRequest("invalid_grant", "the authorization code was already used; the tokens it issued are revoked")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return nil, badRequest("invalid_grant", "the authorization code is unknown or expired")
	case err != nil:
		return nil, serverError()
	}
	switch {
	case ac.ClientID != c.ID:
		return nil, badRequest("invalid_grant", "the authorization code was issued to another client")
	case form.Get("redirect_uri") != ac.RedirectURI:
		return nil, badRequest("invalid_grant", "redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	if !validVerifier(verifier) {
		return nil, badRequest("invalid_grant", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.CodeChallenge)) != 1 {
		return nil, badRequest("invalid_grant", "code_verifier does not match the code_challenge")
	}
	if res := form.Get("resource"); form.Has("resource") && res != ac.Resource {
		return nil, badRequest("invalid_target", "resource differs from the one authorized")
	}
	g := grant{clientID: c.ID, resource: ac.Resource, scopes: ac.Scopes, identity: ac.Identity, family: ac.FamilyID}
	resp, terr := s.issueTokens(r, c, g, ac.Scopes, now)
	if terr != nil {
		return nil, terr
	}
	s.touchClient(ctx, c)
	return resp, nil
}

// refreshGrant rotates a refresh token (RFC 6749 §6, OAuth 2.1 §4.3.1). The previous
// token stays usable for RefreshGrace after its rotation, so concurrent refreshes do
// not log the user out; used after that, the whole family is revoked. Without scope the
// grant keeps its scopes; a narrower scope narrows the access token only, as the new
// refresh token keeps the original grant (RFC 6749 §6); a wider one is refused.
func (s *Server) refreshGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := s.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	if !refreshAllowed(c) {
		return nil, badRequest("unauthorized_client", "the client is not registered for the refresh_token grant")
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, badRequest("invalid_request", "refresh_token is required")
	}
	ctx := r.Context()
	now := s.now()
	hash := hashToken(rt)
	old, err := s.cfg.Store.GetRefreshToken(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badRequest("invalid_grant", "the refresh token is unknown")
	case err != nil:
		return nil, serverError()
	case old.ClientID != c.ID:
		// Checked before rotating, so another client cannot burn the token.
		return nil, badRequest("invalid_grant", "the refresh token was issued to another client")
	}
	scopes := old.Scopes
	if form.Has("scope") {
		req, why := s.parseScope(form.Get("scope"))
		if why != "" {
			return nil, badRequest("invalid_scope", why)
		}
		for _, sc := range req {
			if !slices.Contains(old.Scopes, sc) {
				return nil, badRequest("invalid_scope", "scope "+sc+" was not granted")
			}
		}
		if len(req) > 0 {
			scopes = req
		}
	}
	if res := form.Get("resource"); form.Has("resource") && res != old.Resource {
		return nil, badRequest("invalid_target", "resource differs from the one authorized")
	}
	if !s.stillAllowed(old.Identity) {
		return nil, badRequest("invalid_grant", "the user is no longer allowed to sign in")
	}
	next := randomString(32)
	_, err = s.cfg.Store.RotateRefreshToken(ctx, hash, store.RefreshToken{
		TokenHash: hashToken(next),
		FamilyID:  old.FamilyID,
		ClientID:  c.ID,
		Resource:  old.Resource,
		Scopes:    old.Scopes,
		Identity:  old.Identity,
		IssuedAt:  now,
		ExpiresAt: now.Add(s.ttl.refresh),
	}, now, s.ttl.grace)
	switch {
	case errors.Is(err, store.ErrTokenReused):
		// The store revoked the family; make it take effect here at once.
		s.deny.addFamily(old.FamilyID, now.Add(s.ttl.access+iatLeeway), now)
		return nil, badRequest("invalid_grant", "the refresh token was already used; its token family is revoked")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrExpired):
		return nil, badRequest("invalid_grant", "the refresh token is revoked or expired")
	case err != nil:
		return nil, serverError()
	}
	g := grant{clientID: c.ID, resource: old.Resource, scopes: scopes, identity: old.Identity, family: old.FamilyID}
	at, exp, err := s.mintAccessToken(g, now)
	if err != nil {
		return nil, serverError()
	}
	s.touchClient(ctx, c)
	return &tokenResponse{
		AccessToken:  at,
		TokenType:    "Bearer",
		ExpiresIn:    int64(exp.Sub(now) / time.Second),
		RefreshToken: next,
		Scope:        strings.Join(scopes, " "),
	}, nil
}

// issueTokens mints the access token of g and, when the client may refresh, the first
// refresh token of g's family, which keeps grantScopes.
func (s *Server) issueTokens(r *http.Request, c store.Client, g grant, grantScopes []string, now time.Time) (*tokenResponse, *tokenError) {
	at, exp, err := s.mintAccessToken(g, now)
	if err != nil {
		return nil, serverError()
	}
	resp := &tokenResponse{
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(exp.Sub(now) / time.Second),
		Scope:       strings.Join(g.scopes, " "),
	}
	if refreshAllowed(c) {
		rt := randomString(32)
		err := s.cfg.Store.CreateRefreshToken(r.Context(), store.RefreshToken{
			TokenHash: hashToken(rt),
			FamilyID:  g.family,
			ClientID:  c.ID,
			Resource:  g.resource,
			Scopes:    grantScopes,
			Identity:  g.identity,
			IssuedAt:  now,
			ExpiresAt: now.Add(s.ttl.refresh),
		})
		switch {
		case errors.Is(err, store.ErrRevoked):
			// The code was replayed while this exchange ran: the family is revoked.
			return nil, badRequest("invalid_grant", "the authorization code was used twice; its tokens are revoked")
		case err != nil:
			return nil, serverError()
		}
		resp.RefreshToken = rt
	}
	return resp, nil
}

// refreshAllowed reports whether c gets refresh tokens: when it registered the
// refresh_token grant, or is a configured client without a grant list. offline_access
// is not required: MCP clients rarely ask for it.
func refreshAllowed(c store.Client) bool {
	if len(c.GrantTypes) == 0 {
		return c.Kind == "static"
	}
	return slices.Contains(c.GrantTypes, "refresh_token")
}

// stillAllowed reports whether the user of a refresh token may still sign in: the
// allowlists, and for local users their presence in the users file, are checked again.
func (s *Server) stillAllowed(id store.Identity) bool {
	if !s.gate.admits(id) {
		return false
	}
	if s.upstream == nil {
		_, ok := s.users[id.Subject]
		return ok
	}
	return true
}

// validVerifier reports whether v is an RFC 7636 §4.1 code_verifier.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// serverError is the answer to a store or signing failure; its cause is not shown.
func serverError() *tokenError {
	return &tokenError{status: http.StatusInternalServerError, code: "server_error", description: "the authorization server could not complete the request"}
}

// revokeFamily revokes every refresh token of family and, through the denylist, every
// access token it issued, here at once and in other replicas at their next store check.
func (s *Server) revokeFamily(ctx context.Context, family string, now time.Time) error {
	if family == "" {
		return nil
	}
	s.deny.addFamily(family, now.Add(s.ttl.access+iatLeeway), now)
	return s.cfg.Store.RevokeFamily(ctx, family, now)
}
