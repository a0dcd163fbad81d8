package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ownSign signs header and claims with key by hand, ES256 as the authorization server
// signed its tokens before it used go-jose, or leaves the signature empty when key is
// nil.
func ownSign(tb testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if key == nil {
		return signed + "."
	}
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	var rs [64]byte
	r.FillBytes(rs[:32])
	s.FillBytes(rs[32:])
	return signed + "." + enc.EncodeToString(rs[:])
}

// ownJOSE signs claims with go-jose: alg with key, the given kid and typ at+jwt.
func ownJOSE(tb testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) *jose.JSONWebSignature {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	c, _ := json.Marshal(claims)
	jws, err := s.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return jws
}

func ownCompact(tb testing.TB, jws *jose.JSONWebSignature) string {
	tb.Helper()
	tok, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TestOwnTokensAuthenticate: which tokens are ours and valid, which are left to the
// next authenticator, and which are refused: among them the tricks a JOSE library
// must resist (alg none, HS256 keyed with the public key, an algorithm the key source
// holds a key for, a jwk embedded in the header, b64 and crit).
func TestOwnTokensAuthenticate(t *testing.T) {
	e := newOwnEnv(t)
	good := ownCompact(t, ownJOSE(t, jose.ES256, e.key, ownKID, e.claims()))
	other := ownGenerateKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.keys.held.Keys = append(e.keys.held.Keys, jose.JSONWebKey{Key: rsaKey.Public(), KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"})
	pubJWK, _ := json.Marshal(e.keys.held.Keys[0])
	pubPoint, err := e.key.PublicKey.Bytes() // the raw point, another secret an attacker would try
	if err != nil {
		t.Fatal(err)
	}
	hs256 := func(secret []byte) string {
		h, _ := json.Marshal(ownWith(ownHeader(), "alg", "HS256"))
		c, _ := json.Marshal(e.claims())
		signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signed))
		return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	parts := strings.Split(good, ".")
	tamperedPayload := func() string {
		c, _ := json.Marshal(ownWith(e.claims(), "scope", "mcp:read mcp:write admin"))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(c) + "." + parts[2]
	}
	tamperedHeader := func() string {
		h, _ := json.Marshal(ownWith(ownHeader(), "kid", ownKID, "x", "y"))
		return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
	}
	embeddedJWK := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: other},
			(&jose.SignerOptions{EmbedJWK: true}).WithType("at+jwt").WithHeader("kid", ownKID))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := json.Marshal(e.claims())
		jws, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return ownCompact(t, jws)
	}
	sig := func(tok string, sig []byte) string {
		p := strings.Split(tok, ".")
		return p[0] + "." + p[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	rawSig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sign := func(h, c map[string]any) http.Header { return ownBearer(ownSign(t, e.key, h, c)) }
	tests := []struct {
		name   string
		header http.Header
		want   error // nil: valid
	}{
		{"signed with go-jose", ownBearer(good), nil},
		{"signed by hand, as before go-jose", sign(ownHeader(), ownWith(e.claims(), "jti", "j-hand")), nil},
		{"typ application/at+jwt", sign(ownWith(ownHeader(), "typ", "application/at+jwt"), ownWith(e.claims(), "jti", "j-app")), nil},
		{"typ in capitals", sign(ownWith(ownHeader(), "typ", "AT+JWT"), ownWith(e.claims(), "jti", "j-caps")), nil},
		{"iat slightly ahead (replica clocks)", sign(ownHeader(), ownWith(e.claims(), "iat", e.clock.Now().Add(20*time.Second).Unix(), "jti", "j2")), nil},
		{"second resource", sign(ownHeader(), ownWith(e.claims(), "aud", "https://other.example.com/mcp", "jti", "j3")), nil},

		{"no header", http.Header{}, ErrNoCredentials},
		{"basic", http.Header{"Authorization": {"Basic YTpi"}}, ErrNoCredentials},
		{"api key", ownBearer("mcpg_0123456789abcdef"), ErrNoCredentials},
		{"other issuer", ownBearer(ownSign(t, other, ownHeader(), ownWith(e.claims(), "iss", "https://idp.example"))), ErrNoCredentials},
		{"issuer with trailing slash", ownBearer(ownSign(t, other, ownHeader(), ownWith(e.claims(), "iss", ownIssuer+"/"))), ErrNoCredentials},
		{"other issuer, alg none", ownBearer(ownSign(t, nil, ownWith(ownHeader(), "alg", "none"), ownWith(e.claims(), "iss", "https://idp.example")) + "x"), ErrNoCredentials},
		{"other issuer, RS256", ownBearer(ownCompact(t, ownJOSE(t, jose.RS256, rsaKey, "rsa-1", ownWith(e.claims(), "iss", "https://idp.example")))), ErrNoCredentials},
		{"payload not JSON", ownBearer(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[2]), ErrNoCredentials},
		{"two signature segments (not a JWS compact serialization)", ownBearer(good + "." + parts[2]), ErrNoCredentials},

		{"two authorization headers", http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}, ErrInvalidCredential},
		{"oversized token", ownBearer(ownSign(t, e.key, ownHeader(), ownWith(e.claims(), "pad", strings.Repeat("a", maxBearerLen)))), ErrInvalidCredential},
		{"other key", ownBearer(ownSign(t, other, ownHeader(), e.claims())), ErrInvalidCredential},
		{"kid of an unknown key", ownBearer(ownSign(t, other, ownWith(ownHeader(), "kid", "nope"), e.claims())), ErrInvalidCredential},
		{"kid of our key signed by another, go-jose", ownBearer(ownCompact(t, ownJOSE(t, jose.ES256, other, ownKID, e.claims()))), ErrInvalidCredential},
		{"no kid", sign(ownWith(ownHeader(), "kid", nil), e.claims()), ErrInvalidCredential},
		{"kid not a string", sign(ownWith(ownHeader(), "kid", 1), e.claims()), ErrInvalidCredential},
		{"alg none", ownBearer(ownSign(t, nil, ownWith(ownHeader(), "alg", "none"), e.claims()) + "x"), ErrInvalidCredential},
		{"alg none, empty signature", ownBearer(ownSign(t, nil, ownWith(ownHeader(), "alg", "none"), e.claims())), ErrNoCredentials}, // not a JWT shape
		{"alg HS256 with the public JWK as secret", ownBearer(hs256(pubJWK)), ErrInvalidCredential},
		{"alg HS256 with the public point as secret", ownBearer(hs256(pubPoint)), ErrInvalidCredential},
		{"alg HS256 by go-jose", ownBearer(ownCompact(t, ownJOSE(t, jose.HS256, pubPoint, ownKID, e.claims()))), ErrInvalidCredential},
		{"alg RS256 with a key the source holds", ownBearer(ownCompact(t, ownJOSE(t, jose.RS256, rsaKey, "rsa-1", e.claims()))), ErrInvalidCredential},
		{"alg ES384", ownBearer(ownCompact(t, ownJOSE(t, jose.ES384, ownP384Key(t), ownKID, e.claims()))), ErrInvalidCredential},
		{"alg es256 (case)", sign(ownWith(ownHeader(), "alg", "es256"), e.claims()), ErrInvalidCredential},
		{"typ JWT (an ID token)", sign(ownWith(ownHeader(), "typ", "JWT"), e.claims()), ErrInvalidCredential},
		{"typ missing", sign(ownWith(ownHeader(), "typ", nil), e.claims()), ErrInvalidCredential},
		{"crit header", sign(ownWith(ownHeader(), "crit", []string{"exp"}), e.claims()), ErrInvalidCredential},
		{"crit b64 header (RFC 7797)", sign(ownWith(ownHeader(), "crit", []string{"b64"}, "b64", true), e.claims()), ErrInvalidCredential},
		{"b64 header without crit", sign(ownWith(ownHeader(), "b64", true), e.claims()), ErrInvalidCredential},
		{"embedded jwk of another key", ownBearer(embeddedJWK()), ErrInvalidCredential},
		{"header not JSON", ownBearer(base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2]), ErrInvalidCredential},
		{"payload not base64url", ownBearer(parts[0] + ".a." + parts[2]), ErrInvalidCredential},
		{"tampered payload", ownBearer(tamperedPayload()), ErrInvalidCredential},
		{"tampered header", ownBearer(tamperedHeader()), ErrInvalidCredential},
		{"signature truncated", ownBearer(sig(good, rawSig[:63])), ErrInvalidCredential},
		{"signature zero", ownBearer(sig(good, make([]byte, 64))), ErrInvalidCredential},
		{"signature DER (ASN.1)", ownBearer(sig(good, ownDER(t, e.key, parts[0]+"."+parts[1]))), ErrInvalidCredential},
		{"expired", sign(ownHeader(), ownWith(e.claims(), "exp", e.clock.Now().Unix())), ErrInvalidCredential},
		{"no exp", sign(ownHeader(), ownWith(e.claims(), "exp", nil)), ErrInvalidCredential},
		{"exp a string", sign(ownHeader(), ownWith(e.claims(), "exp", "9999999999")), ErrInvalidCredential},
		{"iat in the future", sign(ownHeader(), ownWith(e.claims(), "iat", e.clock.Now().Add(time.Minute).Unix())), ErrInvalidCredential},
		{"other audience", sign(ownHeader(), ownWith(e.claims(), "aud", "https://evil.example/mcp")), ErrInvalidCredential},
		{"audience list", sign(ownHeader(), ownWith(e.claims(), "aud", []string{ownResource})), ErrInvalidCredential},
		{"no audience", sign(ownHeader(), ownWith(e.claims(), "aud", nil)), ErrInvalidCredential},
		{"no jti", sign(ownHeader(), ownWith(e.claims(), "jti", nil)), ErrInvalidCredential},
		{"no family", sign(ownHeader(), ownWith(e.claims(), "fam", nil)), ErrInvalidCredential},
		{"no subject", sign(ownHeader(), ownWith(e.claims(), "sub", nil)), ErrInvalidCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.v.Authenticate(&Request{Header: tt.header})
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Authenticate = %v, want a principal", err)
			case tt.want == nil && (p.Source != SourceOAuth || p.Issuer != ownIssuer || p.Subject != "alice@example.com"):
				t.Errorf("Authenticate = %+v, want source oauth, our issuer and alice", p)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Authenticate = %+v, %v; want %v", p, err, tt.want)
			case err != nil && errors.Is(err, ErrInvalidCredential):
				checkOnePrefix(t, err)
			}
		})
	}
}

func ownP384Key(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// ownDER signs signed with key and returns the ASN.1 DER signature, the encoding JWS
// does not use (RFC 7518 §3.4).
func ownDER(tb testing.TB, key *ecdsa.PrivateKey, signed string) []byte {
	tb.Helper()
	digest := sha256.Sum256([]byte(signed))
	der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// TestOwnTokensVerify: Verify and VerifySignature, the entry points without a request.
func TestOwnTokensVerify(t *testing.T) {
	e := newOwnEnv(t)
	good := ownJOSE(t, jose.ES256, e.key, ownKID, e.claims())
	tok := ownCompact(t, good)
	if p, err := e.v.Verify(t.Context(), tok); err != nil || p.Subject != "alice@example.com" {
		t.Errorf("Verify = %+v, %v; want alice", p, err)
	}
	flat := good.FullSerialize()
	other := ownGenerateKey(t)
	multi := ownMultiSigned(t, e.claims(), e.key, other)
	oversized := ownSign(t, e.key, ownHeader(), ownWith(e.claims(), "pad", strings.Repeat("a", maxBearerLen)))
	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{"api key", "mcpg_0123456789abcdef", ErrNoCredentials},
		{"JWS JSON serialization", flat, ErrNoCredentials},
		{"two signatures (JWS JSON serialization)", multi, ErrNoCredentials},
		{"oversized token", oversized, ErrInvalidCredential},
	} {
		if _, err := e.v.Verify(t.Context(), tt.token); !errors.Is(err, tt.want) {
			t.Errorf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}

	e.clock.Advance(time.Hour) // expired: VerifySignature does not look at the times
	c, err := e.v.VerifySignature(t.Context(), tok)
	if err != nil || c.JTI != "j1" || c.ClientID != "https://client.example.com/metadata.json" || c.Family != "f1" {
		t.Errorf("VerifySignature of an expired token = %+v, %v; want its claims", c, err)
	}
	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{"other issuer", ownSign(t, other, ownHeader(), ownWith(e.claims(), "iss", "https://idp.example")), ErrNoCredentials},
		{"other key", ownSign(t, other, ownHeader(), e.claims()), ErrInvalidCredential},
		{"JWS JSON serialization", flat, ErrInvalidCredential},
		{"two signatures (JWS JSON serialization)", multi, ErrInvalidCredential},
		{"oversized token", oversized, ErrInvalidCredential},
	} {
		if c, err := e.v.VerifySignature(t.Context(), tt.token); !errors.Is(err, tt.want) {
			t.Errorf("VerifySignature(%s) = %+v, %v; want %v", tt.name, c, err, tt.want)
		}
	}
}

// ownMultiSigned is a JWS JSON serialization of claims with one signature per key,
// each with our kid.
func ownMultiSigned(tb testing.TB, claims map[string]any, keys ...*ecdsa.PrivateKey) string {
	tb.Helper()
	var sks []jose.SigningKey
	for _, k := range keys {
		sks = append(sks, jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: ownKID}})
	}
	s, err := jose.NewMultiSigner(sks, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		tb.Fatal(err)
	}
	c, _ := json.Marshal(claims)
	jws, err := s.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return jws.FullSerialize()
}
