package oauth

// Signed identity assertions for upstreams: /auth hands a resource that sets
// identity_assertion a short-lived JWT saying who called it, signed with the current
// signing key (the one /jwks publishes), so the upstream needs no trust in a plain
// header.

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/auth"
)

// The identity assertion's shape and lifetime.
const (
	// IdentityAssertionType is the typ header of an identity assertion: it is not an
	// access token (at+jwt), and /auth never accepts one as a credential.
	IdentityAssertionType = "mcpguard-identity+jwt"
	// identityAssertionTTL is how long an assertion is valid.
	identityAssertionTTL = 5 * time.Minute
	// identityAssertionReuse is how long an assertion is handed out again: until a
	// minute before it expires, so an upstream always gets one valid for a minute more.
	identityAssertionReuse = identityAssertionTTL - time.Minute
	// maxCachedAssertions bounds the cache; past it, the cache starts over.
	maxCachedAssertions = 10000
)

// IdentityClaims are the claims of an identity assertion.
type IdentityClaims struct {
	Issuer   string   `json:"iss"`
	Audience string   `json:"aud"` // the resource URL
	Subject  string   `json:"sub"`
	Email    string   `json:"email,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Source   string   `json:"auth_source"` // the X-Auth-Source of the request: oauth, jwt, apikey, proxy, session, client
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
}

// IdentityAssertions signs the identity assertions /auth hands upstreams, and keeps
// each for reuse while it is fresh: one per principal and resource.
type IdentityAssertions struct {
	s       *Server
	cache   sync.Map // assertionKey -> *cachedAssertion
	count   atomic.Int64
	signers sync.Map // kid -> jose.Signer with typ IdentityAssertionType
}

// assertionKey is everything an assertion says: a change to any of it is a new one.
type assertionKey struct {
	resource, subject, email, groups, clientID, source string
}

// cachedAssertion is a signed assertion and until when it is handed out again.
type cachedAssertion struct {
	token string
	reuse time.Time
}

// IdentityAssertions returns the signer of upstream identity assertions.
func (s *Server) IdentityAssertions() *IdentityAssertions { return &IdentityAssertions{s: s} }

// Assertion returns an identity assertion that p called resource: ES256, typ
// IdentityAssertionType, iss the issuer, aud the resource, valid five minutes. The same
// principal gets the same assertion for the first four of them.
func (ia *IdentityAssertions) Assertion(resource string, p *auth.Principal) (string, error) {
	key := assertionKey{resource, p.Subject, p.Email, strings.Join(p.Groups, ","), p.ClientID, p.Source}
	now := ia.s.now()
	if c, ok := ia.cache.Load(key); ok && now.Before(c.(*cachedAssertion).reuse) {
		return c.(*cachedAssertion).token, nil
	}
	tok, err := ia.sign(resource, p, now)
	if err != nil {
		return "", err
	}
	if ia.count.Add(1) > maxCachedAssertions {
		ia.cache.Clear()
		ia.count.Store(1)
	}
	ia.cache.Store(key, &cachedAssertion{token: tok, reuse: now.Add(identityAssertionReuse)})
	return tok, nil
}

// sign mints one assertion with the key that signs at now.
func (ia *IdentityAssertions) sign(resource string, p *auth.Principal, now time.Time) (string, error) {
	ks := ia.s.keys.set.Load()
	if ks == nil {
		return "", fmt.Errorf("oauth: identity assertion: no signing key loaded")
	}
	signer, err := ia.signer(ks, now)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(IdentityClaims{
		Issuer:   ia.s.cfg.Issuer,
		Audience: resource,
		Subject:  p.Subject,
		Email:    p.Email,
		Groups:   p.Groups,
		ClientID: p.ClientID,
		Source:   p.Source,
		IssuedAt: now.Unix(),
		Expiry:   now.Add(identityAssertionTTL).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("oauth: identity assertion: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oauth: sign an identity assertion: %w", err)
	}
	return jws.CompactSerialize()
}

// signer returns the assertion signer of the key that signs at now, built once per key.
func (ia *IdentityAssertions) signer(ks *keySet, now time.Time) (jose.Signer, error) {
	sk := ks.stored[ks.current(now)]
	if s, ok := ia.signers.Load(sk.ID); ok {
		return s.(jose.Signer), nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %q: %w", sk.ID, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("oauth: signing key %q is not an ECDSA key", sk.ID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}},
		(&jose.SignerOptions{}).WithType(IdentityAssertionType))
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %q: %w", sk.ID, err)
	}
	ia.signers.Store(sk.ID, s)
	return s, nil
}
