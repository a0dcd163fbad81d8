package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
)

const testToken = "0123456789abcdef0123456789abcdef-admin"

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestAPI is the admin API over a memory store and a real authorization server
// with one configured client ("cli"): alice has two sessions, a grant (family fa, on
// cli) and a consent; bob has one session and a grant (fb) on a registered client
// (mcpg-dcr). Logs go to the returned buffer.
func newTestAPI(t testing.TB) (http.Handler, store.Store, *bytes.Buffer, Config) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(store.Config{DSN: "memory://", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, s := range []store.Session{
		{ID: "s1", Identity: store.Identity{Subject: "alice", Email: "alice@example.com"}},
		{ID: "s2", Identity: store.Identity{Subject: "alice", Email: "alice@example.com"}},
		{ID: "s3", Identity: store.Identity{Subject: "bob"}},
	} {
		s.CreatedAt, s.LastUsedAt = testNow.Add(-time.Hour), testNow.Add(-time.Minute)
		s.ExpiresAt, s.IdleExpiresAt = testNow.Add(7*time.Hour), testNow.Add(time.Hour)
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	dcr := store.Client{ID: "mcpg-dcr", Name: "Registered", Kind: "dcr", RedirectURIs: []string{"http://127.0.0.1/cb"},
		CreatedAt: testNow.Add(-time.Hour), ExpiresAt: testNow.Add(time.Hour)}
	if err := st.CreateClient(ctx, dcr); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []store.RefreshToken{
		{TokenHash: "ha", FamilyID: "fa", ClientID: "cli", Identity: store.Identity{Subject: "alice", Email: "alice@example.com"}},
		{TokenHash: "hb", FamilyID: "fb", ClientID: dcr.ID, Identity: store.Identity{Subject: "bob"}},
	} {
		rt.IssuedAt, rt.ExpiresAt, rt.Scopes = testNow.Add(-time.Minute), testNow.Add(time.Hour), []string{"mcp:read"}
		if err := st.CreateRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutConsent(ctx, store.Consent{Subject: "alice", ClientID: "cli", Scopes: []string{"mcp:read"}, GrantedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	as, err := oauth.New(ctx, oauth.Config{
		Issuer: "https://auth.example.com", Store: st, Resources: []string{"https://mcp.example.com/mcp"},
		AllowedScopes: []string{"mcp:read"}, Now: func() time.Time { return testNow },
		Clients:  []oauth.StaticClient{{ID: "cli", Name: "Test CLI", RedirectURIs: []string{"http://127.0.0.1/callback"}}},
		Provider: "local", LocalUsers: []oauth.LocalUser{{Email: "alice@example.com", PasswordHash: string(hash)}},
		SessionSecret: []byte("0123456789abcdef0123456789abcdef-session"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := Config{Token: testToken, Sessions: st, Grants: st, Server: as, Log: zerolog.New(&logs),
		Now: func() time.Time { return testNow }, Actions: NewActionsCounter()}
	h, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return h, st, &logs, c
}

// call sends one request to h with the admin token unless auth overrides it.
func call(h http.Handler, method, target, body, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNewRefusesShortToken(t *testing.T) {
	st, _ := store.Open("memory://")
	defer st.Close()
	if _, err := New(Config{Token: strings.Repeat("x", MinTokenLen-1), Sessions: st, Grants: st}); err == nil {
		t.Errorf("New(31-character token) = nil error, want one")
	}
}

func TestToken(t *testing.T) {
	h, _, _, _ := newTestAPI(t)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "Bearer " + strings.Repeat("y", len(testToken)), http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + testToken[:32], http.StatusUnauthorized},
		{"token with more", "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"not bearer", "Basic " + testToken, http.StatusUnauthorized},
		{"bare token", testToken, http.StatusUnauthorized},
		{"right", "Bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"GET /v1/sessions?user=alice", "GET /v1/clients", "GET /v1/grants",
				"POST /v1/sessions/revoke", "POST /v1/grants/revoke", "POST /v1/clients/revoke", "POST /v1/people/revoke", "GET /nothing"} {
				method, path, _ := strings.Cut(target, " ")
				w := call(h, method, path, `{"id":"nope"}`, tt.auth)
				if tt.want == http.StatusUnauthorized && w.Code != tt.want {
					t.Errorf("%s with %q = %d, want %d", target, tt.auth, w.Code, tt.want)
				}
				if tt.want != http.StatusUnauthorized && w.Code == http.StatusUnauthorized {
					t.Errorf("%s with the token = 401", target)
				}
			}
		})
	}
}

func TestListSessions(t *testing.T) {
	h, _, _, _ := newTestAPI(t)
	w := call(h, "GET", "/v1/sessions?user=alice", "", "Bearer "+testToken)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/sessions?user=alice = %d %s, want 200", w.Code, w.Body)
	}
	var got Sessions
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 2 || got.Sessions[0].Email != "alice@example.com" || !got.Sessions[0].Expires.Equal(testNow.Add(time.Hour)) {
		t.Errorf("sessions of alice = %+v, want s1 and s2 ending in an hour", got.Sessions)
	}
	if w := call(h, "GET", "/v1/sessions", "", "Bearer "+testToken); w.Code != http.StatusBadRequest {
		t.Errorf("GET /v1/sessions without user = %d, want 400", w.Code)
	}
	w = call(h, "GET", "/v1/sessions?user=carol", "", "Bearer "+testToken)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sessions":[]`) {
		t.Errorf("GET /v1/sessions?user=carol = %d %s, want 200 with an empty list", w.Code, w.Body)
	}
}

func TestRevokeSession(t *testing.T) {
	h, st, logs, c := newTestAPI(t)
	tests := []struct {
		name, body string
		want       int
	}{
		{"malformed", `{"id":`, http.StatusBadRequest},
		{"unknown field", `{"id":"s1","user":"alice"}`, http.StatusBadRequest},
		{"trailing data", `{"id":"s1"} {}`, http.StatusBadRequest},
		{"no id", `{}`, http.StatusBadRequest},
		{"unknown id", `{"id":"s9"}`, http.StatusNotFound},
		{"oversized", `{"id":"` + strings.Repeat("a", maxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"ok", `{"id":"s1"}`, http.StatusOK},
		{"again", `{"id":"s1"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(h, "POST", "/v1/sessions/revoke", tt.body, "Bearer "+testToken)
			if w.Code != tt.want {
				t.Errorf("POST /v1/sessions/revoke %.40s = %d %s, want %d", tt.body, w.Code, w.Body, tt.want)
			}
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q, want JSON", w.Header().Get("Content-Type"))
			}
		})
	}
	if _, err := st.GetSession(context.Background(), "s1", testNow); err == nil {
		t.Errorf("session s1 still live after its revocation")
	}
	if _, err := st.GetSession(context.Background(), "s2", testNow); err != nil {
		t.Errorf("session s2 gone after revoking s1: %v", err)
	}
	if n := testutil.ToFloat64(c.Actions.WithLabelValues("revoke_session")); n != 1 {
		t.Errorf("mcpguard_admin_actions_total{action=revoke_session} = %v, want 1", n)
	}
	if got := strings.Count(logs.String(), `"action":"revoke_session"`); got != 1 || !strings.Contains(logs.String(), `"records":1`) {
		t.Errorf("audit lines = %q, want one for revoke_session with records 1", logs.String())
	}
}
