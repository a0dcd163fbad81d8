package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// register POSTs body to /register from addr ("192.0.2.1:1234" form) and decodes the answer.
func register(t testing.TB, s *clientsServer, addr, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	mux := http.NewServeMux()
	s.routes(mux)
	r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/register", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if addr != "" {
		r.RemoteAddr = addr
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("POST /register answered %d with a body that is not JSON: %q", w.Code, w.Body.String())
	}
	return w, got
}

// knownClients are the DCR requests real MCP clients send, with the redirect URIs they
// then use and one each must not get.
var knownClients = []struct {
	name, body string
	use        []string
	method     string
	appType    string
}{
	{"Claude (claude.ai, hosted connector)", // anthropics/claude-ai-mcp#1043: client_secret_post, scope claudeai (#124)
		`{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post","scope":"claudeai"}`,
		[]string{"https://claude.ai/api/mcp/auth_callback"}, "client_secret_post", "web"},
	{"Claude (claude.com)",
		`{"client_name":"Claude","redirect_uris":["https://claude.com/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`,
		[]string{"https://claude.com/api/mcp/auth_callback"}, "none", "web"},
	{"Claude Code", // anthropics/claude-code#2527: localhost with a random port
		`{"client_name":"Claude Code (mcpguard)","redirect_uris":["http://localhost/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","application_type":"native"}`,
		[]string{"http://localhost/callback", "http://localhost:49152/callback"}, "none", "native"},
	{"ChatGPT", // per-connector callback plus the legacy one
		`{"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector/oauth/c_5f2a9e0d1b","https://chatgpt.com/connector_platform_oauth_redirect"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:read offline_access"}`,
		[]string{"https://chatgpt.com/connector/oauth/c_5f2a9e0d1b", "https://chatgpt.com/connector_platform_oauth_redirect"}, "none", "web"},
	{"VS Code", // microsoft/vscode#278512: 33418, or a random port when busy
		`{"client_name":"Visual Studio Code","redirect_uris":["https://insiders.vscode.dev/redirect","https://vscode.dev/redirect","http://127.0.0.1/","http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`,
		[]string{"https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect", "http://127.0.0.1:33418/", "http://127.0.0.1:61234/"}, "none", "web"},
	{"Cursor", // erp-mafia/accounted#2225 (three URIs); better-auth#10946 (application_type web)
		`{"client_name":"Cursor","application_type":"web","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback","https://www.cursor.com/agents/mcp/oauth/callback","http://localhost:8787/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`,
		[]string{"cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/agents/mcp/oauth/callback", "http://localhost:8787/callback"}, "none", "web"},
	{"Cursor without application_type", // better-auth PR #10956: current Cursor omits it
		`{"redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}`,
		[]string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "none", "native"},
	{"MCP Inspector (web)",
		`{"client_name":"MCP Inspector","client_uri":"https://github.com/modelcontextprotocol/inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:read"}`,
		[]string{"http://localhost:6274/oauth/callback"}, "none", "native"},
	{"MCP Inspector (CLI)",
		`{"client_name":"MCP Inspector","redirect_uris":["http://127.0.0.1:6276/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`,
		[]string{"http://127.0.0.1:6276/oauth/callback"}, "none", "native"},
	{"TypeScript SDK", // application_type derived from the redirect URIs (SEP-837)
		`{"client_name":"My MCP Client","application_type":"native","redirect_uris":["http://localhost:3000/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:read mcp:write offline_access","software_id":"x","contacts":["a@example.com"]}`,
		[]string{"http://localhost:3000/callback"}, "none", "native"},
}

// notTheirs are redirect URIs no known client registered.
var notTheirs = []string{
	"https://evil.example/cb",
	"http://127.0.0.1:6276/oauth/callback/../x",
	"https://claude.ai/api/mcp/auth_callback/",
	"cursor://anysphere.cursor-mcp/oauth/callback?x",
	"http://[::1]:6274/oauth/callback/x",
	"http://192.0.2.1:6274/oauth/callback",
}

func TestRegisterKnownClients(t *testing.T) {
	s := newClientsServer(t, nil)
	for _, tt := range knownClients {
		t.Run(tt.name, func(t *testing.T) {
			w, got := register(t, s, "", tt.body)
			if w.Code != http.StatusCreated {
				t.Fatalf("POST /register = %d %v, want 201", w.Code, got)
			}
			id, _ := got["client_id"].(string)
			if !strings.HasPrefix(id, "mcpg-") {
				t.Fatalf("client_id = %q, want the mcpg- prefix", id)
			}
			c, err := s.lookup(context.Background(), id)
			if err != nil {
				t.Fatalf("client(%q) = %v", id, err)
			}
			if c.Kind != "dcr" || c.TokenEndpointAuthMethod != tt.method || c.ApplicationType != tt.appType {
				t.Errorf("client(%q) = kind %q, method %q, application type %q; want dcr, %q, %q", id, c.Kind, c.TokenEndpointAuthMethod, c.ApplicationType, tt.method, tt.appType)
			}
			for _, u := range tt.use {
				if !redirectAllowed(c, u) {
					t.Errorf("redirectAllowed(%v, %q) = false, want true", c.RedirectURIs, u)
				}
			}
			for _, u := range notTheirs {
				if redirectAllowed(c, u) {
					t.Errorf("redirectAllowed(%v, %q) = true, want false", c.RedirectURIs, u)
				}
			}
		})
	}
}

func TestRegisterResponse(t *testing.T) {
	clock := newTestClock()
	s := newClientsServer(t, func(c *Config) { c.Now = clock.Now })

	w, got := register(t, s, "", knownClients[0].body) // Claude: client_secret_post
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /register = %d %v, want 201", w.Code, got)
	}
	for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"} {
		if v := w.Header().Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	secret, _ := got["client_secret"].(string)
	if !strings.HasPrefix(secret, "mcpg_cs_") || len(secret) != 8+43 {
		t.Errorf("client_secret = %q, want mcpg_cs_ and 32 random bytes in base64url (43 characters)", secret)
	}
	if got["client_secret_expires_at"] != 0.0 || got["client_id_issued_at"] != float64(clock.Now().Unix()) {
		t.Errorf("client_secret_expires_at, client_id_issued_at = %v, %v; want 0, %d", got["client_secret_expires_at"], got["client_id_issued_at"], clock.Now().Unix())
	}
	if got["scope"] != nil {
		t.Errorf("scope = %v, want unknown scopes dropped", got["scope"])
	}
	want := map[string]any{
		"client_name": "Claude", "token_endpoint_auth_method": "client_secret_post", "application_type": "web",
		"redirect_uris": []any{"https://claude.ai/api/mcp/auth_callback"}, "grant_types": []any{"authorization_code", "refresh_token"},
		"response_types": []any{"code"},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	c, err := s.store.GetClient(context.Background(), got["client_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash != clientSecretHash(secret) || strings.Contains(fmt.Sprint(c), secret) {
		t.Errorf("stored client %+v: want only the SHA-256 of the secret", c)
	}
	if !c.CreatedAt.Equal(clock.Now()) || !c.ExpiresAt.Equal(clock.Now().Add(30*24*time.Hour)) {
		t.Errorf("stored CreatedAt, ExpiresAt = %v, %v; want now and now+30 days", c.CreatedAt, c.ExpiresAt)
	}

	// A public client gets no secret.
	_, got = register(t, s, "", knownClients[1].body)
	if _, ok := got["client_secret"]; ok {
		t.Errorf("public client got client_secret: %v", got)
	}
	if _, ok := got["client_secret_expires_at"]; ok {
		t.Errorf("public client got client_secret_expires_at: %v", got)
	}

	// Defaults.
	_, got = register(t, s, "", `{"redirect_uris":["https://a.example/cb"],"scope":"mcp:write bogus mcp:write offline_access","client_uri":"javascript:alert(1)","logo_uri":"https://a.example/logo.png"}`)
	for k, v := range map[string]any{
		"grant_types": []any{"authorization_code"}, "response_types": []any{"code"}, "token_endpoint_auth_method": "none",
		"application_type": "web", "scope": "mcp:write offline_access", "client_uri": nil, "logo_uri": "https://a.example/logo.png",
	} {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("defaulted %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestRegisterRejects(t *testing.T) {
	tooMany, _ := json.Marshal(map[string]any{"redirect_uris": slices.Repeat([]string{"https://a.example/cb"}, 21)})
	tests := []struct {
		name, body, code string
	}{
		// The negative table.
		{"javascript redirect", `{"redirect_uris":["javascript:alert(1)"]}`, "invalid_redirect_uri"},
		{"http non-loopback redirect", `{"redirect_uris":["http://evil.example/cb"]}`, "invalid_redirect_uri"},
		{"fragment redirect", `{"redirect_uris":["https://a.example/cb#x"]}`, "invalid_redirect_uri"},
		{"wildcard host redirect", `{"redirect_uris":["https://*.a.example/cb"]}`, "invalid_redirect_uri"},
		{"wildcard path redirect", `{"redirect_uris":["https://a.example/*"]}`, "invalid_redirect_uri"},
		{"one bad among good", `{"redirect_uris":["https://a.example/cb","data:text/html,x"]}`, "invalid_redirect_uri"},
		{"no redirect_uris", `{"client_name":"x"}`, "invalid_redirect_uri"},
		{"empty redirect_uris", `{"redirect_uris":[]}`, "invalid_redirect_uri"},
		{"null redirect_uris", `{"redirect_uris":null}`, "invalid_redirect_uri"},
		{"21 redirect_uris", string(tooMany), "invalid_redirect_uri"},
		{"redirect_uris not an array", `{"redirect_uris":"https://a.example/cb"}`, "invalid_client_metadata"},
		{"redirect_uris of numbers", `{"redirect_uris":[1]}`, "invalid_client_metadata"},
		{"upper-case member is not the member", `{"REDIRECT_URIS":["https://a.example/cb"]}`, "invalid_redirect_uri"},
		{"implicit grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, "invalid_client_metadata"},
		{"client_credentials grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","client_credentials"]}`, "invalid_client_metadata"},
		{"refresh without code", `{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`, "invalid_client_metadata"},
		{"token response type", `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, "invalid_client_metadata"},
		{"private_key_jwt", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "invalid_client_metadata"},
		{"unknown application_type", `{"redirect_uris":["https://a.example/cb"],"application_type":"desktop"}`, "invalid_client_metadata"},
		{"name with escape", `{"redirect_uris":["https://a.example/cb"],"client_name":"Claude\u001b[2J"}`, "invalid_client_metadata"},
		{"name with newline", `{"redirect_uris":["https://a.example/cb"],"client_name":"Claude\nApproved"}`, "invalid_client_metadata"},
		{"name with bidi override", `{"redirect_uris":["https://a.example/cb"],"client_name":"Claude \u202egnp.exe"}`, "invalid_client_metadata"},
		{"name of 201 characters", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("é", 201) + `"}`, "invalid_client_metadata"},
		{"name not a string", `{"redirect_uris":["https://a.example/cb"],"client_name":{}}`, "invalid_client_metadata"},
		{"not JSON", `redirect_uris=https://a.example/cb`, "invalid_client_metadata"},
		{"JSON array", `[{"redirect_uris":["https://a.example/cb"]}]`, "invalid_client_metadata"},
		{"JSON null", `null`, "invalid_client_metadata"},
		{"empty body", ``, "invalid_client_metadata"},
		{"trailing garbage", `{"redirect_uris":["https://a.example/cb"]} x`, "invalid_client_metadata"},
		{"over 64 KiB", `{"redirect_uris":["https://a.example/cb"],"x":"` + strings.Repeat("a", 64<<10) + `"}`, "invalid_client_metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newClientsServer(t, nil)
			w, got := register(t, s, "", tt.body)
			if w.Code != http.StatusBadRequest || got["error"] != tt.code || got["error_description"] == "" {
				t.Errorf("POST /register %.60s = %d %v, want 400 %s with a description", tt.body, w.Code, got, tt.code)
			}
			if n, _ := s.store.CountClients(context.Background()); n != 0 {
				t.Errorf("a rejected registration stored %d clients", n)
			}
		})
	}
}

func TestRegisterAccepts(t *testing.T) {
	tests := []struct{ name, body string }{
		{"unknown members ignored", `{"redirect_uris":["https://a.example/cb"],"jwks":{"keys":[]},"software_statement":"x.y.z","tos_uri":"https://a.example/tos"}`},
		{"name of 200 characters", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("é", 200) + `"}`},
		{"name with emoji and CJK", `{"redirect_uris":["https://a.example/cb"],"client_name":"クライアント 🚀"}`},
		{"duplicate redirect_uris", `{"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`},
		{"20 redirect_uris", `{"redirect_uris":[` + strings.TrimSuffix(strings.Repeat(`"https://a.example/cb",`, 20), ",") + `]}`},
		{"null members", `{"redirect_uris":["https://a.example/cb"],"client_name":null,"grant_types":null,"scope":null}`},
		{"client_secret_basic", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newClientsServer(t, nil)
			if w, got := register(t, s, "", tt.body); w.Code != http.StatusCreated {
				t.Errorf("POST /register = %d %v, want 201", w.Code, got)
			}
		})
	}
}

func TestRegisterPreflight(t *testing.T) {
	s := newClientsServer(t, nil)
	mux := http.NewServeMux()
	s.routes(mux)
	r := httptest.NewRequest(http.MethodOptions, "https://auth.example.com/register", nil)
	r.Header.Set("Origin", "http://localhost:6274")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST") || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("OPTIONS /register = %d %v, want 204 with CORS *, POST and no credentials", w.Code, w.Header())
	}
	// GET is not registration.
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://auth.example.com/register", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /register = %d, want 405", w.Code)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	clock := newTestClock()
	var results []string
	s := newClientsServer(t, func(c *Config) {
		c.Now = clock.Now
		c.OnRegistration = func(kind, result string) { results = append(results, kind+":"+result) }
	})
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for i := range 10 {
		if w, got := register(t, s, "192.0.2.1:1000", body); w.Code != http.StatusCreated {
			t.Fatalf("registration %d = %d %v, want 201", i+1, w.Code, got)
		}
	}
	w, got := register(t, s, "192.0.2.1:1001", body)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "6" || got["error"] == nil {
		t.Errorf("11th registration in a minute = %d Retry-After %q %v, want 429 Retry-After 6", w.Code, w.Header().Get("Retry-After"), got)
	}
	if results[len(results)-1] != "dcr:rate_limited" || results[0] != "dcr:ok" {
		t.Errorf("OnRegistration results = %v, want dcr:ok ... dcr:rate_limited", results)
	}
	if w, _ := register(t, s, "192.0.2.2:1000", body); w.Code != http.StatusCreated {
		t.Errorf("registration from another address = %d, want 201", w.Code)
	}
	clock.Advance(6 * time.Second)
	if w, _ := register(t, s, "192.0.2.1:1000", body); w.Code != http.StatusCreated {
		t.Errorf("registration 6 s later = %d, want 201 (one token refilled)", w.Code)
	}
	if w, _ := register(t, s, "192.0.2.1:1000", body); w.Code != http.StatusTooManyRequests {
		t.Errorf("second registration 6 s later = %d, want 429", w.Code)
	}
}

func TestRateLimiterKeys(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		share bool
	}{
		{"same ipv4", "192.0.2.1", "192.0.2.1", true},
		{"other ipv4", "192.0.2.1", "192.0.2.2", false},
		{"ipv4-mapped ipv6 is ipv4", "::ffff:192.0.2.1", "192.0.2.1", true},
		{"same ipv6 /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"other ipv6 /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"zone ignored", "fe80::1%eth0", "fe80::2%eth1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(1)
			now := time.Now()
			if ok, _ := l.allow(netip.MustParseAddr(tt.a), now); !ok {
				t.Fatal("first request refused")
			}
			ok, wait := l.allow(netip.MustParseAddr(tt.b), now)
			if ok == tt.share {
				t.Errorf("allow(%s) after allow(%s) = %v, want %v (shared bucket %v)", tt.b, tt.a, ok, !tt.share, tt.share)
			}
			if !ok && wait != time.Minute {
				t.Errorf("wait = %v, want 1m", wait)
			}
		})
	}
}

func TestRateLimiterBounded(t *testing.T) {
	l := newRateLimiter(10)
	now := time.Now()
	for i := range maxRateBuckets + 100 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := len(l.buckets); n > maxRateBuckets {
		t.Errorf("%d buckets, want at most %d", n, maxRateBuckets)
	}
}

func TestRegisterClientAddr(t *testing.T) {
	s := newClientsServer(t, func(c *Config) {
		c.RegistrationsPerMinute = 1
		c.ClientAddr = func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
			return a
		}
	})
	mux := http.NewServeMux()
	s.routes(mux)
	post := func(client string) int {
		r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`))
		r.Header.Set("X-Test-Client", client)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	if a, b, c := post("198.51.100.1"), post("198.51.100.2"), post("198.51.100.1"); a != 201 || b != 201 || c != 429 {
		t.Errorf("registrations from .1, .2, .1 with Config.ClientAddr = %d %d %d, want 201 201 429", a, b, c)
	}
}

func TestRegisterCap(t *testing.T) {
	s := newClientsServer(t, func(c *Config) { c.MaxRegisteredClients = 2 })
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for i := range 2 {
		if w, _ := register(t, s, "", body); w.Code != http.StatusCreated {
			t.Fatalf("registration %d = %d, want 201", i+1, w.Code)
		}
	}
	w, got := register(t, s, "", body)
	if w.Code != http.StatusServiceUnavailable || got["error"] != "temporarily_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("registration past the cap = %d %v, want 503 temporarily_unavailable with Retry-After", w.Code, got)
	}
}

func TestRegistrationExpiry(t *testing.T) {
	clock := newTestClock()
	s := newClientsServer(t, func(c *Config) {
		c.Now = clock.Now
		c.RegistrationTTL = time.Hour
	})
	_, got := register(t, s, "", `{"redirect_uris":["https://a.example/cb"]}`)
	id := got["client_id"].(string)
	ctx := context.Background()

	clock.Advance(59 * time.Minute)
	c, err := s.lookup(ctx, id)
	if err != nil {
		t.Fatalf("client() 59 min after registering = %v", err)
	}
	s.touch(ctx, c) // used: another hour from now
	if st, err := s.store.GetClient(ctx, id); err != nil || !st.LastUsedAt.Equal(clock.Now()) || !st.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("after touchClient: %+v, %v; want LastUsedAt now and ExpiresAt an hour later", st, err)
	}
	clock.Advance(59 * time.Minute)
	if _, err := s.lookup(ctx, id); err != nil {
		t.Fatalf("client() 59 min after use = %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := s.lookup(ctx, id); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("client() an hour after last use = %v, want ErrUnknownClient", err)
	}
}

// TestRegistrationExpiryServerClock checks that the server's own clock expires a
// registration even when the store's clock lags behind it.
func TestRegistrationExpiryServerClock(t *testing.T) {
	clock := &testClock{t: time.Now().Add(24 * time.Hour)}
	st, err := store.Open("memory://") // real clock
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := newClientsServer(t, func(c *Config) {
		c.Now = clock.Now
		c.Store = st
		c.RegistrationTTL = time.Hour
	})
	_, got := register(t, s, "", `{"redirect_uris":["https://a.example/cb"]}`)
	id := got["client_id"].(string)
	if _, err := s.lookup(context.Background(), id); err != nil {
		t.Fatalf("client() right after registering = %v", err)
	}
	clock.Advance(time.Hour)
	if _, err := st.GetClient(context.Background(), id); err != nil {
		t.Fatalf("the store's clock should still see the client: %v", err)
	}
	if _, err := s.lookup(context.Background(), id); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("client() at ExpiresAt by the server's clock = %v, want ErrUnknownClient", err)
	}
}

func TestRegisterConcurrent(t *testing.T) {
	s := newClientsServer(t, func(c *Config) { c.RegistrationsPerMinute = 1000 })
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Go(func() {
			_, got := register(t, s, "", `{"redirect_uris":["https://a.example/cb"]}`)
			ids[i], _ = got["client_id"].(string)
		})
	}
	wg.Wait()
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 50 || ids[0] == "" {
		t.Errorf("50 concurrent registrations gave ids %v, want 50 distinct", ids)
	}
}

func FuzzParseRegistration(f *testing.F) {
	for _, tt := range knownClients {
		f.Add([]byte(tt.body))
	}
	for _, b := range []string{
		`{"redirect_uris":["javascript:alert(1)"]}`, `{"redirect_uris":"x"}`, `null`, `[]`, `{}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token","authorization_code"],"client_name":"\u202e"}`,
		`{"redirect_uris":["com.example.app:/cb"],"application_type":"web","scope":"mcp:read mcp:read x"}`,
	} {
		f.Add([]byte(b))
	}
	allowed, _ := newScopeSet([]string{"mcp:read", "mcp:write"})
	scopes := allowed.supported // mcp:read mcp:write offline_access
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseRegistration(body, allowed)
		if err != nil {
			var me *metadataError
			if !errors.As(err, &me) || (me.code != "invalid_redirect_uri" && me.code != "invalid_client_metadata") {
				t.Fatalf("parseRegistration(%q) = %v, want an RFC 7591 error", body, err)
			}
			return
		}
		checkParsedClient(t, c, scopes)
	})
}

// checkParsedClient checks what every client parsed from metadata must satisfy.
func checkParsedClient(t *testing.T, c store.Client, scopes []string) {
	t.Helper()
	if n := len(c.RedirectURIs); n < 1 || n > maxRedirectURIs {
		t.Fatalf("client has %d redirect URIs", n)
	}
	for _, u := range c.RedirectURIs {
		if err := validateRedirectURI(u, c.ApplicationType); err != nil {
			t.Fatalf("client has invalid redirect URI %q: %v", u, err)
		}
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") || len(c.GrantTypes) > 2 {
		t.Fatalf("client grant types %v", c.GrantTypes)
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			t.Fatalf("client grant type %q", g)
		}
	}
	if !slices.Equal(c.ResponseTypes, []string{"code"}) {
		t.Fatalf("client response types %v", c.ResponseTypes)
	}
	if !slices.Contains([]string{"none", "client_secret_basic", "client_secret_post"}, c.TokenEndpointAuthMethod) {
		t.Fatalf("client auth method %q", c.TokenEndpointAuthMethod)
	}
	if c.ApplicationType != "web" && c.ApplicationType != "native" {
		t.Fatalf("client application type %q", c.ApplicationType)
	}
	if err := validClientName(c.Name); err != nil {
		t.Fatalf("client name %q: %v", c.Name, err)
	}
	for _, sc := range strings.Fields(c.Scope) {
		if !slices.Contains(scopes, sc) {
			t.Fatalf("client scope %q not allowed", sc)
		}
	}
	if c.SecretHash != "" {
		t.Fatalf("parsed client has a secret hash")
	}
}
