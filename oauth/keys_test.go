package oauth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// decodeJWT returns a compact JWT's header and claims, unverified.
func decodeJWT(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
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
	jws, err := jose.ParseSigned(at, []jose.SignatureAlgorithm{jose.ES256})
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

// TestKeysAnotherReplica: a key another replica added to the store is picked up when a
// token names it, without a store call per request.
func TestKeysAnotherReplica(t *testing.T) {
	e := newFlowEnv(t, nil)
	first := e.as
	k, err := newSigningKey(e.clock.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddSigningKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	e.restart() // the new replica signs with the newest key
	a := e.tokens()
	if header, _ := decodeJWT(t, a.str("access_token")); header["kid"] != k.ID {
		t.Fatalf("new replica signs with %v, want the newest key %s", header["kid"], k.ID)
	}
	e.clock.Advance(keyReloadCooldown)
	if _, err := first.AccessTokens().Verify(t.Context(), a.str("access_token")); err != nil {
		t.Errorf("the first replica does not verify the new key's token: %v", err)
	}
}
