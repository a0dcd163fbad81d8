package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
)

// SourceOAuth is the Source of a Principal holding one of mcpguard's own access tokens.
const SourceOAuth = "oauth"

// SourceClient is the Source of a Principal holding one of mcpguard's own access tokens
// issued by the client_credentials grant (RFC 6749 §4.4): a machine, whose Subject is
// its client id.
const SourceClient = "client"

// GrantClientCredentials is the OwnTokenClaims.Grant of a token issued by the
// client_credentials grant.
const GrantClientCredentials = "client_credentials"

// OwnTokenIATLeeway is how far in the future the iat of an own access token may be:
// the clocks of replicas disagree a little. exp has no leeway.
const OwnTokenIATLeeway = 30 * time.Second

const (
	// defaultOwnCacheSize bounds the verified-token cache, in tokens.
	defaultOwnCacheSize = 10000
	// ownRevocationTimeout bounds the store calls a token's first use costs.
	ownRevocationTimeout = 2 * time.Second
)

// Errors of OwnTokens. They name the condition, never the token.
var (
	errOwnTooLong   = invalid(fmt.Sprintf("own access token longer than %d bytes", maxBearerLen))
	errOwnMalformed = invalid("own access token is not a well-formed JWS compact serialization (RFC 7515 §7.1)")
	errOwnHeader    = invalid("own access token header is not ES256 with a kid and typ at+jwt (RFC 9068 §2.1)")
	errOwnClaims    = invalid("own access token claims are malformed or incomplete")
	errOwnKey       = invalid("own access token kid is not a signing key of this issuer")
	errOwnSignature = invalid("own access token signature does not verify")
	errOwnExpired   = invalid("own access token expired")
	errOwnIssued    = invalid("own access token iat is in the future")
	errOwnAudience  = invalid("own access token aud is not a configured resource")
	errOwnRevoked   = invalid("own access token revoked")
)

// OwnTokenClaims are the claims of an own access token (RFC 9068 §2.2), by the names
// the authorization server (package oauth) signs them with. Family (fam) names the
// refresh-token family the token belongs to, so that revoking the family revokes it.
type OwnTokenClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	Scope         string   `json:"scope,omitempty"`
	ClientID      string   `json:"client_id"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	JTI           string   `json:"jti"`
	IssuedAt      int64    `json:"iat"`
	Expiry        int64    `json:"exp"`
	Family        string   `json:"fam"`
	// Grant is "client_credentials" (GrantClientCredentials) on a token issued to a
	// machine by that grant, whose Subject is then its ClientID; empty on the tokens
	// issued for a person.
	Grant string `json:"gty,omitempty"`
}

// KeySource holds the public keys the authorization server signs its access tokens
// with (package oauth's key ring, fed from the store).
type KeySource interface {
	// PublicKeys returns the keys held now, each with its kid, or nil when none are. It
	// is called for every token not yet cached, so it must not do I/O.
	PublicKeys() *jose.JSONWebKeySet
	// ReloadPublicKeys reads the keys again from where they are kept and returns them.
	// OwnTokens calls it when a token names a kid PublicKeys does not hold (another
	// replica may have added a key), at most once per 30 s and never concurrently.
	ReloadPublicKeys(ctx context.Context) (*jose.JSONWebKeySet, error)
}

// RevocationChecker says whether an access token was revoked, by its jti, the
// refresh-token family it belongs to, or a revocation of everything its subject (a
// person offboarded) or its client held: the store that every replica shares.
// OwnTokens asks it once per token, the first time this process sees the token, in one
// question (one store round trip).
type RevocationChecker interface {
	// Revoked reports whether the token jti of family, issued to subject through
	// client at iat, was revoked: jti or family revoked, or subject or client revoked
	// at or after iat.
	Revoked(ctx context.Context, jti, family, subject, client string, iat time.Time) (bool, error)
}

// Denylist holds the revocations this process made, so that they take effect at once
// for tokens already verified and cached. OwnTokens asks it on every use of a token,
// cached or not: Denied must be cheap and safe for concurrent use.
type Denylist interface {
	// Denied reports whether the token jti of family, issued to subject through client
	// at issued, was revoked: by its jti, its family, or a revocation of its subject or
	// its client at or after issued.
	Denied(jti, family, subject, client string, issued, now time.Time) bool
}

// OwnTokensConfig configures OwnTokens.
type OwnTokensConfig struct {
	// Issuer is the authorization server's issuer identifier. A JWT whose iss is
	// another is not an own token: Authenticate leaves it to the next authenticator.
	Issuer string
	// Resources are the audiences a token may carry: its aud must equal one of them
	// (RFC 8707).
	Resources []string
	// Keys holds the public keys tokens are signed with.
	Keys KeySource
	// Revocations is asked, once per token, whether it was revoked.
	Revocations RevocationChecker
	// Denylist, when set, is asked on every use of a token whether this process
	// revoked it.
	Denylist Denylist
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the verified-token cache, in tokens; 0 means 10,000.
	CacheSize int
}

// OwnTokens authenticates mcpguard's own access tokens: the RFC 9068 JWTs its
// authorization server (package oauth) signs with ES256. It is an authenticator (see
// the package documentation) that goes before JWTVerifier in a list: a request that
// carries no bearer JWT, or a JWT whose iss is another issuer (which JWTVerifier may
// know), gives ErrNoCredentials.
//
// Verification is local: go-jose checks the signature with the key the token's kid
// names among the keys the KeySource holds in memory, never fetched per request. A
// token's revocation status is asked of the RevocationChecker once, the first time
// this process sees it; after that the verified token is cached (by SHA-256, bounded,
// never past its exp) and only the Denylist is consulted. A revocation made by another
// replica is therefore seen by this one when it reaches the Denylist (package oauth
// puts there what a shared store broadcasts, within about a second), and at the latest
// when the token expires.
// An OwnTokens is safe for concurrent use.
type OwnTokens struct {
	ctx         context.Context
	issuer      string
	resources   []string
	keys        KeySource
	revocations RevocationChecker
	deny        Denylist
	now         func() time.Time
	cache       *LRU[ownEntry]

	mu         sync.Mutex // serializes key reloads
	lastReload time.Time
	reloadErr  error // of the last reload, nil when it succeeded
}

// ownEntry is one verified token in the cache.
type ownEntry struct {
	p                    Principal
	exp, iat             time.Time
	jti, family, subject string
}

// NewOwnTokens validates c and returns the authenticator of the tokens it describes.
// ctx is the parent of the store calls Authenticate makes (each bounded to 2 s); its
// values are kept and its cancellation ignored, so a shutdown in progress does not
// turn a request's revocation check into a failure.
func NewOwnTokens(ctx context.Context, c OwnTokensConfig) (*OwnTokens, error) {
	switch {
	case ctx == nil:
		return nil, errors.New("auth: own tokens: nil context")
	case c.Issuer == "":
		return nil, errors.New("auth: own tokens: no issuer")
	case len(c.Resources) == 0:
		return nil, errors.New("auth: own tokens: no resources")
	case c.Keys == nil:
		return nil, errors.New("auth: own tokens: no key source")
	case c.Revocations == nil:
		return nil, errors.New("auth: own tokens: no revocation checker")
	case c.CacheSize < 0:
		return nil, errors.New("auth: own tokens: cache size must not be negative")
	}
	v := &OwnTokens{
		ctx:         context.WithoutCancel(ctx),
		issuer:      c.Issuer,
		resources:   slices.Clone(c.Resources),
		keys:        c.Keys,
		revocations: c.Revocations,
		deny:        c.Denylist,
		now:         c.Now,
		cache:       NewLRU[ownEntry](defaultOwnCacheSize),
	}
	if c.CacheSize > 0 {
		v.cache = NewLRU[ownEntry](c.CacheSize)
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Authenticate implements the authenticator contract for mcpguard's own access tokens.
// A malformed Authorization header gives ParseBearer's error; a bearer token that is
// not a JWT, or whose iss is not the configured issuer, gives ErrNoCredentials; every
// failure of one of our tokens wraps ErrInvalidCredential. A failure of the
// RevocationChecker is returned as neither of the two: the caller must fail closed.
func (v *OwnTokens) Authenticate(r *Request) (Principal, error) {
	if r == nil {
		return Principal{}, ErrNoCredentials
	}
	tok, jwt, err := r.BearerJWT()
	if err != nil {
		return Principal{}, err
	}
	if strings.HasPrefix(tok, PrefixAccessToken) {
		tok, jwt = OwnAccessToken(tok)
	}
	if !jwt {
		return Principal{}, ErrNoCredentials
	}
	// A cached token needs no store call, so no deadline either: the hot path.
	now, sum := v.now(), ownTokenDigest(tok)
	if p, ok := v.cached(sum, now); ok {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(v.ctx, ownRevocationTimeout)
	defer cancel()
	return v.verify(ctx, tok, sum, now)
}

// Verify verifies token as Authenticate does, with ctx bounding the store calls. A
// token longer than 16 KiB is refused (ParseBearer refuses it for Authenticate).
func (v *OwnTokens) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxBearerLen {
		return Principal{}, errOwnTooLong
	}
	token, jwt := OwnAccessToken(token)
	if !jwt {
		return Principal{}, ErrNoCredentials
	}
	now, sum := v.now(), ownTokenDigest(token)
	if p, ok := v.cached(sum, now); ok {
		return p, nil
	}
	return v.verify(ctx, token, sum, now)
}

// VerifySignature checks that token is an access token of this issuer, well formed
// and signed by one of its keys, and returns its claims whatever their times and
// audience, and without asking about revocation: the authorization server's
// revocation endpoint (RFC 7009) uses it, for tokens that may have expired. A JWT of
// another issuer gives ErrNoCredentials; every other failure wraps
// ErrInvalidCredential.
func (v *OwnTokens) VerifySignature(ctx context.Context, token string) (*OwnTokenClaims, error) {
	if len(token) > maxBearerLen {
		return nil, errOwnTooLong
	}
	token, _ = OwnAccessToken(token)
	return v.verifySignature(ctx, token, v.now())
}

// ownTokenDigest is the SHA-256 of token, the key of the cache.
func ownTokenDigest(token string) [sha256.Size]byte {
	// A read-only view of the token's bytes: Sum256 neither keeps nor changes them,
	// and a copy would be the hot path's only allocation.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// cached returns the principal cached under sum, sharing its slices (see the package
// documentation). An entry at or past its exp, or denied since it was cached, is
// dropped and reported as a miss.
func (v *OwnTokens) cached(sum [sha256.Size]byte, now time.Time) (Principal, bool) {
	e, ok := v.cache.Get(sum, func(e *ownEntry) bool {
		return now.Before(e.exp) && !v.denied(e.jti, e.family, e.subject, e.p.ClientID, e.iat, now)
	})
	return e.p, ok
}

// Forget drops every verified token from the cache, so each is verified and its
// revocation asked about again on its next use: for a replica that may have missed
// revocations published by the others.
func (v *OwnTokens) Forget() {
	v.cache.Clear()
}

// denied asks the Denylist, when there is one.
func (v *OwnTokens) denied(jti, family, subject, client string, iat, now time.Time) bool {
	return v.deny != nil && v.deny.Denied(jti, family, subject, client, iat, now)
}

// verify verifies a token that is not in the cache, whose digest is sum, asks about
// its revocation, and caches it.
func (v *OwnTokens) verify(ctx context.Context, token string, sum [sha256.Size]byte, now time.Time) (Principal, error) {
	c, err := v.check(ctx, token, now)
	if err != nil {
		return Principal{}, err
	}
	iat := time.Unix(c.IssuedAt, 0)
	if v.denied(c.JTI, c.Family, c.Subject, c.ClientID, iat, now) {
		return Principal{}, errOwnRevoked
	}
	revoked, err := v.revocations.Revoked(ctx, c.JTI, c.Family, c.Subject, c.ClientID, iat)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: own access token revocation check: %w", err)
	}
	if revoked {
		return Principal{}, errOwnRevoked
	}
	p := Principal{
		Subject:       c.Subject,
		Email:         c.Email,
		EmailVerified: c.EmailVerified != nil && *c.EmailVerified,
		Name:          c.Name,
		Groups:        c.Groups,
		Scopes:        strings.Fields(c.Scope),
		Source:        SourceOAuth,
		ClientID:      c.ClientID,
		Issuer:        c.Issuer,
		Audiences:     []string{c.Audience},
	}
	if c.Grant == GrantClientCredentials && c.Subject == c.ClientID {
		p.Source = SourceClient
	}
	p.Prepare()
	v.cache.Put(sum, ownEntry{p: p, exp: time.Unix(c.Expiry, 0), iat: iat, jti: c.JTI, family: c.Family, subject: c.Subject})
	return p, nil
}
