package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"
)

// Defaults of JWTConfig.
const (
	defaultRefetchCooldown = 30 * time.Second
	defaultRefreshInterval = 15 * time.Minute
	defaultTokenCacheSize  = 10000
	defaultFetchTimeout    = 10 * time.Second
	defaultRejectCacheTTL  = 30 * time.Second
	// rejectCacheSize bounds the rejected-token cache, in tokens.
	rejectCacheSize = 4096
)

// Errors of JWTVerifier.Verify. They name the condition, never the token or a value the
// token chose.
var (
	errJWTTooLong       = invalid(fmt.Sprintf("jwt longer than %d bytes", maxBearerLen))
	errJWTMalformed     = invalid("jwt is not a JWS compact serialization (RFC 7515 §7.1)")
	errJWTHeader        = invalid("jwt header is not a base64url JSON object with a string alg")
	errJWTPayload       = invalid("jwt payload is not a base64url JSON object")
	errJWTCrit          = invalid("jwt header has crit extensions (RFC 7515 §4.1.11)")
	errJWTUnknownIssuer = invalid("jwt iss is missing or not a configured issuer")
)

// Conditions found after a token was routed to an issuer. They are never returned as
// they are: issuer.invalid names the issuer in front of them, and the result reads
// `auth: jwt issuer "https://...": token expired: invalid credential`.
var (
	errJWTAlg         = errors.New("alg not allowed")
	errJWTNoExp       = errors.New("no exp claim")
	errJWTTime        = errors.New("exp, nbf or iat is not a NumericDate (RFC 7519 §2)")
	errJWTExpired     = errors.New("token expired")
	errJWTNotYetValid = errors.New("nbf is in the future")
	errJWTIssuedLater = errors.New("iat is in the future")
	errJWTNoAudience  = errors.New("no aud claim, or not a string or list of strings")
	errJWTAudience    = errors.New("aud holds none of the accepted audiences")
	errJWTSubject     = errors.New("user claim missing or not a printable string")
	errJWTNoKeys      = errors.New("keys not loaded yet")
	errJWTUnknownKey  = errors.New("kid not in the key set, or no key for its alg")
	errJWTSignature   = errors.New("signature does not verify with the issuer's keys")
)

// invalid returns the error Verify reports for reason, one of the conditions above.
func (is *issuer) invalid(reason error) error {
	return &invalidError{text: fmt.Sprintf("auth: jwt issuer %q: %v: invalid credential", is.name, reason), reason: reason}
}

// JWTConfig configures a JWTVerifier.
type JWTConfig struct {
	// Issuers are the trusted issuers (JWT_ISSUERS, or the policy file); at least one.
	Issuers []IssuerConfig
	// RefetchCooldown bounds refetches caused by tokens: a token whose kid is unknown (or
	// without a kid that no key verifies) triggers at most one JWKS fetch per issuer per
	// window; other such tokens fail at once. Default 30s.
	RefetchCooldown time.Duration
	// RefreshInterval is how often the keys of a loaded issuer are refetched in the
	// background, so that keys the issuer removed stop verifying (and tokens cached under
	// them are dropped). Default 15m; negative: never (keys then change only when a token
	// with an unknown kid triggers a refetch).
	RefreshInterval time.Duration
	// CacheSize bounds the verified-token cache, in tokens. Default 10000; negative
	// disables the cache (every token is verified in full).
	CacheSize int
	// NegativeCacheTTL is how long a rejected token is remembered, so that a repeat costs
	// what a cached valid token does (a SHA-256 and a map lookup) instead of a decode or
	// a signature check. Default 30s; negative disables it. It is its own cache of at
	// most 4096 tokens, least recently used out first, whatever CacheSize says; floods of
	// different bad tokens only churn it, and stay bounded by RefetchCooldown as before.
	//
	// An entry ends earlier when the rejection may stop holding:
	//   - nbf or iat in the future: when the clock skew allows it, so the token is
	//     accepted from then on;
	//   - no loaded key fits (unknown kid; no kid and no key verifies; keys not loaded
	//     yet): at the next refetch RefetchCooldown allows, so a rotated key is fetched
	//     on time;
	//   - any failure found with the issuer's keys, a bad signature included: as soon as
	//     those keys change (a refresh or a refetch).
	//
	// A rejection found after the caller's context was done is not cached: the context,
	// not the token, may be its cause.
	NegativeCacheTTL time.Duration
	// HTTPClient fetches discovery documents and key sets. Default: a client with a 10s
	// timeout that follows at most 3 redirects and none to another origin.
	HTTPClient *http.Client
	// Now returns the current time, for exp, nbf, iat, the cache and the cooldown;
	// default time.Now.
	Now func() time.Time
	// OnRefresh, when set, is called after every refresh attempt of an issuer's keys
	// (discovery when needed, then the JWKS), with the attempt's error or nil; for
	// metrics. It is called from background goroutines, must be safe for concurrent
	// use, and must return quickly: tokens waiting for the fetch wait for it too. The
	// error never contains a token.
	OnRefresh func(issuer string, err error)
}

// JWTVerifier authenticates JWT bearer tokens issued by trusted external issuers
// (Keycloak, Auth0, Entra ID, Okta, Dex...) and verifies them locally: the issuer is
// chosen by the token's iss, the signature is checked with the issuer's published keys
// (go-oidc), and the claims with the issuer's rules (audience, algorithms, clock skew).
//
// Keys are loaded in the background; until an issuer's keys are loaded its tokens are
// invalid, and Ready reports it. A verified token is cached until its exp, so a repeat
// token costs a SHA-256 and a map lookup, not a signature check; a rejected token is
// remembered for a short while (JWTConfig.NegativeCacheTTL), so a repeat costs the same.
// A JWTVerifier is safe for concurrent use.
type JWTVerifier struct {
	ctx       context.Context
	issuers   []*issuer
	byName    map[string]*issuer
	cache     *tokenCache  // nil: disabled
	rejects   *rejectCache // nil: disabled
	client    *http.Client
	now       func() time.Time
	cooldown  time.Duration
	refresh   time.Duration
	onRefresh func(issuer string, err error)
	// sigChecks counts signature verifications and decodes counts tokens decoded, so
	// tests can show that a cached token, or a cached rejection, costs neither.
	sigChecks atomic.Int64
	decodes   atomic.Int64
}

// NewJWTVerifier validates c and returns a verifier for its issuers. Errors name the
// issuer and the field. It never waits for the network: for each issuer it starts a
// goroutine that runs OIDC discovery (unless JWKSURI is set) and fetches the key set,
// retrying failures with exponential backoff (1s doubling to 1m), then refreshes the
// keys every RefreshInterval. Those goroutines, and any fetch in flight, stop when ctx
// is done; cancel it on shutdown. After that, loaded keys keep verifying tokens, but
// nothing is fetched any more.
func NewJWTVerifier(ctx context.Context, c JWTConfig) (*JWTVerifier, error) {
	if ctx == nil {
		return nil, errors.New("auth: jwt: nil context")
	}
	if len(c.Issuers) == 0 {
		return nil, errors.New("auth: jwt: no issuers configured")
	}
	v := &JWTVerifier{
		ctx:       ctx,
		byName:    make(map[string]*issuer, len(c.Issuers)),
		client:    c.HTTPClient,
		now:       c.Now,
		cooldown:  c.RefetchCooldown,
		refresh:   c.RefreshInterval,
		onRefresh: c.OnRefresh,
	}
	switch {
	case v.cooldown < 0:
		return nil, errors.New("auth: jwt: refetch cooldown must not be negative")
	case v.cooldown == 0:
		v.cooldown = defaultRefetchCooldown
	}
	if v.refresh == 0 {
		v.refresh = defaultRefreshInterval
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.client == nil {
		v.client = defaultFetchClient()
	}
	switch {
	case c.CacheSize == 0:
		v.cache = newTokenCache(defaultTokenCacheSize)
	case c.CacheSize > 0:
		v.cache = newTokenCache(c.CacheSize)
	}
	switch {
	case c.NegativeCacheTTL == 0:
		v.rejects = newRejectCache(rejectCacheSize, defaultRejectCacheTTL)
	case c.NegativeCacheTTL > 0:
		v.rejects = newRejectCache(rejectCacheSize, c.NegativeCacheTTL)
	}
	for i, ic := range c.Issuers {
		is, err := compileIssuer(i, ic)
		if err != nil {
			return nil, err
		}
		if _, dup := v.byName[is.name]; dup {
			return nil, fmt.Errorf("auth: jwt issuer %q: configured more than once (list every audience in one entry)", is.name)
		}
		is.v = v
		v.byName[is.name] = is
		v.issuers = append(v.issuers, is)
	}
	for _, is := range v.issuers {
		go is.run(ctx)
	}
	return v, nil
}

// Authenticate implements the authenticator contract (see the package documentation)
// for JWT bearer tokens. A request without an "Authorization: Bearer" header, or whose
// token does not look like a JWT (an API key, say), gives ErrNoCredentials; a malformed
// Authorization header gives ParseBearer's error. Every other token is verified as
// Verify does, and any failure wraps ErrInvalidCredential: a JWT from an issuer that is
// not configured is invalid, not absent.
func (v *JWTVerifier) Authenticate(r *Request) (Principal, error) {
	if r == nil {
		return Principal{}, ErrNoCredentials
	}
	tok, jwt, err := r.BearerJWT()
	if err != nil {
		return Principal{}, err
	}
	if !jwt {
		return Principal{}, ErrNoCredentials
	}
	return v.verify(v.ctx, tok) // ParseBearer bounded its length
}

// Verify verifies token and returns the principal it stands for. On failure the error
// wraps ErrInvalidCredential. ctx bounds the wait for a key refetch that the token
// triggers.
//
// In order: a token over 16 KiB, or not three base64url segments, is refused before
// anything is decoded. A cached token is returned from the cache, and a recently
// rejected one is refused with the same error (see JWTConfig.NegativeCacheTTL).
// Otherwise the unverified payload's iss chooses the issuer (it must be configured, byte
// for byte); then alg must be in the issuer's allowlist, exp must be present and, with
// the clock skew, not passed, nbf and iat not in the future, and aud must hold an
// accepted audience. Only then is the signature verified (go-oidc, with the key named by
// kid, or every key that fits alg when there is no kid), and the claims mapped to a
// Principal.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxBearerLen {
		return Principal{}, errJWTTooLong
	}
	if !LooksLikeJWT(token) {
		return Principal{}, errJWTMalformed
	}
	return v.verify(ctx, token)
}

// verify is Verify for a token whose length and shape were checked.
func (v *JWTVerifier) verify(ctx context.Context, token string) (Principal, error) {
	now := v.now()
	var sum [sha256.Size]byte
	if v.cache != nil || v.rejects != nil {
		// A read-only view of the token's bytes: Sum256 neither keeps nor changes them,
		// and a copy would be the hot path's largest allocation.
		sum = sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	}
	if v.cache != nil {
		if p, ok := v.cache.get(sum, now, v.keyPresent); ok {
			return p, nil
		}
	}
	if v.rejects != nil {
		if err, ok := v.rejects.get(sum, now); ok {
			return Principal{}, err
		}
	}
	ct, r := v.check(ctx, token, now)
	if r.err != nil {
		if v.rejects != nil && ctx.Err() == nil {
			v.rejects.put(sum, r, now)
		}
		return Principal{}, r.err
	}
	if v.cache != nil && now.Before(ct.exp) {
		ct.p.Prepare()
		v.cache.Put(sum, ct)
	}
	return ct.p, nil
}

// check verifies token in full at now. It returns what verification established, or
// the rejection, with when it may stop holding.
func (v *JWTVerifier) check(ctx context.Context, token string, now time.Time) (cachedToken, rejection) {
	is, t, err := v.route(token)
	if err != nil {
		return cachedToken{}, rejection{err: err}
	}
	if err := is.checkClaims(t, now); err != nil {
		// t.validFrom is zero unless the token is not valid yet.
		return cachedToken{}, rejection{err: is.invalid(err), until: t.validFrom}
	}
	p, err := is.principal(t.claims, t.aud)
	if err != nil {
		return cachedToken{}, rejection{err: is.invalid(err)}
	}
	key, ks, err := is.verifySignature(ctx, token, t)
	if err != nil {
		r := rejection{err: is.invalid(err), is: is, keys: ks}
		if err != errJWTSignature || t.kid == "" {
			// No loaded key fits: a refetch may bring one, and this token may ask for it
			// once the cooldown allows.
			r.until = is.nextRefetch()
		}
		return cachedToken{}, r
	}
	return cachedToken{p: p, exp: t.exp, issuer: is.name, keyID: key.thumb}, rejection{}
}

// keyPresent reports whether the key with thumbprint keyID is still in the key set of
// the named issuer; the cache drops a token whose key is gone.
func (v *JWTVerifier) keyPresent(issuer, keyID string) bool {
	is := v.byName[issuer]
	if is == nil {
		return false
	}
	ks := is.keys.Load()
	return ks != nil && ks.byThumb[keyID]
}

// verifySignature checks t's signature with the issuer's keys and returns the key that
// verified it, and the key set it was found in (or the one that failed it). When no key
// fits (an unknown kid, or no kid and no key verifies), it asks for a refetch, which the
// cooldown may refuse, and tries the new keys once.
func (is *issuer) verifySignature(ctx context.Context, token string, t *jwt) (*verifyKey, *keySet, error) {
	ks := is.keys.Load()
	var tried map[string]bool // thumbprints already tried, for tokens without kid
	for attempt := 0; ; attempt++ {
		if ks != nil {
			for _, k := range ks.keys {
				if !k.fits(t.alg, t.kid) || tried[k.thumb] {
					continue
				}
				if is.verifyWith(ctx, k, token, t.payload) {
					return k, ks, nil
				}
				if t.kid != "" {
					// The issuer published this key under this kid: a refetch would not
					// make the signature any better.
					return nil, ks, errJWTSignature
				}
				if tried == nil {
					tried = make(map[string]bool, len(ks.keys))
				}
				tried[k.thumb] = true
			}
		}
		if attempt > 0 {
			break
		}
		next, ok := is.refetch(ctx)
		if !ok {
			break
		}
		ks = next
	}
	switch {
	case ks == nil:
		return nil, nil, errJWTNoKeys
	case t.kid != "":
		return nil, ks, errJWTUnknownKey
	}
	return nil, ks, errJWTSignature
}

// verifyWith verifies token with k through go-oidc and confirms that the payload it
// verified is the one whose claims were checked.
func (is *issuer) verifyWith(ctx context.Context, k *verifyKey, token string, payload []byte) bool {
	idt, err := k.verifier.Verify(ctx, token)
	if err != nil {
		return false
	}
	var verified json.RawMessage
	return idt.Claims(&verified) == nil && bytes.Equal(verified, payload)
}
