package forwardauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// waitStatus polls h until req answers want, for verifiers that load keys in the background.
func waitStatus(t *testing.T, h http.Handler, req func() *http.Request, want int) *httptest.ResponseRecorder {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req())
		if w.Code == want || time.Now().After(deadline) {
			return w
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJWTOneDecisionPlane checks external JWTs under the same policy as every other
// credential: per-resource issuers and audiences, scopes, identity headers, modes.
func TestJWTOneDecisionPlane(t *testing.T) {
	kc, other := authtest.NewIssuer(t), authtest.NewIssuer(t)
	pf := writeFile(t, "policy.yaml", fmt.Sprintf(`issuers:
  - issuer: %[1]s
    audiences: [https://mcp.example.com/mcp]
  - issuer: %[2]s
    audiences: [https://other.example.com/mcp, https://mcp.example.com/mcp]
resources:
  - url: https://mcp.example.com/mcp
    jwt_issuers: [%[1]s]
    required_scopes: [mcp:read]
  - url: https://other.example.com/mcp
    jwt_issuers: [%[2]s]
  - url: https://open.example.com/mcp
    mode: permissive
    audiences: [https://mcp.example.com/mcp]
`, kc.URL(), other.URL()))
	h, logs := testServer(t, map[string]string{"POLICY_FILE": pf, "MCP_PROXY_API_KEY": testKey})
	good := kc.Token(t, map[string]any{"sub": "u1", "aud": "https://mcp.example.com/mcp", "scope": "mcp:read",
		"email": "Alice@Example.com", "email_verified": true, "azp": "vscode"})
	bearer := func(host, tok string) func() *http.Request {
		return func() *http.Request {
			r := fwd("POST", "/mcp", "Authorization", "Bearer "+tok)
			r.Header.Set("X-Forwarded-Host", host)
			return r
		}
	}
	w := waitStatus(t, h, bearer("mcp.example.com", good), 200)
	if w.Code != 200 {
		t.Fatalf("valid token: %d %s", w.Code, w.Body)
	}
	for k, v := range map[string]string{"X-Forwarded-User": "Alice@Example.com", "X-Auth-Source": "jwt",
		"X-Auth-Client-Id": "vscode", "X-Forwarded-Scopes": "mcp:read", "Authorization": ""} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	tests := []struct {
		name, host, token string
		status            int
		challenge         string
	}{
		{"token of an issuer configured for another resource", "mcp.example.com",
			other.Token(t, map[string]any{"sub": "u2", "aud": "https://mcp.example.com/mcp", "scope": "mcp:read"}), 401, `error="invalid_token"`},
		{"that issuer on its own resource", "other.example.com",
			other.Token(t, map[string]any{"sub": "u2", "aud": "https://other.example.com/mcp"}), 200, ""},
		{"missing scope", "mcp.example.com",
			kc.Token(t, map[string]any{"sub": "u1", "aud": "https://mcp.example.com/mcp"}), 403, `error="insufficient_scope", scope="mcp:read"`},
		{"wrong audience", "mcp.example.com",
			kc.Token(t, map[string]any{"sub": "u1", "aud": "https://evil.example/mcp", "scope": "mcp:read"}), 401, `error="invalid_token"`},
		{"expired", "mcp.example.com",
			kc.Token(t, map[string]any{"sub": "u1", "aud": "https://mcp.example.com/mcp", "scope": "mcp:read", "exp": time.Now().Add(-time.Hour)}), 401, `error="invalid_token"`},
		{"forged", "mcp.example.com", good[:len(good)-4] + "AAAA", 401, `error="invalid_token"`},
		{"permissive: a forged token passes as anonymous", "open.example.com", good[:len(good)-4] + "AAAA", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, bearer(tt.host, tt.token)())
			if w.Code != tt.status || !strings.Contains(w.Header().Get("Www-Authenticate"), tt.challenge) {
				t.Fatalf("status = %d, WWW-Authenticate %q; want %d with %q", w.Code, w.Header().Get("Www-Authenticate"), tt.status, tt.challenge)
			}
		})
	}
	// The API key still works beside the JWTs: one decision plane.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "X-Api-Key", testKey))
	if w.Code != 200 || w.Header().Get("X-Auth-Source") != "apikey" {
		t.Fatalf("api key beside jwt: %d %v", w.Code, w.Header())
	}
	// The protected-resource metadata points clients at the issuer the resource accepts.
	r := httptest.NewRequest("GET", "/.well-known/oauth-protected-resource/mcp", nil)
	r.Host = "mcp.example.com"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), `"authorization_servers":["`+kc.URL()+`"]`) {
		t.Fatalf("metadata = %s, want authorization_servers [%s]", w.Body, kc.URL())
	}
	if strings.Contains(logs.String(), good[:40]) {
		t.Fatal("the log holds a token")
	}
}
