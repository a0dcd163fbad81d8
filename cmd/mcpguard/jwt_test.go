package main

import (
	"fmt"
	"io"
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

// TestJWTReadiness checks /readyz waits for every issuer's keys and recovers by itself.
func TestJWTReadiness(t *testing.T) {
	iss := authtest.NewIssuer(t)
	iss.SetDown(true)
	base, _, _ := startRun(t, map[string]string{"JWT_ISSUERS": iss.URL() + "=https://mcp.example.com/mcp",
		"RESOURCE_URL": "https://mcp.example.com/mcp"})
	get := func() (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 503 || !strings.Contains(body, "jwt_issuers") {
		t.Fatalf("/readyz with the issuer down = %d %s, want 503 naming jwt_issuers", code, body)
	}
	metrics := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	failed := `mcpguard_jwks_refresh_total{issuer="` + iss.URL() + `",result="error"}`
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(metrics(), failed); {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted the failed refresh %s", failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	iss.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never recovered: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(metrics(), `mcpguard_jwks_refresh_total{issuer="`+iss.URL()+`",result="ok"}`) {
		t.Fatal("/metrics lacks the successful refresh")
	}
}

func TestJWTConfigErrors(t *testing.T) {
	pf := writeFile(t, "policy.yaml", `issuers:
  - issuer: https://kc.example.com/realms/a
    audiences: [mcp]
resources:
  - url: https://mcp.example.com/mcp
`)
	noAud := writeFile(t, "noaud.yaml", `issuers:
  - issuer: https://kc.example.com/realms/a
resources:
  - url: https://mcp.example.com/mcp
`)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"pair without audience", map[string]string{"JWT_ISSUERS": "https://kc.example.com"}, "JWT_ISSUERS"},
		{"not a url", map[string]string{"JWT_ISSUERS": "kc=mcp"}, "JWT_ISSUERS"},
		{"plain http issuer", map[string]string{"JWT_ISSUERS": "http://kc.example.com=mcp"}, "JWT_ISSUERS"},
		{"configured twice", map[string]string{"POLICY_FILE": pf, "JWT_ISSUERS": "https://kc.example.com/realms/a=mcp"}, "JWT_ISSUERS"},
		{"file issuer without audience", map[string]string{"POLICY_FILE": noAud}, "audiences"},
		{"cooldown", map[string]string{"JWKS_REFETCH_COOLDOWN": "1ms"}, "JWKS_REFETCH_COOLDOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return tt.env[k] },
				strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("check-config = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
