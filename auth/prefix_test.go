package auth

import (
	"errors"
	"net/http"
	"testing"
)

func TestOwnAccessToken(t *testing.T) {
	const jws = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{PrefixAccessToken + jws, jws, true},
		{jws, jws, true}, // minted before the prefix existed
		{PrefixAccessToken + "not-a-jws", "not-a-jws", false},
		{PrefixAPIKey + "abc", PrefixAPIKey + "abc", false},
		{PrefixAccessToken, "", false},
	} {
		got, ok := OwnAccessToken(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("OwnAccessToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestAPIKeysLeaveOwnTokens: a bearer with the access-token prefix is not an API key,
// so the API-key kind passes it on instead of calling it an unknown key.
func TestAPIKeysLeaveOwnTokens(t *testing.T) {
	k, err := NewAPIKeys(APIKeysConfig{Key: testSingleKey})
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{Header: http.Header{"Authorization": {"Bearer " + PrefixAccessToken + "abc.def.ghi"}}}
	if _, err := k.Authenticate(r); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("Authenticate(own access token) = %v, want ErrNoCredentials", err)
	}
	r = &Request{Header: http.Header{"Authorization": {"Bearer " + PrefixAPIKey + "unknown-key-0123456789"}}}
	if _, err := k.Authenticate(r); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("Authenticate(unknown prefixed key) = %v, want ErrInvalidCredential", err)
	}
}
