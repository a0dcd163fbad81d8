package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/auth"
)

// ownKeySet is a KeySource that holds a fixed set of keys; package oauth's key ring
// is the real one, fed from the store.
type ownKeySet struct{ set *jose.JSONWebKeySet }

func (k ownKeySet) PublicKeys() *jose.JSONWebKeySet { return k.set }

func (k ownKeySet) ReloadPublicKeys(context.Context) (*jose.JSONWebKeySet, error) { return k.set, nil }

// noRevocations is a RevocationChecker for which nothing was revoked; the store is the
// real one.
type noRevocations struct{}

func (noRevocations) Revoked(context.Context, string, string, string, string, time.Time) (bool, error) {
	return false, nil
}

func ExampleOwnTokens() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := auth.NewOwnTokens(context.Background(), auth.OwnTokensConfig{
		Issuer:      "https://auth.example.com",
		Resources:   []string{"https://mcp.example.com/mcp"},
		Keys:        ownKeySet{&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}},
		Revocations: noRevocations{},
	})
	if err != nil {
		panic(err)
	}

	// A token as the authorization server signs it (RFC 9068).
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	now := time.Now()
	claims, _ := json.Marshal(auth.OwnTokenClaims{
		Issuer: "https://auth.example.com", Subject: "alice", Audience: "https://mcp.example.com/mcp",
		Scope: "mcp:read", ClientID: "cli", JTI: "t1", Family: "f1", IssuedAt: now.Unix(), Expiry: now.Add(10 * time.Minute).Unix(),
	})
	jws, _ := signer.Sign(claims)
	token, _ := jws.CompactSerialize()

	p, err := v.Authenticate(&auth.Request{Header: http.Header{"Authorization": {"Bearer " + token}}})
	fmt.Println(p.Subject, p.Source, p.Scopes, err)

	// An API key, or a JWT of another issuer, is left to the next authenticator.
	_, err = v.Authenticate(&auth.Request{Header: http.Header{"Authorization": {"Bearer an-api-key"}}})
	fmt.Println(errors.Is(err, auth.ErrNoCredentials))
	// Output:
	// alice oauth [mcp:read] <nil>
	// true
}
