package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// snapshot is every live record of a store: what [Copy] moves.
type snapshot struct {
	clients  []Client
	codes    []AuthCode
	tokens   []RefreshToken
	revoked  map[string]time.Time // family ID -> revoked at
	denylist map[string]time.Time // jti -> expires at
	consents []Consent
	keys     []SigningKey
	sessions []Session
	subjects map[string]SubjectRevocation // subject (or client key) -> its revocation
}

// dumper is implemented by every backend of this package.
type dumper interface {
	// dump returns the records live at now: unexpired clients, codes, refresh tokens and
	// denylist entries, sessions that have not ended; every revoked family, consent and
	// signing key.
	dump(ctx context.Context, now time.Time) (snapshot, error)
}

// Counts says how many records of each kind [Copy] wrote, and how many the target
// already held.
type Counts struct {
	Clients, AuthCodes, RefreshTokens, RevokedFamilies, Denylist, Consents, Sessions, SigningKeys int
	// RevokedSubjects counts the revocations of a whole person or client, each kept
	// until the access tokens it covers have expired.
	RevokedSubjects int
	// Present counts the records the target already had (a second run copies none).
	Present int
}

// String is the counts as one line, for `mcpguard store migrate`.
func (c Counts) String() string {
	return fmt.Sprintf("clients %d, authorization codes %d, refresh tokens %d, revoked families %d, revoked access tokens %d, revoked people and clients %d, consents %d, browser sessions %d, signing keys %d (already there: %d)",
		c.Clients, c.AuthCodes, c.RefreshTokens, c.RevokedFamilies, c.Denylist, c.RevokedSubjects, c.Consents, c.Sessions, c.SigningKeys, c.Present)
}

// Copy writes every record live at now in from into to, as they are: used codes stay
// used, rotated and revoked tokens stay so, revoked families stay revoked. A record the
// target already has is left as the target has it, so Copy may run again (after a
// failure, or to catch up before switching replicas over) and copies only what is new.
// Both stores must be of this package.
func Copy(ctx context.Context, from, to Store, now time.Time) (Counts, error) {
	d, ok := from.(dumper)
	if !ok {
		return Counts{}, fmt.Errorf("store: copy: cannot read every record of a %T", from)
	}
	snap, err := d.dump(ctx, now)
	if err != nil {
		return Counts{}, fmt.Errorf("store: copy: read the source: %w", err)
	}
	var n Counts
	// added counts one record written, or present when the target had it.
	added := func(kind *int, err error, what string) error {
		switch {
		case err == nil:
			*kind++
		case errors.Is(err, ErrExists):
			n.Present++
		default:
			return fmt.Errorf("store: copy: write %s: %w", what, err)
		}
		return nil
	}
	for _, k := range snap.keys {
		if err := added(&n.SigningKeys, to.AddSigningKey(ctx, k), "a signing key"); err != nil {
			return n, err
		}
	}
	for _, c := range snap.clients {
		if err := added(&n.Clients, to.CreateClient(ctx, c), fmt.Sprintf("client %q", c.ID)); err != nil {
			return n, err
		}
	}
	for _, c := range snap.consents {
		if err := added(&n.Consents, to.PutConsent(ctx, c), "a consent"); err != nil {
			return n, err
		}
	}
	for _, s := range snap.sessions {
		if err := added(&n.Sessions, to.CreateSession(ctx, s), "a browser session"); err != nil {
			return n, err
		}
	}
	for _, c := range snap.codes {
		if err := added(&n.AuthCodes, to.CreateAuthCode(ctx, c), "an authorization code"); err != nil {
			return n, err
		}
	}
	// Tokens before their families' revocations: a revoked family takes no new token.
	for _, t := range snap.tokens {
		err := to.CreateRefreshToken(ctx, t)
		if errors.Is(err, ErrRevoked) {
			// The family was revoked in the target by an earlier run, after its tokens
			// were copied: the token is there, or it was revoked and expired meanwhile.
			err = ErrExists
		}
		if err := added(&n.RefreshTokens, err, "a refresh token"); err != nil {
			return n, err
		}
	}
	for _, f := range sortedKeys(snap.revoked) {
		if done, err := to.FamilyRevoked(ctx, f); err != nil {
			return n, fmt.Errorf("store: copy: read a family: %w", err)
		} else if done {
			n.Present++
			continue
		}
		if err := to.RevokeFamily(ctx, f, snap.revoked[f]); err != nil {
			return n, fmt.Errorf("store: copy: revoke a family: %w", err)
		}
		n.RevokedFamilies++
	}
	for _, jti := range sortedKeys(snap.denylist) {
		if done, err := to.AccessTokenRevoked(ctx, jti); err != nil {
			return n, fmt.Errorf("store: copy: read the denylist: %w", err)
		} else if done {
			n.Present++
			continue
		}
		if err := to.RevokeAccessToken(ctx, jti, snap.denylist[jti]); err != nil {
			return n, fmt.Errorf("store: copy: revoke an access token: %w", err)
		}
		n.Denylist++
	}
	for _, sub := range slices.Sorted(maps.Keys(snap.subjects)) {
		rev := snap.subjects[sub]
		if at, err := to.SubjectRevokedAt(ctx, sub); err != nil {
			return n, fmt.Errorf("store: copy: read a subject revocation: %w", err)
		} else if !at.Before(rev.At) {
			n.Present++
			continue
		}
		if err := to.RevokeSubject(ctx, sub, rev.At, rev.Until); err != nil {
			return n, fmt.Errorf("store: copy: revoke a subject: %w", err)
		}
		n.RevokedSubjects++
	}
	return n, nil
}

// sortedKeys returns m's keys in order, so a copy writes in the same order every time.
func sortedKeys(m map[string]time.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortSnapshot orders every list of s by key, the same for every backend.
func sortSnapshot(s *snapshot) {
	slices.SortFunc(s.clients, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.codes, func(a, b AuthCode) int { return strings.Compare(a.CodeHash, b.CodeHash) })
	slices.SortFunc(s.tokens, func(a, b RefreshToken) int { return strings.Compare(a.TokenHash, b.TokenHash) })
	slices.SortFunc(s.consents, func(a, b Consent) int {
		return strings.Compare(consentKey(a.Subject, a.ClientID), consentKey(b.Subject, b.ClientID))
	})
	slices.SortFunc(s.sessions, func(a, b Session) int { return strings.Compare(a.ID, b.ID) })
	sortKeys(s.keys)
}

// dump implements dumper.
func (m *memory) dump(ctx context.Context, now time.Time) (snapshot, error) {
	if err := m.lock(ctx); err != nil {
		return snapshot{}, err
	}
	defer m.mu.Unlock()
	s := snapshot{revoked: map[string]time.Time{}, denylist: map[string]time.Time{}}
	for _, c := range m.clients {
		if !expired(c.ExpiresAt, now) {
			s.clients = append(s.clients, c.clone())
		}
	}
	for _, c := range m.codes {
		if !expired(c.ExpiresAt, now) {
			s.codes = append(s.codes, c.clone())
		}
	}
	for _, t := range m.tokens {
		if !expired(t.ExpiresAt, now) {
			s.tokens = append(s.tokens, t.clone())
		}
	}
	for f, at := range m.revokedFamilies {
		s.revoked[f] = at
	}
	for jti, exp := range m.denylist {
		if !expired(exp, now) {
			s.denylist[jti] = exp
		}
	}
	for _, c := range m.consents {
		s.consents = append(s.consents, c.clone())
	}
	for _, k := range m.keys {
		s.keys = append(s.keys, k.clone())
	}
	for _, ss := range m.sessions {
		if ss.live(now) {
			s.sessions = append(s.sessions, ss.clone())
		}
	}
	s.subjects = map[string]SubjectRevocation{}
	for sub, r := range m.subjects {
		if !expired(r.Until, now) {
			s.subjects[sub] = r
		}
	}
	sortSnapshot(&s)
	return s, nil
}
