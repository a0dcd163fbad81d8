package oauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// wantASMetadata is the golden document for issuer https://auth.example.com with
// AllowedScopes mcp:read and mcp:write.
const wantASMetadata = `{"issuer":"https://auth.example.com",` +
	`"authorization_endpoint":"https://auth.example.com/authorize",` +
	`"token_endpoint":"https://auth.example.com/token",` +
	`"registration_endpoint":"https://auth.example.com/register",` +
	`"revocation_endpoint":"https://auth.example.com/revoke",` +
	`"jwks_uri":"https://auth.example.com/jwks",` +
	`"scopes_supported":["mcp:read","mcp:write","offline_access"],` +
	`"response_types_supported":["code"],` +
	`"response_modes_supported":["query"],` +
	`"grant_types_supported":["authorization_code","refresh_token"],` +
	`"code_challenge_methods_supported":["S256"],` +
	`"token_endpoint_auth_methods_supported":["none","client_secret_basic","client_secret_post"],` +
	`"revocation_endpoint_auth_methods_supported":["none","client_secret_basic","client_secret_post"],` +
	`"authorization_response_iss_parameter_supported":true,` +
	`"client_id_metadata_document_supported":true}`

func serveClients(s *clientsServer, method, target string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	s.routes(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestASMetadata(t *testing.T) {
	s := newClientsServer(t, nil)
	for _, path := range []string{WellKnownAuthorizationServer} {
		t.Run(path, func(t *testing.T) {
			w := serveClients(s, http.MethodGet, "https://auth.example.com"+path)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", path, w.Code)
			}
			if got := w.Body.String(); got != wantASMetadata {
				t.Errorf("GET %s =\n%s\nwant\n%s", path, got, wantASMetadata)
			}
			for h, want := range map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"} {
				if v := w.Header().Get(h); v != want {
					t.Errorf("GET %s header %s = %q, want %q", path, h, v, want)
				}
			}

			w = serveClients(s, http.MethodOptions, "https://auth.example.com"+path)
			if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("OPTIONS %s = %d %v, want 204 with CORS * and no credentials", path, w.Code, w.Header())
			}
			if !strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") {
				t.Errorf("OPTIONS %s allows headers %q, want MCP-Protocol-Version among them", path, w.Header().Get("Access-Control-Allow-Headers"))
			}

			w = serveClients(s, http.MethodHead, "https://auth.example.com"+path)
			if w.Code != http.StatusOK || w.Body.Len() != 0 {
				t.Errorf("HEAD %s = %d with %d body bytes, want 200 and none", path, w.Code, w.Body.Len())
			}
			if w := serveClients(s, http.MethodPost, "https://auth.example.com"+path); w.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST %s = %d, want 405", path, w.Code)
			}
		})
	}
}

// TestNoOpenIDConfiguration: mcpguard is no OpenID provider (no ID token, no userinfo,
// scope=openid refused), so it serves no OIDC Discovery document and its metadata holds
// none of the OIDC Discovery §3 fields, for a root issuer and one with a path.
func TestNoOpenIDConfiguration(t *testing.T) {
	for _, issuer := range []string{"https://auth.example.com", "https://example.com/auth"} {
		s := newClientsServer(t, func(c *Config) { c.Issuer = issuer })
		origin := issuer[:len(issuer)-len(s.iss.path)]
		for _, p := range []string{"/.well-known/openid-configuration" + s.iss.path, s.iss.path + "/.well-known/openid-configuration"} {
			if w := serveClients(s, http.MethodGet, origin+p); w.Code != http.StatusNotFound {
				t.Errorf("GET %s%s = %d, want 404", origin, p, w.Code)
			}
		}
		w := serveClients(s, http.MethodGet, origin+WellKnownAuthorizationServer+s.iss.path)
		for _, f := range []string{"subject_types_supported", "id_token_signing_alg_values_supported", "userinfo_endpoint", `"openid"`} {
			if strings.Contains(w.Body.String(), f) {
				t.Errorf("metadata of %s holds %s:\n%s", issuer, f, w.Body)
			}
		}
	}
}

func TestASMetadataIssuer(t *testing.T) {
	tests := []struct {
		name, issuer string
		paths        []string
	}{
		{"root", "https://auth.example.com", []string{WellKnownAuthorizationServer}},
		{"port", "https://auth.example.com:8443", []string{WellKnownAuthorizationServer}},
		{"dev http", "http://localhost:8080", []string{WellKnownAuthorizationServer}},
		{"path", "https://example.com/auth", []string{
			WellKnownAuthorizationServer + "/auth", // RFC 8414 §3.1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newClientsServer(t, func(c *Config) { c.Issuer = tt.issuer })
			var first []byte
			for _, p := range tt.paths {
				w := serveClients(s, http.MethodGet, tt.issuer[:len(tt.issuer)-len(s.iss.path)]+p)
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s = %d, want 200", p, w.Code)
				}
				if first == nil {
					first = w.Body.Bytes()
				} else if !bytes.Equal(first, w.Body.Bytes()) {
					t.Errorf("GET %s differs from %s", p, tt.paths[0])
				}
				var doc map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				// Byte-identical, no trailing slash: clients compare it with the PRM's authorization_servers.
				if !bytes.Contains(w.Body.Bytes(), []byte(`"issuer":"`+tt.issuer+`",`)) || doc["issuer"] != tt.issuer {
					t.Errorf("issuer = %q, want exactly %q", doc["issuer"], tt.issuer)
				}
				for _, k := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint", "jwks_uri"} {
					if v, _ := doc[k].(string); !strings.HasPrefix(v, tt.issuer+"/") || strings.Contains(strings.TrimPrefix(v, tt.issuer), "//") {
						t.Errorf("%s = %q, want %s/<endpoint>", k, v, tt.issuer)
					}
				}
			}
			// Registration lives where the metadata says.
			reg := tt.issuer + "/register"
			w := serveClients(s, http.MethodOptions, reg)
			if w.Code != http.StatusNoContent {
				t.Errorf("OPTIONS %s = %d, want 204", reg, w.Code)
			}
		})
	}
}

func TestASMetadataScopes(t *testing.T) {
	s := newClientsServer(t, func(c *Config) { c.AllowedScopes = []string{"offline_access", "tools:read"} })
	var doc struct {
		Scopes []string `json:"scopes_supported"`
	}
	json.Unmarshal(serveClients(s, http.MethodGet, "https://auth.example.com"+WellKnownAuthorizationServer).Body.Bytes(), &doc)
	if strings.Join(doc.Scopes, " ") != "offline_access tools:read" {
		t.Errorf("scopes_supported = %v, want offline_access once, then tools:read", doc.Scopes)
	}
}

// TestDisableDynamicRegistration: with registration off the metadata names no
// registration_endpoint, /register is not served (also not at a legacy MCP origin, which
// shares the route), and pre-registered clients and CIMD stay advertised.
func TestDisableDynamicRegistration(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("disabled=%t", disabled), func(t *testing.T) {
			e := newFlowEnv(t, func(c *Config) { c.DisableDynamicRegistration = disabled })
			resp, err := e.srv.Client().Get(e.srv.URL + WellKnownAuthorizationServer)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			err = json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, listed := doc["registration_endpoint"]; listed == disabled {
				t.Errorf("registration_endpoint listed = %t, want %t", listed, !disabled)
			}
			if doc["client_id_metadata_document_supported"] != true {
				t.Errorf("client_id_metadata_document_supported = %v, want true", doc["client_id_metadata_document_supported"])
			}
			body := `{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`
			resp, err = e.srv.Client().Post(e.srv.URL+"/register", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: http.StatusCreated, true: http.StatusNotFound}[disabled]; resp.StatusCode != want {
				t.Errorf("POST /register = %d, want %d", resp.StatusCode, want)
			}
		})
	}
}
