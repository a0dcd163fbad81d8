package app

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestBrowserFeaturesNeedProvider: a resource that lists session or sets
// identity_assertion without the authorization server is a start-up error naming it.
func TestBrowserFeaturesNeedProvider(t *testing.T) {
	tests := []struct {
		name, resource, env, wantErr string
	}{
		{"session without PROVIDER", "    credentials: [session, apikey]\n", "", "credentials: [session] needs the authorization server: set PROVIDER"},
		{"assertion without PROVIDER", "    identity_assertion: {}\n", "", "identity_assertion needs the authorization server: set PROVIDER"},
		{"assertion with client auth off", "    credentials: [proxy]\n    identity_assertion: {}\n", "MCP_CLIENT_AUTH_ENABLED=false", "identity_assertion needs the authorization server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := writeFile(t, "policy.yaml", "resources:\n  - url: https://apps.example.com/grafana\n"+tt.resource)
			env := map[string]string{"POLICY_FILE": pol, "MCP_PROXY_API_KEY": strings.Repeat("k", 32), "TRUST_PROXY_AUTH": "true", "PROXY_AUTH_TRUSTED_CIDRS": "127.0.0.1/32"}
			if k, v, ok := strings.Cut(tt.env, "="); ok {
				env[k] = v
			}
			h, err := NewHandler(t.Context(), Options{Getenv: func(k string) string { return env[k] }, Log: io.Discard})
			if err == nil {
				h.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewHandler = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// localUserFile writes a LOCAL_USERS_FILE with one user, a@example.com, password "pw".
func localUserFile(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "users.yaml", "users:\n  - email: a@example.com\n    password_hash: \""+string(hash)+"\"\n")
}

// TestSessionResourceOnAnotherHost: a resource that lists session on a host the session
// cookie never reaches starts, with a warning naming it; one on the issuer's host does not.
func TestSessionResourceOnAnotherHost(t *testing.T) {
	users := localUserFile(t)
	pol := writeFile(t, "policy.yaml", `resources:
  - url: https://auth.example.com/dashboard
    credentials: [session]
  - url: https://apps.example.com/grafana
    credentials: [session]
`)
	var logs strings.Builder
	env := map[string]string{"PROVIDER": "local", "LOCAL_USERS_FILE": users, "POLICY_FILE": pol, "ISSUER_URL": "https://auth.example.com", "STORE": "memory://"}
	h, err := NewHandler(t.Context(), Options{Getenv: func(k string) string { return env[k] }, Log: &logs})
	if err != nil {
		t.Fatalf("NewHandler = %v", err)
	}
	h.Close()
	if n := strings.Count(logs.String(), "lists session, but the session cookie"); n != 1 || !strings.Contains(logs.String(), "https://apps.example.com/grafana") {
		t.Errorf("%d warnings, want one naming https://apps.example.com/grafana:\n%s", n, logs.String())
	}
}
