package oauth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// iatLeeway is the leeway auth.OwnTokens gives an access token's iat: a replica whose
// clock is that much ahead mints tokens that expire that much later, so the denylist
// keeps a family that long past the access-token TTL.
const iatLeeway = auth.OwnTokenIATLeeway

// AccessTokens returns the verifier of this server's access tokens, for /auth: an
// auth.OwnTokens over this server's signing keys, the store's revocations and the
// revocations this process made. It goes before auth.JWTVerifier in a list of
// authenticators, since it passes the JWTs of other issuers on.
func (s *Server) AccessTokens() *auth.OwnTokens { return s.verifier }

// newVerifier returns the verifier of the tokens s signs with the keys of s.keys.
func (s *Server) newVerifier() (*auth.OwnTokens, error) {
	return auth.NewOwnTokens(s.flowCtx, auth.OwnTokensConfig{
		Issuer:      s.cfg.Issuer,
		Resources:   s.cfg.Resources,
		Keys:        s.keys,
		Revocations: revocations{st: s.cfg.Store},
		Denylist:    s.deny,
		Now:         s.now,
	})
}

// verifyAccessSignature checks that token is an access token of this server signed by
// one of its keys and returns its claims, whatever their times (see
// auth.OwnTokens.VerifySignature, which reads the same clock as now). /revoke uses it
// for expired tokens.
func (s *Server) verifyAccessSignature(ctx context.Context, token string, _ time.Time) (*auth.OwnTokenClaims, error) {
	return s.verifier.VerifySignature(ctx, token)
}

// verifyAccessToken verifies token as /auth does (times, audience, revocation);
// /introspect uses it.
func (s *Server) verifyAccessToken(ctx context.Context, token string) (auth.Principal, error) {
	return s.verifier.Verify(ctx, token)
}

// denylist holds the revocations this process made, and those other replicas sharing
// the store published, so they take effect at once for tokens it has already verified
// and cached (it is the verifier's auth.Denylist).
// Entries end when no token they cover can still be valid.
type denylist struct {
	mu       sync.RWMutex
	jtis     map[string]time.Time         // jti -> the token's exp
	families map[string]time.Time         // family -> when its last access token expires
	subjects map[string]subjectRevocation // subject -> when it was revoked
	clients  map[string]subjectRevocation // client id -> when it was revoked
}

// subjectRevocation is a subject's entry: its tokens issued at or before at are
// denied; until is past the exp of the last of them.
type subjectRevocation struct {
	at, until time.Time
}

func newDenylist() *denylist {
	return &denylist{jtis: map[string]time.Time{}, families: map[string]time.Time{},
		subjects: map[string]subjectRevocation{}, clients: map[string]subjectRevocation{}}
}

// Denied reports whether the token jti of family, issued to subject through client at
// issued, was revoked by this process or by a replica it heard of.
func (d *denylist) Denied(jti, family, subject, client string, issued, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, j := d.jtis[jti]
	_, f := d.families[family]
	s, sok := d.subjects[subject]
	c, cok := d.clients[client]
	return j || f || (sok && !issued.After(s.at)) || (cok && !issued.After(c.at))
}

// addSubject denies every access token of subject (or, for a key made by clientKey,
// of that client) issued at or before at; until is past the exp of the last of them.
// A later at replaces an earlier one.
func (d *denylist) addSubject(subject string, at, until, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	m := d.subjects
	if id, ok := strings.CutPrefix(subject, clientKeyPrefix); ok {
		m, subject = d.clients, id
	}
	old := m[subject]
	if old.at.After(at) {
		at = old.at
	}
	if old.until.After(until) {
		until = old.until
	}
	m[subject] = subjectRevocation{at: at, until: until}
}

// clientKeyPrefix marks, in the store's subject revocations, the record of a client:
// every token issued to it, whoever its subject. No person's subject starts with it.
const clientKeyPrefix = "mcpguard-client:"

// clientKey is the subject-revocation key of the client id.
func clientKey(id string) string { return clientKeyPrefix + id }

// revocations is the store as the verifier's auth.RevocationChecker: one TokenRevoked
// question, a client's revocation being the subject revocation of its clientKey.
type revocations struct{ st store.TokenChecker }

// Revoked implements auth.RevocationChecker.
func (r revocations) Revoked(ctx context.Context, jti, family, subject, client string, iat time.Time) (bool, error) {
	c := store.TokenCheck{JTI: jti, Family: family, Subjects: []string{subject}, IssuedAt: iat}
	if client != "" {
		c.Subjects = append(c.Subjects, clientKey(client))
	}
	return r.st.TokenRevoked(ctx, c)
}

// addJTI denies jti until exp.
func (d *denylist) addJTI(jti string, exp, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	d.jtis[jti] = exp
}

// addFamily denies every access token of family issued until now; until is past the
// exp of the last of them.
func (d *denylist) addFamily(family string, until, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	d.families[family] = until
}

// prune drops entries whose tokens have all expired. It runs with d.mu held.
func (d *denylist) prune(now time.Time) {
	for k, t := range d.jtis {
		if !now.Before(t) {
			delete(d.jtis, k)
		}
	}
	for k, t := range d.families {
		if !now.Before(t) {
			delete(d.families, k)
		}
	}
	for _, m := range []map[string]subjectRevocation{d.subjects, d.clients} {
		for k, s := range m {
			if !now.Before(s.until) {
				delete(m, k)
			}
		}
	}
}

// hearRevocations puts every revocation any replica sharing the store publishes on this
// process's denylist until ctx ends, so a token this replica has verified and cached is
// refused within moments of its revocation elsewhere. After a reconnection, when some
// may have been missed, it forgets every verified token instead.
func (s *Server) hearRevocations(ctx context.Context, b store.Broadcaster) {
	_ = b.Subscribe(ctx, func(r store.Revocation) {
		now := s.now()
		switch {
		case r.JTI != "":
			s.deny.addJTI(r.JTI, r.Expires, now)
		case r.Family != "":
			s.deny.addFamily(r.Family, now.Add(s.ttl.access+iatLeeway), now)
		case r.Subject != "" && !r.At.IsZero():
			s.deny.addSubject(r.Subject, r.At, r.At.Add(s.ttl.access+iatLeeway), now)
		}
	}, s.verifier.Forget)
}
