package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// codeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is
// marked used before anything else is checked; a code presented twice revokes every
// token its first exchange issued (RFC 6749 §4.1.2).
func (t *tokenEndpoint) codeGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := t.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	code := form.Get("code")
	if code == "" {
		return nil, badRequest(codeInvalidRequest, "code is required")
	}
	ctx := r.Context()
	now := t.now()
	ac, err := t.store.UseAuthCode(ctx, hashToken(code), now)
	switch {
	case errors.Is(err, store.ErrCodeUsed):
		if err := t.revokeFamily(ctx, ac.FamilyID, now); err != nil {
			terr := serverError(fmt.Errorf("oauth: revoke the tokens of a replayed code: %w", err))
			terr.replay = true
			return nil, terr
		}
		terr := badRequest(codeInvalidGrant, "the authorization code was already used; the tokens it issued are revoked")
		terr.replay = true
		return nil, terr
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return nil, badRequest(codeInvalidGrant, "the authorization code is unknown or expired").because(fmt.Errorf("oauth: store: UseAuthCode: %w", err))
	case err != nil:
		return nil, serverError(fmt.Errorf("oauth: store: UseAuthCode: %w", err))
	}
	switch {
	case ac.ClientID != c.ID:
		return nil, badRequest(codeInvalidGrant, "the authorization code was issued to another client").because(fmt.Errorf("oauth: the code was issued to client %q", ac.ClientID))
	case form.Get("redirect_uri") != ac.RedirectURI:
		return nil, badRequest(codeInvalidGrant, "redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	if !validVerifier(verifier) {
		return nil, badRequest(codeInvalidGrant, "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.CodeChallenge)) != 1 {
		return nil, badRequest(codeInvalidGrant, "code_verifier does not match the code_challenge")
	}
	if res := form.Get("resource"); form.Has("resource") && res != ac.Resource {
		return nil, badRequest(codeInvalidTarget, "resource differs from the one authorized")
	}
	if terr := t.revokedSinceCode(ctx, ac); terr != nil {
		return nil, terr
	}
	g := grant{clientID: c.ID, resource: ac.Resource, scopes: ac.Scopes, identity: ac.Identity, family: ac.FamilyID}
	resp, terr := t.issueTokens(r, c, g, ac.Scopes, now)
	if terr != nil {
		return nil, terr
	}
	t.clients.touch(ctx, c)
	return resp, nil
}

// refreshGrant rotates a refresh token (RFC 6749 §6, OAuth 2.1 §4.3.1). The previous
// token stays usable for RefreshGrace after its rotation, so concurrent refreshes do
// not log the user out; used after that, the whole family is revoked. Without scope the
// grant keeps its scopes; a narrower scope narrows the access token only, as the new
// refresh token keeps the original grant (RFC 6749 §6); a wider one is refused.
func (t *tokenEndpoint) refreshGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := t.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	if !refreshAllowed(c) {
		return nil, badRequest(codeUnauthorizedClient, "the client is not registered for the refresh_token grant")
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, badRequest(codeInvalidRequest, "refresh_token is required")
	}
	ctx := r.Context()
	now := t.now()
	hash := hashToken(rt)
	old, err := t.store.GetRefreshToken(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badRequest(codeInvalidGrant, "the refresh token is unknown")
	case err != nil:
		return nil, serverError(fmt.Errorf("oauth: store: GetRefreshToken: %w", err))
	case old.ClientID != c.ID:
		// Checked before rotating, so another client cannot burn the token.
		return nil, badRequest(codeInvalidGrant, "the refresh token was issued to another client").because(fmt.Errorf("oauth: the refresh token was issued to client %q", old.ClientID))
	}
	scopes := old.Scopes
	if form.Has("scope") {
		req, why := t.scopes.parse(form.Get("scope"))
		if why != "" {
			return nil, badRequest(codeInvalidScope, why)
		}
		for _, sc := range req {
			if !slices.Contains(old.Scopes, sc) {
				return nil, badRequest(codeInvalidScope, "scope "+sc+" was not granted")
			}
		}
		if len(req) > 0 {
			scopes = req
		}
	}
	if res := form.Get("resource"); form.Has("resource") && res != old.Resource {
		return nil, badRequest(codeInvalidTarget, "resource differs from the one authorized")
	}
	if !t.accounts.stillAllowed(old.Identity) {
		return nil, badRequest(codeInvalidGrant, "the user is no longer allowed to sign in").because(fmt.Errorf("oauth: %q is no longer a user or on the login allowlists", who(old.Identity)))
	}
	next := auth.PrefixRefreshToken + randomString(32)
	_, err = t.store.RotateRefreshToken(ctx, hash, store.RefreshToken{
		TokenHash: hashToken(next),
		FamilyID:  old.FamilyID,
		ClientID:  c.ID,
		Resource:  old.Resource,
		Scopes:    old.Scopes,
		Identity:  old.Identity,
		IssuedAt:  now,
		ExpiresAt: now.Add(t.ttl.refresh),
	}, now, t.ttl.grace)
	switch {
	case errors.Is(err, store.ErrTokenReused):
		// The store revoked the family; make it take effect here at once.
		t.deny.addFamily(old.FamilyID, now.Add(t.ttl.access+iatLeeway), now)
		terr := badRequest(codeInvalidGrant, "the refresh token was already used; its token family is revoked")
		terr.replay = true
		return nil, terr
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrExpired):
		return nil, badRequest(codeInvalidGrant, "the refresh token is revoked or expired").because(fmt.Errorf("oauth: store: RotateRefreshToken: %w", err))
	case err != nil:
		return nil, serverError(fmt.Errorf("oauth: store: RotateRefreshToken: %w", err))
	}
	g := grant{clientID: c.ID, resource: old.Resource, scopes: scopes, identity: old.Identity, family: old.FamilyID}
	at, exp, err := t.mint(g, now)
	if err != nil {
		return nil, serverError(fmt.Errorf("oauth: mint an access token: %w", err))
	}
	t.clients.touch(ctx, c)
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
func (t *tokenEndpoint) issueTokens(r *http.Request, c store.Client, g grant, grantScopes []string, now time.Time) (*tokenResponse, *tokenError) {
	at, exp, err := t.mint(g, now)
	if err != nil {
		return nil, serverError(fmt.Errorf("oauth: mint an access token: %w", err))
	}
	resp := &tokenResponse{
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(exp.Sub(now) / time.Second),
		Scope:       strings.Join(g.scopes, " "),
	}
	if refreshAllowed(c) {
		rt := auth.PrefixRefreshToken + randomString(32)
		err := t.store.CreateRefreshToken(r.Context(), store.RefreshToken{
			TokenHash: hashToken(rt),
			FamilyID:  g.family,
			ClientID:  c.ID,
			Resource:  g.resource,
			Scopes:    grantScopes,
			Identity:  g.identity,
			IssuedAt:  now,
			ExpiresAt: now.Add(t.ttl.refresh),
		})
		switch {
		case errors.Is(err, store.ErrRevoked):
			// The code was replayed while this exchange ran: the family is revoked.
			terr := badRequest(codeInvalidGrant, "the authorization code was used twice; its tokens are revoked")
			terr.replay = true
			return nil, terr
		case err != nil:
			return nil, serverError(fmt.Errorf("oauth: store: CreateRefreshToken: %w", err))
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
		return c.Kind == kindStatic
	}
	return slices.Contains(c.GrantTypes, grantRefreshToken)
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
