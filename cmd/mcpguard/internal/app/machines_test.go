package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// TestClientCredentialsThroughAuth: a machine configured in the policy file gets a
// token from /token with client_secret_basic, and /auth lets it in as itself:
// X-Auth-Source client, and its client id as user and client.
func TestClientCredentialsThroughAuth(t *testing.T) {
	policy := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
  - url: https://mcp.example.com/humans
    scopes_supported: [mcp:read]
    credentials: [oauth]
clients:
  - client_id: ci-bot
    client_secret_hash: 6f5df3d61a2290cbda9a27d584fa7e509c2811da8fd67eab0dc5c39c3789bb7e
    token_endpoint_auth_method: client_secret_basic
    grant_types: [client_credentials]
    scope: mcp:read
    resources: [https://mcp.example.com/mcp, https://mcp.example.com/humans]
`)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, logs := testServer(t, map[string]string{
		"POLICY_FILE":      policy,
		"STORE":            "memory://",
		"SESSION_SECRET":   "app-session-secret-0123456789abcdef0123456789",
		"ISSUER_URL":       "https://auth.example.com",
		"ALLOWED_SCOPES":   "mcp:read,mcp:write",
		"PROVIDER":         "local",
		"LOCAL_USERS_FILE": writeFile(t, "users.yaml", "users:\n  - email: alice@example.com\n    password_hash: \""+string(hash)+"\"\n"),
	})
	token := func(secret, resource string) (int, map[string]any) {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}}
		if resource != "" {
			form.Set("resource", resource)
		}
		r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("ci-bot", secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	if code, body := token("wrong", ""); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("POST /token with a wrong secret = %d %v, want 401 invalid_client", code, body)
	}
	code, body := token("machine-secret", "")
	if code != http.StatusOK {
		t.Fatalf("POST /token = %d %v, want 200\nlog:\n%s", code, body, logs)
	}
	at, _ := body["access_token"].(string)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "Authorization", "Bearer "+at))
	if w.Code != http.StatusOK {
		t.Fatalf("/auth with the machine's token = %d %s, want 200", w.Code, w.Body)
	}
	for k, want := range map[string]string{"X-Auth-Source": "client", "X-Forwarded-User": "ci-bot", "X-Auth-Client-Id": "ci-bot"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("/auth header %s = %q, want %q", k, got, want)
		}
	}

	// A resource whose credentials list names only oauth refuses the machine, even with
	// a token minted for it.
	code, body = token("machine-secret", "https://mcp.example.com/humans")
	if code != http.StatusOK {
		t.Fatalf("POST /token for /humans = %d %v, want 200", code, body)
	}
	at, _ = body["access_token"].(string)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, fwd("GET", "/humans", "Authorization", "Bearer "+at))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("/auth for a resource accepting only oauth = %d, want 401", w.Code)
	}
}

// TestPolicyFileMachineClient: the RFC 7591 names of a machine parse, an inline jwks
// written as YAML included, and an unknown field is still refused.
func TestPolicyFileMachineClient(t *testing.T) {
	f, err := parsePolicyFile([]byte(`resources:
  - url: https://mcp.example.com/mcp
clients:
  - client_id: signer
    token_endpoint_auth_method: private_key_jwt
    grant_types: [client_credentials]
    scope: mcp:read
    resources: [https://mcp.example.com/mcp]
    jwks:
      keys:
        - kty: EC
          crv: P-256
          kid: k1
          x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU
          y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0
`))
	if err != nil {
		t.Fatalf("parsePolicyFile() = %v", err)
	}
	c := f.Clients[0]
	if c.TokenEndpointAuthMethod != "private_key_jwt" || len(c.GrantTypes) != 1 || c.Scope != "mcp:read" || len(c.Resources) != 1 || !strings.Contains(string(c.JWKS), `"kid":"k1"`) {
		t.Errorf("parsePolicyFile() client = %+v", c)
	}
	if _, err := parsePolicyFile([]byte("resources:\n  - url: https://mcp.example.com/mcp\nclients:\n  - client_id: x\n    client_secret_hashh: ab\n")); err == nil {
		t.Error("parsePolicyFile(unknown client field) = nil, want an error")
	}
}

// TestMachinesDocExample: the policy file of docs/machines.md starts mcpguard, and its
// ci-bot gets a token with the secret whose hash it shows.
func TestMachinesDocExample(t *testing.T) {
	yaml := docYAML(t, "docs/machines.md")
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, logs := testServer(t, map[string]string{
		"POLICY_FILE":      writeFile(t, "policy.yaml", yaml),
		"STORE":            "memory://",
		"SESSION_SECRET":   "app-session-secret-0123456789abcdef0123456789",
		"ISSUER_URL":       "https://auth.example.com",
		"ALLOWED_SCOPES":   "mcp:read,mcp:write",
		"PROVIDER":         "local",
		"LOCAL_USERS_FILE": writeFile(t, "users.yaml", "users:\n  - email: alice@example.com\n    password_hash: \""+string(hash)+"\"\n"),
	})
	r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("ci-bot", "machine-secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("POST /token = %d %s, want 200\nlog:\n%s", w.Code, w.Body, logs)
	}
}

// TestIntrospectionThroughApp: a resource server configured in the policy file
// (introspection: true) finds /introspect routed and advertised, and learns that a
// machine's token is active, and that garbage is not.
func TestIntrospectionThroughApp(t *testing.T) {
	policy := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    scopes_supported: [mcp:read]
clients:
  - client_id: ci-bot
    client_secret_hash: 6f5df3d61a2290cbda9a27d584fa7e509c2811da8fd67eab0dc5c39c3789bb7e
    grant_types: [client_credentials]
  - client_id: mcp-server
    client_secret_hash: 6f5df3d61a2290cbda9a27d584fa7e509c2811da8fd67eab0dc5c39c3789bb7e
    token_endpoint_auth_method: client_secret_basic
    introspection: true
`)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, logs := testServer(t, map[string]string{
		"POLICY_FILE":      policy,
		"STORE":            "memory://",
		"SESSION_SECRET":   "app-session-secret-0123456789abcdef0123456789",
		"ISSUER_URL":       "https://auth.example.com",
		"ALLOWED_SCOPES":   "mcp:read",
		"PROVIDER":         "local",
		"LOCAL_USERS_FILE": writeFile(t, "users.yaml", "users:\n  - email: alice@example.com\n    password_hash: \""+string(hash)+"\"\n"),
	})
	post := func(path, client string, form url.Values) (int, map[string]any) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "https://auth.example.com"+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(client, "machine-secret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	code, body := post("/token", "ci-bot", url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusOK {
		t.Fatalf("POST /token = %d %v, want 200\nlog:\n%s", code, body, logs)
	}
	at, _ := body["access_token"].(string)
	if code, body := post("/introspect", "mcp-server", url.Values{"token": {at}}); code != http.StatusOK || body["active"] != true || body["client_id"] != "ci-bot" {
		t.Errorf("POST /introspect = %d %v, want 200 active for ci-bot", code, body)
	}
	if code, body := post("/introspect", "mcp-server", url.Values{"token": {"garbage"}}); code != http.StatusOK || len(body) != 1 || body["active"] != false {
		t.Errorf("POST /introspect(garbage) = %d %v, want 200 {\"active\":false}", code, body)
	}
	if code, body := post("/introspect", "ci-bot", url.Values{"token": {at}}); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("POST /introspect as a machine = %d %v, want 401 invalid_client", code, body)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://auth.example.com/.well-known/oauth-authorization-server", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	h.ServeHTTP(w, r)
	var meta map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &meta); err != nil || meta["introspection_endpoint"] != "https://auth.example.com/introspect" {
		t.Errorf("metadata introspection_endpoint = %v (%v), want https://auth.example.com/introspect", meta["introspection_endpoint"], err)
	}
}

// TestIDJAGThroughApp: an enterprise IdP in the policy file's enterprise_idps and an
// agent registered for the jwt-bearer grant: an ID-JAG for a person becomes a token
// /auth lets in as that person; its replay is refused.
func TestIDJAGThroughApp(t *testing.T) {
	idp := authtest.NewIssuer(t)
	policy := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    scopes_supported: [mcp:read]
clients:
  - client_id: agent
    client_secret_hash: 6f5df3d61a2290cbda9a27d584fa7e509c2811da8fd67eab0dc5c39c3789bb7e
    grant_types: [urn:ietf:params:oauth:grant-type:jwt-bearer]
enterprise_idps:
  - issuer: `+idp.URL()+`
    clients: [agent]
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
	jag := idp.Token(t, map[string]any{"sub": "u-7", "email": "carol@example.com", "email_verified": true,
		"aud": "https://auth.example.com", "client_id": "agent", "resource": "https://mcp.example.com/mcp", "jti": "j-1"},
		authtest.WithType("oauth-id-jag+jwt"))
	exchange := func() (int, map[string]any) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jag}}
		r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("agent", "machine-secret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	code, body := exchange()
	if code != http.StatusOK {
		t.Fatalf("POST /token with an ID-JAG = %d %v, want 200\nlog:\n%s", code, body, logs)
	}
	at, _ := body["access_token"].(string)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, fwd("POST", "/mcp", "Authorization", "Bearer "+at))
	if w.Code != http.StatusOK || w.Header().Get("X-Forwarded-Email") != "carol@example.com" || w.Header().Get("X-Auth-Client-Id") != "agent" {
		t.Errorf("/auth with the ID-JAG's token = %d (email %q, client %q), want 200 for carol by agent", w.Code, w.Header().Get("X-Forwarded-Email"), w.Header().Get("X-Auth-Client-Id"))
	}
	if code, body := exchange(); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("replayed ID-JAG = %d %v, want 400 invalid_grant", code, body)
	}
}
