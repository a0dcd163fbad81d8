package app

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/auth/authtest"
	"golang.org/x/crypto/bcrypt"
)

// localUsersEnv is PROVIDER=local with one user, for the tests that need mcpguard's
// authorization server.
func localUsersEnv(t testing.TB) map[string]string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := writeFile(t, "users.yaml", fmt.Sprintf("users:\n  - email: alice@example.com\n    password_hash: %q\n", hash))
	return map[string]string{"PROVIDER": "local", "LOCAL_USERS_FILE": users, "STORE": "memory://"}
}

// TestNoDeadEndWithoutAuthorizationServer: without PROVIDER nothing answers at
// mcpguard's issuer, so neither the protected-resource metadata nor the 401 may send a
// client there; the 401 says which header takes the API key instead. With PROVIDER the
// metadata names the issuer, whose metadata is served, and the 401 is the plain
// discovery challenge.
func TestNoDeadEndWithoutAuthorizationServer(t *testing.T) {
	base := map[string]string{"RESOURCE_URL": "https://mcp.example.com/mcp", "ISSUER_URL": "https://auth.example.com"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	jwt := authtest.NewIssuer(t)
	jwtEnv := map[string]string{"JWT_ISSUERS": jwt.URL() + "=https://mcp.example.com/mcp"}
	tests := []struct {
		name       string
		env        map[string]string
		servers    string // the authorization_servers member of the metadata; "" for none
		hint       string // in the 401's error_description and body; "" for none
		asMetadata int    // status of the issuer's RFC 8414 metadata
	}{
		{"no configuration (generated key)", with(nil), "",
			"send it in the X-API-Key header or as Authorization: Bearer <key>", 404},
		{"single key, own header", with(map[string]string{"MCP_PROXY_API_KEY": testKey, "API_KEY_HEADER": "X-Team-Key"}), "",
			"send it in the X-Team-Key header or as Authorization: Bearer <key>", 404},
		{"authorization server", with(localUsersEnv(t)), `"authorization_servers":["https://auth.example.com"]`, "", 200},
		// External JWT issuers are real authorization servers: listed.
		{"external JWT issuer only", with(jwtEnv), `"authorization_servers":["` + jwt.URL() + `"]`, "", 404},
		{"external JWT issuer and a key", with(map[string]string{"JWT_ISSUERS": jwtEnv["JWT_ISSUERS"], "MCP_PROXY_API_KEY": testKey}),
			`"authorization_servers":["` + jwt.URL() + `"]`,
			"send it in the X-API-Key header or as Authorization: Bearer <key>, or a token of an issuer the resource metadata lists", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testServer(t, tt.env)

			r := httptest.NewRequest("GET", "/.well-known/oauth-protected-resource/mcp", nil)
			r.Host = "mcp.example.com"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("metadata: %d %s", w.Code, w.Body)
			}
			if tt.servers == "" && strings.Contains(w.Body.String(), "authorization_servers") {
				t.Errorf("metadata = %s, want no authorization_servers", w.Body)
			}
			if tt.servers != "" && !strings.Contains(w.Body.String(), tt.servers) {
				t.Errorf("metadata = %s, want %s", w.Body, tt.servers)
			}

			r = httptest.NewRequest("GET", "/.well-known/oauth-authorization-server", nil)
			r.Host = "auth.example.com"
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.asMetadata {
				t.Errorf("GET /.well-known/oauth-authorization-server = %d, want %d", w.Code, tt.asMetadata)
			}

			w = httptest.NewRecorder()
			h.ServeHTTP(w, fwd("POST", "/mcp"))
			challenge := w.Header().Get("WWW-Authenticate")
			if w.Code != 401 || !strings.HasPrefix(challenge, `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`) {
				t.Fatalf("no credential: %d %q", w.Code, challenge)
			}
			if tt.hint == "" {
				if strings.Contains(challenge, "error_description") {
					t.Errorf("challenge = %q, want no error_description", challenge)
				}
				return
			}
			if !strings.Contains(challenge, `error_description="this server takes an API key, not OAuth: `+tt.hint+`"`) {
				t.Errorf("challenge = %q, want the hint %q", challenge, tt.hint)
			}
			if strings.Contains(challenge, "error=") {
				t.Errorf("challenge = %q: a request without a credential gets no error code (RFC 6750 §3.1)", challenge)
			}
			var body struct {
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body.Description, tt.hint) {
				t.Errorf("body = %s, want the hint", w.Body)
			}

			// A wrong key is an invalid token, with its own description.
			w = httptest.NewRecorder()
			h.ServeHTTP(w, fwd("POST", "/mcp", "Authorization", "Bearer mcpg_wrongwrongwrongwrong"))
			if c := w.Header().Get("WWW-Authenticate"); w.Code != 401 || !strings.Contains(c, `error="invalid_token"`) {
				t.Errorf("wrong key: %d %q", w.Code, c)
			}
		})
	}
}
