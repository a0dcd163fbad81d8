package oauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// ErrNoGrant is returned by RevokeGrant for a grant that does not exist, is no longer
// live, or is not the given person's.
var ErrNoGrant = errors.New("oauth: no such grant")

// ErrNoClient is returned by RevokeClient for a client that is neither configured,
// registered, nor holding a grant.
var ErrNoClient = errors.New("oauth: no such client")

// Revoked counts what a revocation ended, for the audit line and the answer.
type Revoked struct {
	Grants   int  `json:"grants"`   // refresh-token families, each with its access tokens
	Sessions int  `json:"sessions"` // browser sessions
	Consents int  `json:"consents"`
	Client   bool `json:"client"` // the client registration itself was deleted
	// Tokens: every access token of the person or client issued until the revocation
	// is refused, on every replica, including those no family lists.
	Tokens bool `json:"tokens"`
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

// RevokeClient revokes everything the client id holds: every grant (refresh family and
// its access tokens), every consent people gave it, and every access token issued to
// it until now (its client_credentials tokens, and any of a grant without refresh
// tokens), at once here and, through the store, on the other replicas. A registered
// (DCR) client is deleted from the store, so it can neither refresh nor authorize
// again. A configured (static) client cannot be deleted, as the configuration defines
// it: its grants and tokens are revoked and Client stays false, and it may obtain new
// tokens. A CIMD client is its document's URL: it may authorize again unless
// CIMD_ALLOWED_DOMAINS excludes it. The client's kind is returned with the counts.
func (s *Server) RevokeClient(ctx context.Context, id string) (kind string, n Revoked, err error) {
	now := s.now()
	grants, err := s.cfg.Store.ListGrants(ctx, "", id, now)
	if err != nil {
		return "", n, fmt.Errorf("oauth: store: ListGrants: %w", err)
	}
	_, static := s.clients.static[id]
	c, err := s.cfg.Store.GetClient(ctx, id)
	switch {
	case static:
		kind = kindStatic
	case err == nil:
		kind = cmp.Or(c.Kind, kindDCR)
	case !errors.Is(err, store.ErrNotFound):
		return "", n, fmt.Errorf("oauth: store: GetClient: %w", err)
	case len(grants) > 0 || s.clients.cimd.isURL(id):
		kind = kindCIMD
	default:
		return "", n, ErrNoClient
	}
	if err := s.revokeSubject(ctx, clientKey(id), now); err != nil {
		return kind, n, err
	}
	n.Tokens = true
	if kind != kindStatic && kind != kindCIMD {
		switch err := s.cfg.Store.DeleteClient(ctx, id); {
		case err == nil:
			n.Client = true
		case !errors.Is(err, store.ErrNotFound):
			return kind, n, fmt.Errorf("oauth: store: DeleteClient: %w", err)
		}
	}
	if n.Grants, err = s.revokeFamilies(ctx, grants, now); err != nil {
		return kind, n, err
	}
	if n.Consents, err = s.cfg.Store.DeleteConsents(ctx, "", id); err != nil {
		return kind, n, fmt.Errorf("oauth: store: DeleteConsents: %w", err)
	}
	return kind, n, nil
}

// RevokePerson revokes everything of subject, at once here and, through the store, on
// every replica sharing it: every access token issued to them until now (a subject
// revocation, which the verifier checks for tokens no family lists too), every refresh
// family, every browser session and every consent. The person is not barred: a new
// login at the identity provider starts afresh, so disable them there too. There is
// no "no such person": a subject with nothing left still has its tokens refused.
func (s *Server) RevokePerson(ctx context.Context, subject string) (Revoked, error) {
	var n Revoked
	if subject == "" {
		return n, errors.New("oauth: revoking a person needs a subject")
	}
	now := s.now()
	// First the subject, so that no new grant of this person can start from a code
	// issued before now (codeGrant checks) while the rest is revoked.
	if err := s.revokeSubject(ctx, subject, now); err != nil {
		return n, err
	}
	n.Tokens = true
	sessions, err := s.cfg.Store.ListSessions(ctx, subject, now)
	if err != nil {
		return n, fmt.Errorf("oauth: store: ListSessions: %w", err)
	}
	for _, ss := range sessions {
		switch err := s.cfg.Store.DeleteSession(ctx, ss.ID); {
		case err == nil:
			n.Sessions++
		case !errors.Is(err, store.ErrNotFound): // ended meanwhile: nothing to do
			return n, fmt.Errorf("oauth: store: DeleteSession: %w", err)
		}
	}
	grants, err := s.cfg.Store.ListGrants(ctx, subject, "", now)
	if err != nil {
		return n, fmt.Errorf("oauth: store: ListGrants: %w", err)
	}
	if n.Grants, err = s.revokeFamilies(ctx, grants, now); err != nil {
		return n, err
	}
	if n.Consents, err = s.cfg.Store.DeleteConsents(ctx, subject, ""); err != nil {
		return n, fmt.Errorf("oauth: store: DeleteConsents: %w", err)
	}
	return n, nil
}

// revokeSubject denies every access token of key (a subject, or a clientKey) issued
// at or before now, here at once and in the store, which tells the other replicas.
func (s *Server) revokeSubject(ctx context.Context, key string, now time.Time) error {
	until := now.Add(s.ttl.access + iatLeeway)
	s.deny.addSubject(key, now, until, now)
	if err := s.cfg.Store.RevokeSubject(ctx, key, now, until); err != nil {
		return fmt.Errorf("oauth: store: RevokeSubject: %w", err)
	}
	return nil
}

// revokeFamilies revokes each grant's family and returns how many it revoked.
func (s *Server) revokeFamilies(ctx context.Context, grants []store.Grant, now time.Time) (int, error) {
	for i, g := range grants {
		if err := s.tokens.revokeFamily(ctx, g.ID, now); err != nil {
			return i, err
		}
	}
	return len(grants), nil
}

// Clients returns every client mcpguard knows: the configured ones (in id order), the
// registered ones the store holds (oldest first), and the CIMD clients that hold a
// grant (by id; created at their first grant, last used at their last refresh), each
// with its Kind. CIMD clients are not kept in the store, so one without a grant is
// not listed.
func (s *Server) Clients(ctx context.Context) ([]store.Client, error) {
	registered, err := s.cfg.Store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: store: ListClients: %w", err)
	}
	grants, err := s.cfg.Store.ListGrants(ctx, "", "", s.now())
	if err != nil {
		return nil, fmt.Errorf("oauth: store: ListGrants: %w", err)
	}
	seen := map[string]bool{}
	var out []store.Client
	for _, id := range slices.Sorted(maps.Keys(s.clients.static)) {
		seen[id] = true
		out = append(out, cloneClient(s.clients.static[id]))
	}
	for _, c := range registered {
		if !seen[c.ID] {
			seen[c.ID] = true
			c.Kind = cmp.Or(c.Kind, kindDCR)
			out = append(out, c)
		}
	}
	var cimd []store.Client
	at := map[string]int{}     // index in cimd
	for _, g := range grants { // oldest GrantedAt first
		if i, ok := at[g.ClientID]; ok {
			if g.LastUsedAt.After(cimd[i].LastUsedAt) {
				cimd[i].LastUsedAt = g.LastUsedAt
			}
			continue
		}
		if !seen[g.ClientID] {
			at[g.ClientID] = len(cimd)
			cimd = append(cimd, store.Client{ID: g.ClientID, Kind: kindCIMD, CreatedAt: g.GrantedAt, LastUsedAt: g.LastUsedAt})
		}
	}
	slices.SortFunc(cimd, func(a, b store.Client) int { return cmp.Compare(a.ID, b.ID) })
	return append(out, cimd...), nil
}

// revokedSinceCode refuses the code ac when its person or its client was revoked
// (RevokePerson, RevokeClient) at or after the code was issued: the revocation ends
// what was under way too.
func (t *tokenEndpoint) revokedSinceCode(ctx context.Context, ac store.AuthCode) *tokenError {
	revoked, err := t.store.TokenRevoked(ctx, store.TokenCheck{
		Subjects: []string{ac.Identity.Subject, clientKey(ac.ClientID)},
		IssuedAt: ac.ExpiresAt.Add(-t.ttl.code),
	})
	if err != nil {
		return serverError(fmt.Errorf("oauth: store: TokenRevoked: %w", err))
	}
	if revoked {
		return badRequest(codeInvalidGrant, "the authorization code was revoked").because(errors.New("oauth: its person or client was revoked since it was issued"))
	}
	return nil
}
