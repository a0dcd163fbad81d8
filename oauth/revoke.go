package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// handleRevoke is the revocation endpoint (RFC 7009). The client authenticates as at
// /token. A refresh token revokes its whole family, and with it every access token
// the family issued; an access token of ours goes on the denylist until it expires.
// Unknown, invalid or expired tokens, and tokens of another client, are answered 200
// without effect (RFC 7009 §2.2), so the endpoint tells nothing about them.
func (t *tokenEndpoint) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, terr := readForm(w, r)
	if terr == nil {
		var c store.Client
		if c, terr = t.authenticateClient(r, form); terr == nil {
			terr = t.revoke(r, c, form.Get("token"), form.Get("token_type_hint"))
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
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
}

// revoke revokes token for client c. The hint only orders the lookups.
func (t *tokenEndpoint) revoke(r *http.Request, c store.Client, token, hint string) *tokenError {
	if token == "" {
		return badRequest(codeInvalidRequest, "token is required")
	}
	switch hint {
	case "", "access_token", "refresh_token":
	default:
		return badRequest(codeUnsupportedTokenType, "token_type_hint must be access_token or refresh_token")
	}
	ctx := r.Context()
	now := t.now()
	if auth.LooksLikeJWT(token) {
		claims, err := t.verifySignature(ctx, token, now)
		if err != nil {
			return nil // not one of ours, or forged: nothing to revoke
		}
		if claims.ClientID != c.ID {
			return nil
		}
		exp := time.Unix(claims.Expiry, 0)
		if !now.Before(exp) {
			return nil // expired already
		}
		t.deny.addJTI(claims.JTI, exp, now)
		if err := t.store.RevokeAccessToken(ctx, claims.JTI, exp); err != nil {
			return serverError(fmt.Errorf("oauth: store: RevokeAccessToken: %w", err))
		}
		return nil
	}
	rt, err := t.store.GetRefreshToken(ctx, hashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return serverError(fmt.Errorf("oauth: store: GetRefreshToken: %w", err))
	case rt.ClientID != c.ID:
		return nil
	}
	if err := t.revokeFamily(ctx, rt.FamilyID, now); err != nil {
		return serverError(err)
	}
	return nil
}

// revokeFamily revokes every refresh token of family and, through the denylist, every
// access token it issued, here at once and in other replicas at their next store check.
func (t *tokenEndpoint) revokeFamily(ctx context.Context, family string, now time.Time) error {
	if family == "" {
		return nil
	}
	t.deny.addFamily(family, now.Add(t.ttl.access+iatLeeway), now)
	if err := t.store.RevokeFamily(ctx, family, now); err != nil {
		return fmt.Errorf("oauth: store: RevokeFamily: %w", err)
	}
	return nil
}
