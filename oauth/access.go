package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/mcpguard/mcpguard/auth"
)

// sourceOAuth is the X-Auth-Source of a principal holding one of our access tokens.
const sourceOAuth = "oauth"

const (
	// accessCacheSize bounds the verified-token cache, in tokens.
	accessCacheSize = 10000
	// iatLeeway tolerates clocks of replicas that disagree a little; exp has none.
	iatLeeway = 30 * time.Second
	// revocationCheckTimeout bounds the store calls a token's first use costs.
	revocationCheckTimeout = 2 * time.Second
)

// Errors of AccessTokenVerifier. They name the condition, never the token.
var (
	errATMalformed = fmt.Errorf("oauth: access token is not a JWS compact serialization: %w", auth.ErrInvalidCredential)
	errATHeader    = fmt.Errorf("oauth: access token header is not ES256 with a kid and typ at+jwt (RFC 9068 §2.1): %w", auth.ErrInvalidCredential)
	errATClaims    = fmt.Errorf("oauth: access token claims are malformed or incomplete: %w", auth.ErrInvalidCredential)
	errATKey       = fmt.Errorf("oauth: access token kid is not a signing key of this issuer: %w", auth.ErrInvalidCredential)
	errATSignature = fmt.Errorf("oauth: access token signature does not verify: %w", auth.ErrInvalidCredential)
	errATExpired   = fmt.Errorf("oauth: access token expired: %w", auth.ErrInvalidCredential)
	errATIssued    = fmt.Errorf("oauth: access token iat is in the future: %w", auth.ErrInvalidCredential)
	errATAudience  = fmt.Errorf("oauth: access token aud is not a configured resource: %w", auth.ErrInvalidCredential)
	errATRevoked   = fmt.Errorf("oauth: access token revoked: %w", auth.ErrInvalidCredential)
)

// AccessTokenVerifier authenticates the access tokens this authorization server issued,
// for /auth. It is an authenticator in the sense of package auth: Authenticate returns
// auth.ErrNoCredentials for every request that does not carry one of our tokens (no
// bearer token, an API key, or a JWT whose iss is another issuer, which the external-JWT
// verifier may know), so it goes before auth.JWTVerifier in the list.
//
// Verification is local: the signature is checked against the signing keys held in
// memory, never fetched per request. A token's revocation status is asked of the store
// once, the first time this process sees it; after that the verified token is cached
// (by SHA-256, bounded, never past its exp) and only the in-memory denylist of
// revocations made by this process is consulted. A revocation made by another replica
// is therefore seen by this one at the latest when the token expires (AccessTokenTTL).
type AccessTokenVerifier struct {
	s     *Server
	cache *accessCache
}

// AccessTokens returns the verifier of this server's access tokens, for /auth.
func (s *Server) AccessTokens() *AccessTokenVerifier { return s.verifier }

// Authenticate implements the auth authenticator contract for mcpguard's own access
// tokens. A malformed Authorization header gives auth.ParseBearer's error; a bearer
// token that is not a JWT, or whose iss is not Config.Issuer, gives
// auth.ErrNoCredentials; every failure of one of our tokens wraps
// auth.ErrInvalidCredential. A store failure during the revocation check is returned
// as is (neither of the two): the caller must fail closed.
func (v *AccessTokenVerifier) Authenticate(r *auth.Request) (auth.Principal, error) {
	if r == nil {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	tok, jwt, err := r.BearerJWT()
	if err != nil {
		return auth.Principal{}, err
	}
	if !jwt {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	// A cached token needs no store call, so no deadline either: the hot path.
	now, sum := v.s.now(), tokenSum(tok)
	if p, ok := v.cache.get(sum, now, v.s.deny); ok {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(v.s.flowCtx), revocationCheckTimeout)
	defer cancel()
	return v.verify(ctx, tok, sum, now)
}

// Verify verifies token as Authenticate does, with ctx bounding the store calls.
func (v *AccessTokenVerifier) Verify(ctx context.Context, token string) (auth.Principal, error) {
	if !auth.LooksLikeJWT(token) {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	now, sum := v.s.now(), tokenSum(token)
	if p, ok := v.cache.get(sum, now, v.s.deny); ok {
		return p, nil
	}
	return v.verify(ctx, token, sum, now)
}

// tokenSum is the SHA-256 of token, the key of the cache.
func tokenSum(token string) [sha256.Size]byte {
	// A read-only view of the token's bytes: Sum256 neither keeps nor changes them.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// verify verifies a token that is not in the cache, whose digest is sum, and caches it.
func (v *AccessTokenVerifier) verify(ctx context.Context, token string, sum [sha256.Size]byte, now time.Time) (auth.Principal, error) {
	c, err := v.s.parseAccessToken(ctx, token, now)
	if err != nil {
		return auth.Principal{}, err
	}
	if v.s.deny.revoked(c.JTI, c.Family, now) {
		return auth.Principal{}, errATRevoked
	}
	revoked, err := v.s.cfg.Store.AccessTokenRevoked(ctx, c.JTI)
	if err == nil && !revoked {
		revoked, err = v.s.cfg.Store.FamilyRevoked(ctx, c.Family)
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("oauth: access token revocation check: %w", err)
	}
	if revoked {
		return auth.Principal{}, errATRevoked
	}
	p := auth.Principal{
		Subject:       c.Subject,
		Email:         c.Email,
		EmailVerified: c.EmailVerified != nil && *c.EmailVerified,
		Name:          c.Name,
		Groups:        c.Groups,
		Scopes:        strings.Fields(c.Scope),
		Source:        sourceOAuth,
		ClientID:      c.ClientID,
		Issuer:        c.Issuer,
		Audiences:     []string{c.Audience},
	}
	p.Prepare()
	v.cache.Put(sum, accessEntry{p: p, exp: time.Unix(c.Expiry, 0), jti: c.JTI, family: c.Family})
	return p, nil
}

// parseAccessToken verifies token's issuer, header, signature, times and audience and
// returns its claims. A JWT of another issuer gives auth.ErrNoCredentials.
func (s *Server) parseAccessToken(ctx context.Context, token string, now time.Time) (*accessClaims, error) {
	c, err := s.verifyAccessSignature(ctx, token, now)
	if err != nil {
		return nil, err
	}
	exp := time.Unix(c.Expiry, 0)
	switch {
	case !now.Before(exp):
		return nil, errATExpired
	case time.Unix(c.IssuedAt, 0).After(now.Add(iatLeeway)):
		return nil, errATIssued
	case !slices.Contains(s.cfg.Resources, c.Audience):
		return nil, errATAudience
	}
	return c, nil
}

// verifyAccessSignature checks that token is a JWT of this issuer signed by one of its
// keys and returns its claims, whatever their times. /revoke uses it for expired tokens.
func (s *Server) verifyAccessSignature(ctx context.Context, token string, now time.Time) (*accessClaims, error) {
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, errATMalformed
	}
	enc := base64.RawURLEncoding
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return nil, errATMalformed
	}
	var iss struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &iss) != nil || iss.Issuer != s.cfg.Issuer {
		return nil, auth.ErrNoCredentials // another issuer's JWT, or not a JWT of ours
	}
	hb, err := enc.DecodeString(h64)
	if err != nil {
		return nil, errATHeader
	}
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return nil, errATHeader
	}
	alg, _ := h["alg"].(string)
	kid, _ := h["kid"].(string)
	typ, _ := h["typ"].(string)
	_, crit := h["crit"]
	if alg != accessTokenAlg || kid == "" || crit ||
		!(strings.EqualFold(typ, accessTokenType) || strings.EqualFold(typ, "application/"+accessTokenType)) {
		return nil, errATHeader
	}
	k := s.keys.key(ctx, kid, now)
	if k == nil {
		return nil, errATKey
	}
	sig, err := enc.DecodeString(s64)
	if err != nil || len(sig) != 64 {
		return nil, errATSignature
	}
	digest := sha256.Sum256([]byte(token[:len(h64)+1+len(p64)]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&k.priv.PublicKey, digest[:], r, sv) {
		return nil, errATSignature
	}
	var c accessClaims
	if json.Unmarshal(payload, &c) != nil || c.Subject == "" || c.JTI == "" || c.Family == "" || c.Expiry == 0 || c.Audience == "" {
		return nil, errATClaims
	}
	return &c, nil
}

// denylist holds the revocations this process made, so they take effect at once for
// tokens it has already verified and cached. Entries end when no token they cover can
// still be valid.
type denylist struct {
	mu       sync.RWMutex
	jtis     map[string]time.Time // jti -> the token's exp
	families map[string]time.Time // family -> when its last access token expires
}

func newDenylist() *denylist {
	return &denylist{jtis: map[string]time.Time{}, families: map[string]time.Time{}}
}

// revoked reports whether the token jti of family was revoked by this process.
func (d *denylist) revoked(jti, family string, now time.Time) bool {
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

// accessCache maps the SHA-256 of a verified access token to its principal: a bounded
// LRU. The token itself is never stored.
type accessCache struct{ *auth.LRU[accessEntry] }

// accessEntry is one verified token.
type accessEntry struct {
	p           auth.Principal
	exp         time.Time
	jti, family string
}

func newAccessCache(max int) *accessCache {
	return &accessCache{auth.NewLRU[accessEntry](max)}
}

// get returns the principal cached under sum, sharing its slices (see package auth). An
// entry at or past its exp, or revoked since it was cached, is dropped and reported as a
// miss.
func (c *accessCache) get(sum [sha256.Size]byte, now time.Time, d *denylist) (auth.Principal, bool) {
	e, ok := c.Get(sum, func(e *accessEntry) bool {
		return now.Before(e.exp) && !d.revoked(e.jti, e.family, now)
	})
	return e.p, ok
}
