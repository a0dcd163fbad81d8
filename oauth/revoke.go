package oauth

import (
	"errors"
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
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, terr := readForm(w, r)
	if terr == nil {
		var c store.Client
		if c, terr = s.authenticateClient(r, form); terr == nil {
			terr = s.revoke(r, c, form.Get("token"), form.Get("token_type_hint"))
		}
	}
	if terr != nil {
		writeTokenError(w, terr)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
}

// revoke revokes token for client c. The hint only orders the lookups.
func (s *Server) revoke(r *http.Request, c store.Client, token, hint string) *tokenError {
	if token == "" {
		return badRequest("invalid_request", "token is required")
	}
	switch hint {
	case "", "access_token", "refresh_token":
	default:
		return badRequest("unsupported_token_type", "token_type_hint must be access_token or refresh_token")
	}
	ctx := r.Context()
	now := s.now()
	if auth.LooksLikeJWT(token) {
		claims, err := s.verifyAccessSignature(ctx, token, now)
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
		s.deny.addJTI(claims.JTI, exp, now)
		if err := s.cfg.Store.RevokeAccessToken(ctx, claims.JTI, exp); err != nil {
			return serverError()
		}
		return nil
	}
	rt, err := s.cfg.Store.GetRefreshToken(ctx, hashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return serverError()
	case rt.ClientID != c.ID:
		return nil
	}
	if err := s.revokeFamily(ctx, rt.FamilyID, now); err != nil {
		return serverError()
	}
	return nil
}
