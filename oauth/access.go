package oauth

import (
	"context"
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
		Revocations: s.cfg.Store,
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
	jtis     map[string]time.Time // jti -> the token's exp
	families map[string]time.Time // family -> when its last access token expires
}

func newDenylist() *denylist {
	return &denylist{jtis: map[string]time.Time{}, families: map[string]time.Time{}}
}

// Denied reports whether the token jti of family was revoked by this process.
func (d *denylist) Denied(jti, family string, now time.Time) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, j := d.jtis[jti]
	_, f := d.families[family]
	return j || f
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
		}
	}, s.verifier.Forget)
}
