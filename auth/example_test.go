package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

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
