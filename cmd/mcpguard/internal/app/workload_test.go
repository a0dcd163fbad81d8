package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// TestWorkloadThroughApp: a workload token of an issuer in the policy file's
// workload_issuers: (keys from a jwks_file) is exchanged at /token without client
// authentication, and /auth lets the mapped principal in as a client, once per jti,
// and only on resources whose credentials admit clients.
func TestWorkloadThroughApp(t *testing.T) {
	cluster := authtest.NewIssuer(t)
	resp, err := http.Get(cluster.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	policy := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    scopes_supported: [mcp:read]
  - url: https://mcp.example.com/humans
    scopes_supported: [mcp:read]
    credentials: [oauth]
workload_issuers:
  - issuer: `+cluster.URL()+`
    jwks_file: `+writeFile(t, "cluster-jwks.json", string(jwks))+`
    subjects:
      - sub: "system:serviceaccount:ci:*"
        name: ci
        scope: mcp:read
        resources: [https://mcp.example.com/mcp, https://mcp.example.com/humans]
`)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, logs := testServer(t, map[string]string{
		"POLICY_FILE":                 policy,
		"STORE":                       "memory://",
		"SESSION_SECRET":              "app-session-secret-0123456789abcdef0123456789",
		"ISSUER_URL":                  "https://auth.example.com",
		"ALLOWED_SCOPES":              "mcp:read",
		"PROVIDER":                    "local",
		"INSECURE_CIMD_ALLOW_PRIVATE": "true",
		"LOCAL_USERS_FILE":            writeFile(t, "users.yaml", "users:\n  - email: alice@example.com\n    password_hash: \""+string(hash)+"\"\n"),
	})
	exchange := func(token, resource string) (int, map[string]any) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {token}, "resource": {resource}}
		r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	sa := cluster.Token(t, map[string]any{"sub": "system:serviceaccount:ci:runner", "aud": []string{"https://auth.example.com"}, "jti": "sa-1"})
	code, body := exchange(sa, "https://mcp.example.com/mcp")
	if code != http.StatusOK {
		t.Fatalf("POST /token with a workload token = %d %v, want 200\nlog:\n%s", code, body, logs)
	}
	at, _ := body["access_token"].(string)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "Authorization", "Bearer "+at))
	if w.Code != http.StatusOK {
		t.Fatalf("/auth with the workload's token = %d, want 200\nlog:\n%s", w.Code, logs)
	}
	for k, want := range map[string]string{"X-Auth-Source": "client", "X-Forwarded-User": "ci", "X-Auth-Client-Id": "ci"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("/auth %s = %q, want %q", k, got, want)
		}
	}
	if code, body := exchange(sa, "https://mcp.example.com/mcp"); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("replayed workload token = %d %v, want 400 invalid_grant", code, body)
	}
	other := cluster.Token(t, map[string]any{"sub": "system:serviceaccount:ci:runner", "aud": "https://auth.example.com", "jti": "sa-2"})
	code, body = exchange(other, "https://mcp.example.com/humans")
	if code != http.StatusOK {
		t.Fatalf("POST /token for /humans = %d %v, want 200", code, body)
	}
	at, _ = body["access_token"].(string)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/humans", "Authorization", "Bearer "+at))
	if w.Code != http.StatusForbidden && w.Code != http.StatusUnauthorized {
		t.Errorf("/auth on a resource for people only = %d, want 401 or 403", w.Code)
	}
}
