package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpguard/mcpguard/store"
)

// Limits of client assertions (RFC 7523 §3) and of the key sets behind them.
const (
	assertionSkew     = 30 * time.Second // clock skew allowed on exp and nbf
	assertionMaxLife  = 5 * time.Minute  // exp at most this far ahead
	jwksCacheTTL      = time.Hour        // a jwks_uri set is fetched again after this
	jwksCooldown      = 30 * time.Second // at most one refetch for an unknown kid per this
	maxJWKSBody       = 1 << 20
	maxAssertionBytes = 16 << 10
)

// clientKeys are a private_key_jwt client's public keys: inline, or fetched from its
// jwks_uri with the SSRF-safe client, kept for jwksCacheTTL and fetched again at
// most once per jwksCooldown when an assertion names a kid the set lacks.
type clientKeys struct {
	uri string
	hc  *http.Client

	mu      sync.Mutex
	set     *jose.JSONWebKeySet
	fetched time.Time // when set was fetched; zero for an inline set
	tried   time.Time // the last fetch, successful or not
}

// newClientKeys parses an inline set, or prepares the fetching of uri.
func newClientKeys(inline json.RawMessage, uri string, hc *http.Client, allowHTTP bool) (*clientKeys, error) {
	if len(inline) > 0 {
		set, err := parseInlineJWKS(inline)
		if err != nil {
			return nil, err
		}
		return &clientKeys{set: set}, nil
	}
	if err := checkJWKSURI(uri, allowHTTP); err != nil {
		return nil, err
	}
	return &clientKeys{uri: uri, hc: hc}, nil
}

// candidates returns the keys that may have signed a token naming kid (every key
// when kid is empty), fetching the set when it is missing or old, or when kid is
// unknown and the cooldown passed.
func (k *clientKeys) candidates(ctx context.Context, kid string, now time.Time) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.uri != "" && (k.set == nil || now.Sub(k.fetched) >= jwksCacheTTL) && now.Sub(k.tried) >= jwksCooldown {
		k.refresh(ctx, now)
	}
	found := k.pick(kid)
	if len(found) == 0 && k.uri != "" && now.Sub(k.tried) >= jwksCooldown {
		k.refresh(ctx, now)
		found = k.pick(kid)
	}
	if k.set == nil {
		return nil, fmt.Errorf("oauth: the keys at %q could not be fetched", k.uri)
	}
	return found, nil
}

// pick returns the keys of the set matching kid; the caller holds mu.
func (k *clientKeys) pick(kid string) []jose.JSONWebKey {
	if k.set == nil {
		return nil
	}
	if kid == "" {
		return k.set.Keys
	}
	return k.set.Key(kid)
}

// refresh fetches the set, keeping the old one when the fetch fails; the caller holds mu.
func (k *clientKeys) refresh(ctx context.Context, now time.Time) {
	k.tried = now
	set, err := k.fetch(ctx)
	if err != nil {
		return
	}
	k.set, k.fetched = set, now
}

// fetch GETs the key set at uri.
func (k *clientKeys) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, cimdTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth: GET %q: status %d", k.uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil || len(body) > maxJWKSBody {
		return nil, fmt.Errorf("oauth: GET %q: body unreadable or over 1 MiB", k.uri)
	}
	return parseInlineJWKS(body)
}

// assertionClaims are the claims of a client assertion (RFC 7523 §3).
type assertionClaims struct {
	jwt.Claims
}

// errReplayedAssertion marks a refused assertion whose jti was used before.
var errReplayedAssertion = errors.New("oauth: the client assertion's jti was used before")

// verifyAssertion checks a private_key_jwt client assertion of client id (RFC 7523
// §3): signed by one of its keys with an allowed algorithm, iss and sub the client
// id, aud the issuer (with or without one trailing slash) or the token endpoint, exp
// present and at most assertionMaxLife ahead, and jti not used before, which the store
// then records. Errors are causes for the log; the client is told only
// invalid_client, except for a store failure, which is the second result.
func (t *tokenEndpoint) verifyAssertion(ctx context.Context, id string, keys *clientKeys, raw string) (cause, storeErr error) {
	if len(raw) > maxAssertionBytes {
		return errors.New("oauth: the client assertion is too long"), nil
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		return fmt.Errorf("oauth: the client assertion is not a JWS of ES256, RS256 or EdDSA: %w", err), nil
	}
	now := t.now()
	cands, err := keys.candidates(ctx, tok.Headers[0].KeyID, now)
	if err != nil {
		return err, nil
	}
	if len(cands) == 0 {
		return fmt.Errorf("oauth: no key of client %q has kid %q", id, tok.Headers[0].KeyID), nil
	}
	var c assertionClaims
	verified := false
	for _, key := range cands {
		if tok.Claims(key.Key, &c) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return fmt.Errorf("oauth: the client assertion's signature does not verify with a key of client %q", id), nil
	}
	auds := []string{t.iss.url, t.iss.url + "/", t.iss.url + "/token"}
	switch {
	case c.Issuer != id:
		return fmt.Errorf("oauth: the client assertion's iss %q is not the client", c.Issuer), nil
	case c.Subject != id:
		return fmt.Errorf("oauth: the client assertion's sub %q is not the client", c.Subject), nil
	case !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(auds, a) }):
		return fmt.Errorf("oauth: the client assertion's aud %q names neither the issuer nor the token endpoint", c.Audience), nil
	case c.Expiry == nil:
		return errors.New("oauth: the client assertion has no exp"), nil
	case !now.Before(c.Expiry.Time().Add(assertionSkew)):
		return errors.New("oauth: the client assertion expired"), nil
	case c.Expiry.Time().After(now.Add(assertionMaxLife + assertionSkew)):
		return errors.New("oauth: the client assertion's exp is more than 5 minutes ahead"), nil
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionSkew)):
		return errors.New("oauth: the client assertion is not valid yet (nbf)"), nil
	case c.ID == "":
		return errors.New("oauth: the client assertion has no jti"), nil
	}
	switch err := t.store.UseAssertionID(ctx, id, c.ID, c.Expiry.Time().Add(assertionSkew)); {
	case errors.Is(err, store.ErrReplayed):
		return errReplayedAssertion, nil
	case err != nil:
		return nil, fmt.Errorf("oauth: store: UseAssertionID: %w", err)
	}
	return nil, nil
}
