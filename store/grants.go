package store

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"
)

// Grant is one live refresh-token family: what a person (or the client itself) let a
// client hold on a resource, as /account and the admin API list it. Its ID is the
// family's ID, which is what revoking a grant revokes.
type Grant struct {
	ID         string    `json:"id"` // the refresh-token family
	ClientID   string    `json:"client_id"`
	Subject    string    `json:"subject"`
	Email      string    `json:"email,omitempty"`
	Resource   string    `json:"resource,omitempty"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`   // the family's first token was issued
	LastUsedAt time.Time `json:"last_used_at"` // the family's current token was issued (the last refresh)
	ExpiresAt  time.Time `json:"expires_at"`   // of the current token
}

// GrantStore lists what the store holds for people and clients, for /account and the
// admin API, and forgets consents when a grant, client or person is revoked.
type GrantStore interface {
	// ListClients returns every live (unexpired) client, oldest CreatedAt first (ties
	// by ID).
	ListClients(ctx context.Context) ([]Client, error)
	// ListGrants returns the refresh-token families live at now whose subject is
	// subject and whose client is clientID; an empty filter matches every value, and
	// both empty list every grant. A family is live while it is not revoked and its
	// current (not rotated) token has not expired. Oldest GrantedAt first (ties by ID).
	ListGrants(ctx context.Context, subject, clientID string, now time.Time) ([]Grant, error)
	// DeleteConsents removes the consents subject gave clientID, an empty filter
	// matching every value; at least one of the two must be set (errNoConsentFilter).
	// It returns how many it removed.
	DeleteConsents(ctx context.Context, subject, clientID string) (int, error)
	// SubjectsByEmail returns the distinct subjects of the browser sessions and the
	// refresh tokens live at now whose Identity.Email equals email after ASCII case
	// folding (exactly: no prefix, substring or Unicode folding), sorted. A refresh
	// token is live while it has not expired and neither it nor its family is revoked.
	// It is how the admin API finds a person by email whose subject is an upstream
	// provider's opaque id. An empty email is errNoEmail.
	SubjectsByEmail(ctx context.Context, email string, now time.Time) ([]string, error)
}

// errNoConsentFilter is DeleteConsents called with neither a subject nor a client.
var errNoConsentFilter = errors.New("store: deleting consents needs a subject, a client or both")

// errNoEmail is SubjectsByEmail called with an empty email.
var errNoEmail = errors.New("store: finding subjects by email needs an email")

// foldEmail is email with ASCII A-Z lowered and every other byte kept, the one case
// folding SubjectsByEmail applies (emails are stored as the identity provider gave them).
func foldEmail(email string) string {
	b := []byte(email)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// subjectsWithEmail is the sorted distinct subjects of the sessions and refresh tokens
// live at now whose email folds to folded (foldEmail of the email asked for). revoked
// reports whether a family was revoked. Every backend ends in it, so the rules are in
// one place; a backend may pass more records than match.
func subjectsWithEmail(folded string, sessions []Session, tokens []RefreshToken, now time.Time, revoked func(family string) bool) []string {
	seen := map[string]bool{}
	for _, s := range sessions {
		if s.live(now) && s.Identity.Subject != "" && foldEmail(s.Identity.Email) == folded {
			seen[s.Identity.Subject] = true
		}
	}
	for _, t := range tokens {
		if seen[t.Identity.Subject] || t.Identity.Subject == "" || foldEmail(t.Identity.Email) != folded {
			continue
		}
		if !expired(t.ExpiresAt, now) && t.RevokedAt.IsZero() && !revoked(t.FamilyID) {
			seen[t.Identity.Subject] = true
		}
	}
	out := make([]string, 0, len(seen))
	for sub := range seen {
		out = append(out, sub)
	}
	slices.Sort(out)
	return out
}

// grantsOf folds refresh tokens into the live grants they make at now, filtered by
// subject and clientID (empty matches all), sorted as ListGrants returns them. revoked
// reports whether a family was revoked. Every backend that reads tokens one by one
// uses it, so the rules are in one place.
func grantsOf(tokens []RefreshToken, subject, clientID string, now time.Time, revoked func(family string) bool) []Grant {
	byFamily := map[string]*Grant{}
	for _, t := range tokens {
		if (subject != "" && t.Identity.Subject != subject) || (clientID != "" && t.ClientID != clientID) {
			continue
		}
		g, ok := byFamily[t.FamilyID]
		if !ok {
			g = &Grant{ID: t.FamilyID, ClientID: t.ClientID, Subject: t.Identity.Subject, Email: t.Identity.Email, GrantedAt: t.IssuedAt}
			byFamily[t.FamilyID] = g
		}
		if t.IssuedAt.Before(g.GrantedAt) {
			g.GrantedAt = t.IssuedAt
		}
		current := t.RotatedAt.IsZero() && t.RevokedAt.IsZero() && !expired(t.ExpiresAt, now)
		if current && !t.IssuedAt.Before(g.LastUsedAt) {
			g.LastUsedAt, g.ExpiresAt = t.IssuedAt, t.ExpiresAt
			g.Resource, g.Scopes = t.Resource, slices.Clone(t.Scopes)
		}
	}
	out := make([]Grant, 0, len(byFamily))
	for _, g := range byFamily {
		if g.ExpiresAt.IsZero() || revoked(g.ID) {
			continue // no current token: rotated away, expired or revoked
		}
		if g.Scopes == nil {
			g.Scopes = []string{}
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Grant) int {
		return cmp.Or(a.GrantedAt.Compare(b.GrantedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// sortClients orders clients as ListClients returns them.
func sortClients(cs []Client) {
	slices.SortFunc(cs, func(a, b Client) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
