package oauth

import (
	"net/http"
	"net/url"
	"testing"
)

func (e *flowEnv) revoke(token string, extra ...string) tokenAnswer {
	e.t.Helper()
	form := url.Values{"token": {token}, "client_id": {pubClient}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.postToken("/revoke", form)
}

// TestRevokeAccessToken: a revoked access token stops at once, here and in a process
// that never saw it; the refresh token of its grant keeps working.
func TestRevokeAccessToken(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	at := a.str("access_token")
	if _, err := e.verify(at); err != nil { // cached now
		t.Fatal(err)
	}
	if r := e.revoke(at, "token_type_hint", "access_token"); r.status != http.StatusOK {
		t.Fatalf("revoke = %d %v", r.status, r.body)
	}
	if _, err := e.verify(at); !isInvalid(err) {
		t.Errorf("Authenticate after revocation = %v, want invalid credential", err)
	}
	e.restart()
	if _, err := e.verify(at); !isInvalid(err) {
		t.Errorf("Authenticate in another process after revocation = %v, want invalid credential", err)
	}
	if r := e.refresh(a.str("refresh_token")); r.status != http.StatusOK {
		t.Errorf("refresh after access token revocation = %d %v, want 200", r.status, r.body)
	}
}

// TestRevokeRefreshToken: a revoked refresh token revokes its family (RFC 7009 §2.1).
func TestRevokeRefreshToken(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	// The hint is only a hint: a wrong one still finds the token.
	if r := e.revoke(a.str("refresh_token"), "token_type_hint", "access_token"); r.status != http.StatusOK {
		t.Fatalf("revoke = %d %v", r.status, r.body)
	}
	if r := e.refresh(a.str("refresh_token")); r.str("error") != "invalid_grant" {
		t.Errorf("refresh after revocation = %d %v, want invalid_grant", r.status, r.body)
	}
	if _, err := e.verify(a.str("access_token")); !isInvalid(err) {
		t.Errorf("Authenticate after family revocation = %v, want invalid credential", err)
	}
}

func TestRevokeRequests(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	tests := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		code   string
	}{
		{"unknown token", url.Values{"token": {"nope"}, "client_id": {pubClient}}, nil, 200, ""},
		{"unknown JWT", url.Values{"token": {"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.c2ln"}, "client_id": {pubClient}}, nil, 200, ""},
		{"another client's refresh token", url.Values{"token": {a.str("refresh_token")}, "client_id": {webClient}}, nil, 200, ""},
		{"another client's access token", url.Values{"token": {a.str("access_token")}}, []string{confClient, confSecret}, 200, ""},
		{"no token", url.Values{"client_id": {pubClient}}, nil, 400, "invalid_request"},
		{"bad hint", url.Values{"token": {"x"}, "token_type_hint": {"id_token"}, "client_id": {pubClient}}, nil, 400, "unsupported_token_type"},
		{"no client", url.Values{"token": {a.str("refresh_token")}}, nil, 401, "invalid_client"},
		{"wrong secret", url.Values{"token": {"x"}}, []string{confClient, "wrong"}, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postToken("/revoke", tt.form, tt.basic...)
			if r.status != tt.status || r.str("error") != tt.code {
				t.Errorf("revoke = %d %v, want %d %q", r.status, r.body, tt.status, tt.code)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("revoke headers = %v, want CORS * and no-store", r.header)
			}
		})
	}
	// Nothing above revoked the tokens of another client.
	if _, err := e.verify(a.str("access_token")); err != nil {
		t.Errorf("Authenticate after others' revocation attempts = %v", err)
	}
	if r := e.refresh(a.str("refresh_token")); r.status != http.StatusOK {
		t.Errorf("refresh after others' revocation attempts = %d %v", r.status, r.body)
	}
}
