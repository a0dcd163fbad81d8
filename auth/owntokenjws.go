package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// ownTokenType is the typ of an own access token (RFC 9068 §2.1).
	ownTokenType = "at+jwt"
	// ownKeyReloadCooldown bounds how often a token with an unknown kid (signed by
	// another replica's fresh key) makes OwnTokens reload the keys.
	ownKeyReloadCooldown = 30 * time.Second
	// ownKeyRetryCooldown is how soon after a failed reload a token with an unknown kid
	// reloads again.
	ownKeyRetryCooldown = time.Second
)

// ownAlgorithms are the algorithms an own access token may be signed with: ES256
// (RFC 7518 §3.4) only. go-jose refuses every other alg while parsing.
var ownAlgorithms = []jose.SignatureAlgorithm{jose.ES256}

// check verifies token's issuer, header, signature, times and audience and returns
// its claims.
func (v *OwnTokens) check(ctx context.Context, token string, now time.Time) (*OwnTokenClaims, error) {
	c, err := v.verifySignature(ctx, token, now)
	if err != nil {
		return nil, err
	}
	switch {
	case !now.Before(time.Unix(c.Expiry, 0)):
		return nil, errOwnExpired
	case time.Unix(c.IssuedAt, 0).After(now.Add(OwnTokenIATLeeway)):
		return nil, errOwnIssued
	case !slices.Contains(v.resources, c.Audience):
		return nil, errOwnAudience
	}
	return c, nil
}

// verifySignature checks that token is a JWS of this issuer signed by one of its keys
// and returns its claims, whatever their times.
func (v *OwnTokens) verifySignature(ctx context.Context, token string, now time.Time) (*OwnTokenClaims, error) {
	// The compact serialization only: one signature, every header protected.
	jws, err := jose.ParseSignedCompact(token, ownAlgorithms)
	if err != nil {
		return nil, v.unparsed(token, err)
	}
	payload := jws.UnsafePayloadWithoutVerification()
	if !v.ofIssuer(payload) {
		return nil, ErrNoCredentials // another issuer's JWT, or not a JWT of ours
	}
	if len(jws.Signatures) != 1 {
		return nil, errOwnMalformed // not a compact serialization; go-jose never gives this
	}
	h := jws.Signatures[0].Protected
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	_, crit := h.ExtraHeaders["crit"]
	// b64 (RFC 7797) would change what the signature covers; go-jose honours it even
	// without crit. Our tokens never carry it.
	_, b64 := h.ExtraHeaders["b64"]
	if h.KeyID == "" || crit || b64 ||
		!(strings.EqualFold(typ, ownTokenType) || strings.EqualFold(typ, "application/"+ownTokenType)) {
		return nil, errOwnHeader
	}
	k, err := v.key(ctx, h.KeyID, now)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errOwnKey
	}
	if _, err := jws.Verify(k); err != nil {
		return nil, errOwnSignature
	}
	var c OwnTokenClaims
	if json.Unmarshal(payload, &c) != nil || c.Subject == "" || c.JTI == "" || c.Family == "" || c.Expiry == 0 || c.Audience == "" {
		return nil, errOwnClaims
	}
	return &c, nil
}

// ofIssuer reports whether payload is a JSON object whose iss is the configured issuer.
func (v *OwnTokens) ofIssuer(payload []byte) bool {
	var iss struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(payload, &iss) == nil && iss.Issuer == v.issuer
}

// unparsed is the error for a token go-jose refused to parse (err): a payload that is
// not base64url is malformed, whoever issued it; a payload that does not name this
// issuer is another issuer's JWT (ErrNoCredentials), so alg none or HS256 from an
// issuer JWTVerifier knows is reported by JWTVerifier; anything else is ours and bad.
func (v *OwnTokens) unparsed(token string, err error) error {
	_, rest, _ := strings.Cut(token, ".")
	p64, _, ok := strings.Cut(rest, ".")
	if !ok {
		return errOwnMalformed
	}
	payload, derr := base64.RawURLEncoding.DecodeString(p64)
	switch {
	case derr != nil:
		return errOwnMalformed
	case !v.ofIssuer(payload):
		return ErrNoCredentials
	}
	if _, alg := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); alg {
		return errOwnHeader
	}
	return errOwnMalformed
}

// key returns the public key with kid, or nil when the keys do not have it. An
// unknown kid reloads the keys, at most once per ownKeyReloadCooldown: another replica
// may have added a key. A reload that failed (the store cannot be reached) is its
// error, not an unknown kid: the token could not be judged, which is no verdict on it.
// It is the answer for ownKeyRetryCooldown, then a token with an unknown kid reloads again.
func (v *OwnTokens) key(ctx context.Context, kid string, now time.Time) (*jose.JSONWebKey, error) {
	if k := ownKeyByID(v.keys.PublicKeys(), kid); k != nil {
		return k, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := ownKeyByID(v.keys.PublicKeys(), kid); k != nil {
		return k, nil // another request reloaded while this one waited
	}
	wait := ownKeyReloadCooldown
	if v.reloadErr != nil {
		wait = ownKeyRetryCooldown
	}
	if now.Sub(v.lastReload) < wait {
		return nil, v.reloadErr
	}
	v.lastReload = now
	set, err := v.keys.ReloadPublicKeys(ctx)
	if err != nil {
		err = fmt.Errorf("auth: reload own signing keys: %w", err)
		if ctx.Err() == nil { // a request that went away says nothing of the store
			v.reloadErr = err
		}
		return nil, err
	}
	v.reloadErr = nil
	return ownKeyByID(set, kid), nil
}

// ownKeyByID returns the public ES256 signing key of set whose kid is kid, or nil.
func ownKeyByID(set *jose.JSONWebKeySet, kid string) *jose.JSONWebKey {
	if set == nil {
		return nil
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.KeyID == kid && k.IsPublic() && (k.Algorithm == "" || k.Algorithm == string(jose.ES256)) && (k.Use == "" || k.Use == "sig") {
			return k
		}
	}
	return nil
}
