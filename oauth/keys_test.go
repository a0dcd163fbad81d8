package oauth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/mcpguard/mcpguard/auth"
)

// decodeJWT returns a compact JWT's header and claims, unverified.
func decodeJWT(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	jws, ok := strings.CutPrefix(tok, auth.PrefixAccessToken)
	if !ok {
		t.Fatalf("access token does not start with %s", auth.PrefixAccessToken)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// fetchJWKS returns the server's JWK Set and the answer's headers.
func (e *flowEnv) fetchJWKS() (jose.JSONWebKeySet, http.Header) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/jwks")
	if err != nil {
		e.t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(readBody(e.t, resp)), &set); err != nil {
		e.t.Fatal(err)
	}
	return set, resp.Header
}

// TestAccessTokenFormat: an RFC 9068 JWT, ES256, that a standard JOSE library verifies
// with the published JWK Set.
func TestAccessTokenFormat(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	at := a.str("access_token")
	header, claims := decodeJWT(t, at)
	if header["alg"] != "ES256" || header["typ"] != "at+jwt" || header["kid"] == "" {
		t.Errorf("header = %v, want ES256, at+jwt and a kid", header)
	}
	now := e.clock.Now().Unix()
	for k, want := range map[string]any{
		"iss": e.srv.URL, "sub": aliceEmail, "aud": flowResource, "scope": "mcp:read", "client_id": pubClient,
		"email": aliceEmail, "email_verified": true, "name": "Alice", "iat": float64(now), "exp": float64(now + 600),
	} {
		if got := claims[k]; got != want {
			t.Errorf("claim %s = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"jti", "fam"} {
		if s, _ := claims[k].(string); len(s) < 20 {
			t.Errorf("claim %s = %v, want a random id", k, claims[k])
		}
	}

	set, h := e.fetchJWKS()
	for k, want := range map[string]string{"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"} {
		if got := h.Get(k); got != want {
			t.Errorf("/jwks %s = %q, want %q", k, got, want)
		}
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWK Set has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k.KeyID != header["kid"] || k.Algorithm != "ES256" || k.Use != "sig" || !k.IsPublic() {
		t.Errorf("JWK = kid %q alg %q use %q public %v, want the token's kid, ES256, sig, public", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
	}
	jws, err := jose.ParseSigned(strings.TrimPrefix(at, auth.PrefixAccessToken), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(k.Key); err != nil {
		t.Errorf("go-jose does not verify the token with the JWK Set: %v", err)
	}
}

// TestKeysPersist: the signing key lives in the store, so a restart keeps verifying the
// tokens issued before and keeps accepting their refresh tokens.
func TestKeysPersist(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	before, _ := e.fetchJWKS()
	e.restart()
	after, _ := e.fetchJWKS()
	if len(after.Keys) != 1 || after.Keys[0].KeyID != before.Keys[0].KeyID {
		t.Fatalf("after restart the JWK Set is %v, want the same key %q", after.Keys, before.Keys[0].KeyID)
	}
	if _, err := e.verify(a.str("access_token")); err != nil {
		t.Errorf("Authenticate after restart = %v", err)
	}
	if r := e.refresh(a.str("refresh_token")); r.status != http.StatusOK {
		t.Errorf("refresh after restart = %d %v", r.status, r.body)
	}
	keys, err := e.st.SigningKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0].Algorithm != "ES256" {
		t.Errorf("stored keys = %v, %v; want one ES256 key", keys, err)
	}
}

// TestKeysAnotherReplica: a key another replica added by rotation is published at
// once and signs only from its NotBefore; the first replica, which has not reloaded
// its keys yet, verifies its tokens without a store call per request.
func TestKeysAnotherReplica(t *testing.T) {
	e := newFlowEnv(t, nil)
	first := e.as
	old := kidOf(t, e.tokens().str("access_token"))
	now := e.clock.Now()
	kid, err := RotateSigningKey(t.Context(), e.st, now, now.Add(SigningKeyPublishLead))
	if err != nil {
		t.Fatal(err)
	}
	e.restart() // the new replica loads both keys
	if got := jwksKids(e); !slices.Contains(got, kid) || !slices.Contains(got, old) {
		t.Fatalf("/jwks of the new replica = %v, want %s and %s", got, old, kid)
	}
	if got := kidOf(t, e.tokens().str("access_token")); got != old {
		t.Fatalf("before NotBefore the new replica signs with %s, want the old key %s", got, old)
	}
	e.clock.Advance(SigningKeyPublishLead)
	a := e.tokens()
	if got := kidOf(t, a.str("access_token")); got != kid {
		t.Fatalf("at NotBefore the new replica signs with %s, want the new key %s", got, kid)
	}
	// The first replica has not reloaded its keys yet, so the unknown kid reloads them.
	if _, err := first.AccessTokens().Verify(t.Context(), a.str("access_token")); err != nil {
		t.Errorf("the first replica does not verify the new key's token: %v", err)
	}
}

// kidOf returns the kid in the header of an access token.
func kidOf(t testing.TB, tok string) string {
	t.Helper()
	header, _ := decodeJWT(t, tok)
	kid, _ := header["kid"].(string)
	return kid
}

// jwksKids returns the kids /jwks publishes.
func jwksKids(e *flowEnv) []string {
	e.t.Helper()
	set, _ := e.fetchJWKS()
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// legacyAccessClaims, legacyMint and legacyVerify are the access-token code of
// mcpguard before it signed and verified with go-jose, kept to show that tokens keep
// their format: what was issued before verifies now, and what is issued now would
// have verified before (a replica of the previous version shares the store).
type legacyAccessClaims struct {
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
}

func legacyMint(t testing.TB, kid string, priv *ecdsa.PrivateKey, c legacyAccessClaims) string {
	t.Helper()
	header, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", kid, "at+jwt"})
	payload, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	r, sig, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	var rs [64]byte
	r.FillBytes(rs[:32])
	sig.FillBytes(rs[32:])
	return signed + "." + enc.EncodeToString(rs[:])
}

func legacyVerify(token, issuer string, key func(kid string) *ecdsa.PublicKey) (*legacyAccessClaims, error) {
	fail := errors.New("legacy: invalid")
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, fail
	}
	enc := base64.RawURLEncoding
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return nil, fail
	}
	var iss struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &iss) != nil || iss.Issuer != issuer {
		return nil, auth.ErrNoCredentials
	}
	hb, err := enc.DecodeString(h64)
	if err != nil {
		return nil, fail
	}
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return nil, fail
	}
	alg, _ := h["alg"].(string)
	kid, _ := h["kid"].(string)
	typ, _ := h["typ"].(string)
	_, crit := h["crit"]
	if alg != "ES256" || kid == "" || crit ||
		!(strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")) {
		return nil, fail
	}
	k := key(kid)
	if k == nil {
		return nil, fail
	}
	sig, err := enc.DecodeString(s64)
	if err != nil || len(sig) != 64 {
		return nil, fail
	}
	digest := sha256.Sum256([]byte(token[:len(h64)+1+len(p64)]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(k, digest[:], r, sv) {
		return nil, fail
	}
	var c legacyAccessClaims
	if json.Unmarshal(payload, &c) != nil || c.Subject == "" || c.JTI == "" || c.Family == "" || c.Expiry == 0 || c.Audience == "" {
		return nil, fail
	}
	return &c, nil
}

// TestAccessTokenCompatibility: tokens signed with go-jose are byte for byte the
// tokens of the hand-rolled signer (but for the ECDSA signature, random either way),
// the hand-rolled verifier accepts them, and the go-jose verifier accepts the tokens
// the hand-rolled signer issued.
func TestAccessTokenCompatibility(t *testing.T) {
	e := newFlowEnv(t, nil)
	kid, priv := e.signingKey()
	keyOf := func(k string) *ecdsa.PublicKey {
		if k == kid {
			return &priv.PublicKey
		}
		return nil
	}

	// Now → before.
	tok := strings.TrimPrefix(e.tokens().str("access_token"), auth.PrefixAccessToken)
	old, err := legacyVerify(tok, e.srv.URL, keyOf)
	if err != nil {
		t.Fatalf("the hand-rolled verifier refuses a go-jose token: %v", err)
	}
	if old.Subject != aliceEmail || old.Audience != flowResource || old.ClientID != pubClient || old.Scope != "mcp:read" ||
		old.Email != aliceEmail || old.EmailVerified == nil || !*old.EmailVerified || old.Name != "Alice" ||
		len(old.Groups) != 1 || old.Groups[0] != "eng" || old.JTI == "" || old.Family == "" {
		t.Errorf("the hand-rolled verifier reads %+v", old)
	}
	again := legacyMint(t, kid, priv, *old)
	if a, b := tok[:strings.LastIndexByte(tok, '.')], again[:strings.LastIndexByte(again, '.')]; a != b {
		t.Errorf("signing input of go-jose = %q, hand-rolled = %q; want the same", a, b)
	}

	// Before → now: a token the hand-rolled signer issued, with every claim.
	now := e.clock.Now()
	verified := true
	c := legacyAccessClaims{
		Issuer: e.srv.URL, Subject: "bob", Audience: flowOtherResource, Scope: "mcp:read mcp:write", ClientID: webClient,
		Email: "bob@example.com", EmailVerified: &verified, Name: "Bob", Groups: []string{"ops", "eng"},
		JTI: randomString(16), IssuedAt: now.Unix(), Expiry: now.Add(5 * time.Minute).Unix(), Family: randomString(16),
	}
	p, err := e.verify(legacyMint(t, kid, priv, c))
	if err != nil {
		t.Fatalf("the go-jose verifier refuses a hand-rolled token: %v", err)
	}
	if p.Subject != "bob" || p.Email != "bob@example.com" || !p.EmailVerified || p.Name != "Bob" || len(p.Groups) != 2 ||
		strings.Join(p.Scopes, " ") != "mcp:read mcp:write" || p.ClientID != webClient || p.Issuer != e.srv.URL ||
		len(p.Audiences) != 1 || p.Audiences[0] != flowOtherResource || p.Source != auth.SourceOAuth {
		t.Errorf("the go-jose verifier reads %+v", p)
	}
	// The same token for /revoke, after it expired.
	e.clock.Advance(time.Hour)
	claims, err := e.as.verifyAccessSignature(t.Context(), legacyMint(t, kid, priv, c), e.clock.Now())
	if err != nil || claims.JTI != c.JTI || claims.ClientID != webClient || claims.Expiry != c.Expiry {
		t.Errorf("verifyAccessSignature of an expired hand-rolled token = %+v, %v; want its claims", claims, err)
	}
}
