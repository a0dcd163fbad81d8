package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

const (
	// minBackoff and maxBackoff bound the wait between failed key fetches.
	minBackoff = time.Second
	maxBackoff = time.Minute
	// maxFetchLen bounds a discovery document or key set, in bytes.
	maxFetchLen = 1 << 20
	// maxKeys bounds the keys kept from one key set: a token without kid is tried
	// against each key that fits its alg.
	maxKeys = 64
	// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
	minRSABits = 2048
)

// IssuerStatus is the state of one issuer's keys, for /readyz and check-config. It holds
// no secret.
type IssuerStatus struct {
	// Issuer is the configured issuer URL.
	Issuer string `json:"issuer"`
	// Optional reports that readiness does not wait for this issuer.
	Optional bool `json:"optional"`
	// Loaded reports that the issuer's keys are loaded, so its tokens can verify.
	Loaded bool `json:"loaded"`
	// Keys is the number of keys loaded.
	Keys int `json:"keys"`
	// LastRefresh is when the keys were last fetched successfully; zero if never.
	LastRefresh time.Time `json:"last_refresh"`
	// LastError is the error of the last fetch ("jwks: GET ...: status 503"), "" when it
	// succeeded. With Loaded, a non-empty LastError means degraded: the issuer is
	// unreachable or misbehaving, and its cached keys are still in use.
	LastError string `json:"last_error,omitempty"`
}

// issuer is one configured issuer: its rules, and its keys with their fetch state.
type issuer struct {
	v *JWTVerifier

	// Rules, set by compileIssuer and never changed.
	name           string
	audiences      []string
	algs           []string
	skew           time.Duration
	optional       bool
	emailsVerified bool
	userClaim      claimPath
	emailClaim     claimPath
	groupsClaim    claimPath
	clientIDClaims []claimPath // the first that holds a string wins
	scopeClaims    []claimPath

	keys atomic.Pointer[keySet] // nil until the first successful fetch

	mu          sync.Mutex
	jwksURI     string     // configured, or found by discovery; "" until then
	call        *fetchCall // the fetch in flight, nil when none
	lastFetch   time.Time  // start of the last fetch, for the cooldown
	lastRefresh time.Time
	lastErr     string
}

// keySet is an issuer's keys as one fetch returned them. It is never changed: a fetch
// replaces it whole.
type keySet struct {
	keys    []*verifyKey
	byThumb map[string]bool // RFC 7638 thumbprints of keys
}

// verifyKey is one public key and the go-oidc verifier that checks signatures with it
// alone.
type verifyKey struct {
	kid      string
	alg      string // the JWK's alg; "" when it names none
	thumb    string // RFC 7638 SHA-256 thumbprint: the key's identity for the cache
	pub      crypto.PublicKey
	verifier *oidc.IDTokenVerifier
}

// fetchCall is one fetch of an issuer's keys, which concurrent callers share.
type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// countingKeySet is an oidc.KeySet that counts the signature checks it makes.
type countingKeySet struct {
	keys *oidc.StaticKeySet
	n    *atomic.Int64
}

// VerifySignature implements oidc.KeySet.
func (c countingKeySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	c.n.Add(1)
	return c.keys.VerifySignature(ctx, token)
}

// fits reports whether k may verify a token with this alg and kid: the kid matches
// (when the token names one), the JWK's alg (when it names one) is alg, and the key
// type and curve are alg's.
func (k *verifyKey) fits(alg, kid string) bool {
	if kid != "" && k.kid != kid || k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// run loads the issuer's keys, retrying failures with backoff, then refreshes them every
// refresh interval, until ctx is done.
func (is *issuer) run(ctx context.Context) {
	backoff := minBackoff
	for {
		c := is.startFetch(true)
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		}
		wait := is.v.refresh
		switch {
		case c.err != nil:
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		case wait < 0:
			return // loaded, and no periodic refresh
		default:
			backoff = minBackoff
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// refetch is the fetch a token with no fitting key asks for. It joins the fetch in
// flight, or starts one unless the cooldown since the last fetch has not passed, and
// waits for it. It returns the new keys, or false when no fetch ran or it failed (the
// keys are then unchanged).
func (is *issuer) refetch(ctx context.Context) (*keySet, bool) {
	c := is.startFetch(false)
	if c == nil {
		return nil, false
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, false
	}
	if c.err != nil {
		return nil, false
	}
	return is.keys.Load(), true
}

// nextRefetch returns when the cooldown next lets a token start a fetch; a time already
// passed when it lets one now.
func (is *issuer) nextRefetch() time.Time {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.lastFetch.Add(is.v.cooldown) // lastFetch zero (none yet): long passed
}

// startFetch returns the fetch in flight, or starts one when force is set or the
// cooldown has passed; nil when the cooldown forbids it.
func (is *issuer) startFetch(force bool) *fetchCall {
	now := is.v.now()
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.call != nil {
		return is.call
	}
	if !force && !is.lastFetch.IsZero() && now.Sub(is.lastFetch) < is.v.cooldown {
		return nil
	}
	c := &fetchCall{done: make(chan struct{})}
	is.call, is.lastFetch = c, now
	go is.complete(c)
	return c
}

// complete runs the fetch c and publishes its result. A failed fetch leaves the keys
// as they were: keys already loaded keep working through an issuer outage.
func (is *issuer) complete(c *fetchCall) {
	ks, err := is.fetch(is.v.ctx)
	is.mu.Lock()
	if err == nil {
		is.keys.Store(ks)
		is.lastRefresh, is.lastErr = is.v.now(), ""
	} else {
		is.lastErr = err.Error() // names the issuer's URLs, never a token
		err = fmt.Errorf("auth: jwt issuer %q: %w", is.name, err)
	}
	is.call = nil
	is.mu.Unlock()
	c.err = err
	if is.v.onRefresh != nil {
		is.v.onRefresh(is.name, err)
	}
	close(c.done)
}

// fetch runs discovery when the key set URL is not known yet, then fetches the key set.
func (is *issuer) fetch(ctx context.Context) (*keySet, error) {
	is.mu.Lock()
	uri := is.jwksURI
	is.mu.Unlock()
	if uri == "" {
		var err error
		if uri, err = is.discover(ctx); err != nil {
			return nil, err
		}
		is.mu.Lock()
		is.jwksURI = uri
		is.mu.Unlock()
	}
	body, err := is.v.get(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	ks, err := is.parseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return ks, nil
}

// discover fetches the issuer's OpenID Provider metadata (OpenID Connect Discovery 1.0
// §4) and returns its jwks_uri. The document's issuer must be the configured one (§4.3).
func (is *issuer) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(is.name, "/") + "/.well-known/openid-configuration"
	body, err := is.v.get(ctx, u)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("discovery: not a JSON object with string issuer and jwks_uri")
	}
	if doc.Issuer != is.name {
		return "", fmt.Errorf("discovery: document issuer %q is not the configured issuer", doc.Issuer)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// get fetches u and returns its body; anything but 200 is an error, which never
// includes the body.
func (v *JWTVerifier) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %q: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err // a *url.Error: it names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %q: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchLen+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("GET %q: reading the body: %w", u, err)
	case len(body) > maxFetchLen:
		return nil, fmt.Errorf("GET %q: body larger than %d bytes", u, maxFetchLen)
	}
	return body, nil
}

// parseKeySet parses a JWK Set (RFC 7517 §5) and keeps the keys that can verify the
// issuer's tokens: public RSA (2048 bits or more), EC and Ed25519 keys whose use is sig
// or unset and whose alg, if any, is allowed; at most 64. Keys of other types are
// skipped (RFC 7517 §5: "implementations SHOULD ignore JWKs ... not understood"),
// symmetric and private keys included. A set with no usable key is an error, so a
// misconfigured issuer never empties the keys in use.
func (is *issuer) parseKeySet(body []byte) (*keySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errors.New("not a JSON Web Key Set")
	}
	ks := &keySet{byThumb: make(map[string]bool, len(raw.Keys))}
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(r, &k) != nil || !k.Valid() || !k.IsPublic() || k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && !slices.Contains(is.algs, k.Algorithm) {
			continue
		}
		if pub, ok := k.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
			continue
		}
		thumb, err := k.Thumbprint(crypto.SHA256)
		if err != nil || ks.byThumb[string(thumb)] {
			continue
		}
		if len(ks.keys) == maxKeys {
			break
		}
		ks.byThumb[string(thumb)] = true
		ks.keys = append(ks.keys, &verifyKey{
			kid:   k.KeyID,
			alg:   k.Algorithm,
			thumb: string(thumb),
			pub:   k.Key,
			verifier: oidc.NewVerifier(is.name,
				countingKeySet{keys: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.Key}}, n: &is.v.sigChecks},
				&oidc.Config{
					SkipClientIDCheck:    true, // aud is checked against Audiences by checkClaims
					SupportedSigningAlgs: is.algs,
					Now:                  is.oidcNow,
				}),
		})
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("no usable signing key among %d keys", len(raw.Keys))
	}
	return ks, nil
}

// oidcNow is go-oidc's clock: set back by the skew, so that its own exp check allows
// the skew as checkClaims does.
func (is *issuer) oidcNow() time.Time { return is.v.now().Add(-is.skew) }

// Ready reports whether every issuer that is not optional has its keys loaded: nil when
// so, else an error naming the issuers still loading and their last errors. An issuer
// that loaded its keys stays ready through an outage (its keys keep working); Status
// shows it as degraded.
func (v *JWTVerifier) Ready() error {
	var missing []string
	for _, is := range v.issuers {
		if is.optional || is.keys.Load() != nil {
			continue
		}
		is.mu.Lock()
		lastErr := is.lastErr
		is.mu.Unlock()
		if lastErr == "" {
			lastErr = "first fetch in progress"
		}
		missing = append(missing, fmt.Sprintf("%q (%s)", is.name, lastErr))
	}
	if len(missing) > 0 {
		return fmt.Errorf("auth: jwt issuer keys not loaded: %s", strings.Join(missing, "; "))
	}
	return nil
}

// Status returns the state of every issuer's keys, in configuration order.
func (v *JWTVerifier) Status() []IssuerStatus {
	out := make([]IssuerStatus, 0, len(v.issuers))
	for _, is := range v.issuers {
		s := IssuerStatus{Issuer: is.name, Optional: is.optional}
		if ks := is.keys.Load(); ks != nil {
			s.Loaded, s.Keys = true, len(ks.keys)
		}
		is.mu.Lock()
		s.LastRefresh, s.LastError = is.lastRefresh, is.lastErr
		is.mu.Unlock()
		out = append(out, s)
	}
	return out
}
