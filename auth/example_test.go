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
	"net/http/httptest"
	"net/netip"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/auth"
)

func ExampleAPIKeys() {
	keys, err := auth.NewAPIKeys(auth.APIKeysConfig{Key: "mcpg_example-key-do-not-use"})
	if err != nil {
		panic(err)
	}

	h := http.Header{}
	h.Set("x-api-key", "mcpg_example-key-do-not-use") // any letter case
	p, err := keys.Authenticate(&auth.Request{Header: h})
	fmt.Println(p.Subject, p.Source, p.AllScopes, err)

	h = http.Header{}
	h.Set("Authorization", "Bearer mcpg_wrong-key-0123456789")
	_, err = keys.Authenticate(&auth.Request{Header: h})
	fmt.Println(errors.Is(err, auth.ErrInvalidCredential))

	_, err = keys.Authenticate(&auth.Request{Header: http.Header{}})
	fmt.Println(errors.Is(err, auth.ErrNoCredentials))
	// Output:
	// api-key apikey true <nil>
	// true
	// true
}

func ExampleHashKey() {
	// The sha256 field of a keys-file entry; what `mcpguard hash-key` prints.
	fmt.Println(auth.HashKey("mcpg_example-key-do-not-use"))
	// Output:
	// 0d474ceed1c4f59370a904288a7889f1d188ab74cdae5d052ecca4c9fbf26ff1
}

func ExampleParseKeysFile() {
	entries, err := auth.ParseKeysFile([]byte(`
keys:
  - name: ci-deploy
    sha256: 0d474ceed1c4f59370a904288a7889f1d188ab74cdae5d052ecca4c9fbf26ff1
    scopes: [mcp:read]
`))
	if err != nil {
		panic(err)
	}
	keys, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: entries})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer mcpg_example-key-do-not-use")
	p, err := keys.Authenticate(&auth.Request{Header: h})
	fmt.Println(p.Subject, p.Scopes, p.AllScopes, err)
	// Output:
	// ci-deploy [mcp:read] false <nil>
}

func ExampleProxyIdentity() {
	proxy, err := auth.NewProxyIdentity(auth.ProxyConfig{
		TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("X-Authenticated-User", "Alice@Example.COM")

	p, err := proxy.Authenticate(&auth.Request{Header: h, Client: netip.MustParseAddr("10.0.0.7")})
	fmt.Println(p.Subject, p.Email, p.EmailVerified, err)

	// The same header from an untrusted address is ignored.
	_, err = proxy.Authenticate(&auth.Request{Header: h, Client: netip.MustParseAddr("203.0.113.9")})
	fmt.Println(errors.Is(err, auth.ErrNoCredentials))
	// Output:
	// Alice@Example.COM Alice@example.com true <nil>
	// true
}

func ExampleParseBearer() {
	for _, v := range []string{"Bearer abc.def.ghi", "bearer mcpg_0123", "Basic dXNlcjpwYXNz", "Bearer a b"} {
		h := http.Header{}
		h.Set("Authorization", v)
		tok, err := auth.ParseBearer(h)
		fmt.Printf("%q jwt=%v none=%v invalid=%v\n", tok, auth.LooksLikeJWT(tok),
			errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrInvalidCredential))
	}
	// Output:
	// "abc.def.ghi" jwt=true none=false invalid=false
	// "mcpg_0123" jwt=false none=false invalid=false
	// "" jwt=false none=true invalid=false
	// "" jwt=false none=false invalid=true
}

func ExampleJWTVerifier() {
	// An identity provider for the example: one ES256 key, published as a JWK Set on a
	// loopback server. A real issuer is found by OIDC discovery instead.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer idp.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the background key loading and refresh
	v, err := auth.NewJWTVerifier(ctx, auth.JWTConfig{Issuers: []auth.IssuerConfig{{
		Issuer:    "https://idp.example.com",
		Audiences: []string{"https://mcp.example.com/mcp"},
		JWKSURI:   idp.URL + "/jwks",
	}}})
	if err != nil {
		panic(err)
	}
	// Keys load in the background; /readyz reports Ready.
	for i := 0; v.Ready() != nil && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}

	// A token the identity provider issued.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://idp.example.com", "sub": "alice", "aud": "https://mcp.example.com/mcp",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": "openid mcp:read", "azp": "mcp-inspector",
		"email": "alice@example.com", "email_verified": true,
	})
	jws, _ := signer.Sign(claims)
	token, _ := jws.CompactSerialize()

	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	p, err := v.Authenticate(&auth.Request{Header: h})
	fmt.Println(p.Subject, p.Source, p.Scopes, p.ClientID, p.Email, p.EmailVerified, err)

	// An API key is not a JWT: left to the next authenticator.
	h.Set("Authorization", "Bearer mcpg_example-key-do-not-use")
	_, err = v.Authenticate(&auth.Request{Header: h})
	fmt.Println(errors.Is(err, auth.ErrNoCredentials))
	// Output:
	// alice jwt [openid mcp:read] mcp-inspector alice@example.com true <nil>
	// true
}

func ExampleParseIssuersEnv() {
	issuers, err := auth.ParseIssuersEnv("https://kc.example.com/realms/mcp=https://mcp.example.com/mcp," +
		"https://kc.example.com/realms/mcp=mcp-cli,http://127.0.0.1:5556/dex=mcp")
	for _, ic := range issuers {
		fmt.Println(ic.Issuer, ic.Audiences)
	}
	fmt.Println(err)
	// Output:
	// https://kc.example.com/realms/mcp [https://mcp.example.com/mcp mcp-cli]
	// http://127.0.0.1:5556/dex [mcp]
	// <nil>
}
