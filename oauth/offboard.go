package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcpguard/mcpguard/store"
)

// ErrNoGrant is returned by RevokeGrant for a grant that does not exist, is no longer
// live, or is not the given person's.
var ErrNoGrant = errors.New("oauth: no such grant")

// Revoked counts what a revocation ended, for the audit line and the answer.
type Revoked struct {
	Grants   int  `json:"grants"`   // refresh-token families, each with its access tokens
	Sessions int  `json:"sessions"` // browser sessions
	Consents int  `json:"consents"`
	Client   bool `json:"client"` // the client registration itself was deleted
}

// RevokeGrant revokes the grant id (a refresh-token family: every refresh token of it
// and, through the denylist, every access token it issued, at once here and on the
// other replicas through the store) and forgets the consent behind it, so the client's
// next authorization asks the person again. subject, when set, must be the grant's
// holder (a person revoking their own grant at /account); empty, any grant matches (an
// operator through the admin API).
func (s *Server) RevokeGrant(ctx context.Context, id, subject string) (store.Grant, Revoked, error) {
	now := s.now()
	grants, err := s.cfg.Store.ListGrants(ctx, subject, "", now)
	if err != nil {
		return store.Grant{}, Revoked{}, fmt.Errorf("oauth: store: ListGrants: %w", err)
	}
	for _, g := range grants {
		if g.ID != id {
			continue
		}
		if err := s.tokens.revokeFamily(ctx, g.ID, now); err != nil {
			return g, Revoked{}, err
		}
		n, err := s.cfg.Store.DeleteConsents(ctx, g.Subject, g.ClientID)
		if err != nil {
			return g, Revoked{Grants: 1}, fmt.Errorf("oauth: store: DeleteConsents: %w", err)
		}
		return g, Revoked{Grants: 1, Consents: n}, nil
	}
	return store.Grant{}, Revoked{}, ErrNoGrant
}
