package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// introspection is an RFC 7662 §2.2 answer. An inactive token is {"active":false} and
// nothing else, whatever made it inactive.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Email     string `json:"email,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
}

// handleIntrospect is the introspection endpoint (RFC 7662) for resource servers: a
// configured confidential client with introspection set, authenticated as at /token.
// Any other caller gets 401 invalid_client (every caller, when no resource server is
// configured and the endpoint is not advertised). A live access token of ours is described;
// a refresh token only when token_type_hint is refresh_token (see introspectRefresh);
// everything else (expired, revoked, another issuer's, garbage) is {"active":false}.
func (t *tokenEndpoint) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, terr := readForm(w, r)
	var answer introspection
	if terr == nil {
		var c store.Client
		if c, terr = t.authenticateClient(r, form); terr == nil {
			if ca := t.clients.auth[c.ID]; ca == nil || !ca.introspect {
				terr = invalidClient(false, fmt.Errorf("oauth: client %q is not a resource server that may introspect tokens", c.ID))
			} else {
				answer, terr = t.introspect(r.Context(), form.Get("token"), form.Get("token_type_hint"))
			}
			if terr != nil {
				terr.clientID = c.ID
			}
		}
	}
	if terr != nil {
		if terr.clientID == "" {
			terr.clientID = claimedClientID(r, form)
		}
		t.fail(w, r, terr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(answer)
}

// introspect describes token. The hint never makes an access token inactive; only
// the refresh_token hint lets a refresh token be looked up.
func (t *tokenEndpoint) introspect(ctx context.Context, token, hint string) (introspection, *tokenError) {
	if token == "" {
		return introspection{}, badRequest(codeInvalidRequest, "token is required")
	}
	p, err := t.verifyToken(ctx, token)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredential):
		if hint == "refresh_token" && !auth.LooksLikeJWT(token) {
			return t.introspectRefresh(ctx, token)
		}
		return introspection{}, nil
	default:
		return introspection{}, serverError(fmt.Errorf("oauth: introspect: %w", err))
	}
	// Live and not revoked: the claims the signature covers give the rest.
	c, err := t.verifySignature(ctx, token, t.now())
	if err != nil {
		return introspection{}, nil
	}
	return introspection{
		Active:    true,
		Scope:     strings.Join(p.Scopes, " "),
		ClientID:  c.ClientID,
		Username:  c.Email,
		Email:     c.Email,
		TokenType: "Bearer",
		Expiry:    c.Expiry,
		IssuedAt:  c.IssuedAt,
		Subject:   c.Subject,
		Audience:  c.Audience,
		Issuer:    c.Issuer,
		JTI:       c.JTI,
	}, nil
}

// introspectRefresh describes a refresh token found by its hash in the store: active
// while current (not rotated, not revoked, its family not revoked) and unexpired. It
// has token_type refresh_token, not Bearer: it opens no resource.
func (t *tokenEndpoint) introspectRefresh(ctx context.Context, token string) (introspection, *tokenError) {
	rt, err := t.store.GetRefreshToken(ctx, hashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return introspection{}, nil
	case err != nil:
		return introspection{}, serverError(fmt.Errorf("oauth: store: GetRefreshToken: %w", err))
	}
	now := t.now()
	if !rt.RotatedAt.IsZero() || !rt.RevokedAt.IsZero() || !now.Before(rt.ExpiresAt) || t.deny.Denied("", rt.FamilyID, "", "", now, now) {
		return introspection{}, nil
	}
	revoked, err := t.store.FamilyRevoked(ctx, rt.FamilyID)
	if err != nil {
		return introspection{}, serverError(fmt.Errorf("oauth: store: FamilyRevoked: %w", err))
	}
	if revoked {
		return introspection{}, nil
	}
	return introspection{
		Active:    true,
		Scope:     strings.Join(rt.Scopes, " "),
		ClientID:  rt.ClientID,
		Username:  rt.Identity.Email,
		Email:     rt.Identity.Email,
		TokenType: grantRefreshToken,
		Expiry:    rt.ExpiresAt.Unix(),
		IssuedAt:  rt.IssuedAt.Unix(),
		Subject:   rt.Identity.Subject,
		Audience:  rt.Resource,
		Issuer:    t.iss.url,
	}, nil
}
