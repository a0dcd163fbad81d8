package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientDocsPolicyFiles: the policy file of each client page that pre-registers its
// client starts mcpguard with dynamic registration off, and an authorization request with
// the client's redirect URI on another loopback port goes on to the login, while one with
// another path is refused.
func TestClientDocsPolicyFiles(t *testing.T) {
	for _, tt := range []struct {
		page, clientID, redirect, wrongPath string
	}{
		{"gemini-cli.md", "gemini-cli", "http://localhost:50123/oauth/callback", "http://localhost:7777/callback"},
		{"opencode.md", "opencode", "http://127.0.0.1:41234/mcp/oauth/callback", "http://127.0.0.1:19876/oauth/callback"},
	} {
		t.Run(tt.page, func(t *testing.T) {
			root := repoRoot(t)
			yaml := docYAML(t, "docs/clients/"+tt.page)
			h, logs := testServer(t, map[string]string{
				"POLICY_FILE":          writeFile(t, "policy.yaml", yaml),
				"DYNAMIC_REGISTRATION": "false",
				"STORE":                "memory://",
				"SESSION_SECRET":       "app-session-secret-0123456789abcdef0123456789",
				"ISSUER_URL":           "https://auth.example.com",
				"PROVIDER":             "local",
				"LOCAL_USERS_FILE":     filepath.Join(root, "examples", "demo-users.yaml"),
			})
			authorize := func(redirect string) *httptest.ResponseRecorder {
				q := url.Values{
					"response_type": {"code"}, "client_id": {tt.clientID}, "redirect_uri": {redirect},
					"scope": {"mcp:read"}, "state": {"st"}, "resource": {"https://mcp.example.com/mcp"},
					"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
					"code_challenge_method": {"S256"},
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://auth.example.com/authorize?"+q.Encode(), nil))
				return w
			}
			w := authorize(tt.redirect)
			loc, _ := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusFound || loc == nil || loc.Path != "/login" {
				t.Fatalf("GET /authorize with %s = %d, Location %q, want 302 to /login\nlog:\n%s", tt.redirect, w.Code, w.Header().Get("Location"), logs)
			}
			if w := authorize(tt.wrongPath); w.Code == http.StatusFound {
				t.Errorf("GET /authorize with %s = 302 to %q, want a refusal (the path differs)", tt.wrongPath, w.Header().Get("Location"))
			}
			r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/register", strings.NewReader(`{"redirect_uris":["`+tt.redirect+`"]}`))
			r.Header.Set("Content-Type", "application/json")
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNotFound {
				t.Errorf("POST /register = %d with DYNAMIC_REGISTRATION=false, want 404", w.Code)
			}
		})
	}
}

// docYAML returns the first yaml block of the document at path, from the module root.
func docYAML(t *testing.T, path string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "```yaml\n")
	yaml, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s has no yaml block", path)
	}
	return yaml
}
