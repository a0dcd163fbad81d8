package forwardauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// browserPolicy adds, after the MCP resource (which lists no credentials), a browser app
// that lists session and a resource that asks for a signed identity assertion.
const browserPolicy = `  - url: https://mcp.example.com/app
    credentials: [session]
  - url: https://mcp.example.com/signed
    credentials: [oauth, session]
    public_paths: [/signed/public]
    identity_assertion: {}
  - url: https://mcp.example.com/bearer
    credentials: [oauth]
    identity_assertion: {header: authorization}`

// sessionCookie is the browser's session cookie after a login, as "name=value".
func (f *flowServer) sessionCookie() string {
	f.t.Helper()
	u, _ := url.Parse(f.base)
	for _, c := range f.c.Jar.Cookies(u) {
		if c.Name == "mcpguard_session" {
			return c.Name + "=" + c.Value
		}
	}
	f.t.Fatal("the browser has no session cookie")
	return ""
}

// serve answers r with f's handler.
func (f *flowServer) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestBrowserLogin: a browser without a session is sent to the login page with the URL
// it wanted, only on resources that list session; after the login it is sent back
// there, and its cookie opens the app as X-Auth-Source: session.
func TestBrowserLogin(t *testing.T) {
	f := startFlowServer(t, browserPolicy)
	appURL := "https://mcp.example.com/app/dash?tab=1&q=a%20b"
	wantLoc := f.base + "/login?rd=" + url.QueryEscape(appURL)

	// Before any login: the 401s.
	signedOut := []struct {
		name, uri, accept, location string
	}{
		{"browser, session resource", "/app/dash?tab=1&q=a%20b", browserAccept, wantLoc},
		{"fetch (*/*), session resource", "/app/dash", "*/*", ""},
		{"API client, session resource", "/app/dash", "application/json", ""},
		{"browser, MCP route that lists no credentials", "/mcp", browserAccept, ""},
		{"browser, resource listing oauth and session", "/signed", browserAccept, f.base + "/login?rd=" + url.QueryEscape("https://mcp.example.com/signed")},
		{"browser, resource listing oauth only", "/bearer", browserAccept, ""},
	}
	for _, tt := range signedOut {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(fwd("GET", tt.uri, "Accept", tt.accept))
			if w.Code != http.StatusUnauthorized || w.Header().Get("Location") != tt.location {
				t.Errorf("/auth = %d Location %q, want 401 Location %q", w.Code, w.Header().Get("Location"), tt.location)
			}
		})
	}
	t.Run("nginx dialect rebuilds the URL from X-Original-URL", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/auth", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("X-Original-URL", appURL)
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Set("Accept", browserAccept)
		if w := f.serve(r); w.Header().Get("Location") != wantLoc {
			t.Errorf("Location = %q, want %q", w.Header().Get("Location"), wantLoc)
		}
	})

	// The login page sends the browser back to the app.
	if loc := f.login(appURL).Header.Get("Location"); loc != appURL {
		t.Fatalf("login with rd=%s redirects to %q", appURL, loc)
	}
	cookie := f.sessionCookie()
	if loc := must(t)(f.c.Get(wantLoc)).Header.Get("Location"); loc != appURL {
		t.Errorf("signed in, the 401's Location redirects to %q, want %q", loc, appURL)
	}

	signedIn := []struct {
		name, uri, cookie string
		status            int
		source            string
	}{
		{"session cookie, session resource", "/app/dash", cookie, http.StatusOK, "session"},
		{"session cookie among others", "/app/dash", "a=1; " + cookie + "; b=2", http.StatusOK, "session"},
		{"session cookie, MCP route that lists no credentials", "/mcp", cookie, http.StatusUnauthorized, ""},
		{"session cookie, resource listing oauth only", "/bearer", cookie, http.StatusUnauthorized, ""},
		{"forged cookie", "/app/dash", cookie[:len(cookie)-4] + "AAAA", http.StatusUnauthorized, ""},
		{"cookie of another name", "/app/dash", "__Host-mcpguard" + strings.TrimPrefix(cookie, "mcpguard_session"), http.StatusUnauthorized, ""},
	}
	for _, tt := range signedIn {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(fwd("GET", tt.uri, "Accept", browserAccept, "Cookie", tt.cookie, "X-Auth-Source", "forged"))
			if w.Code != tt.status {
				t.Fatalf("/auth = %d, want %d", w.Code, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			h := w.Header()
			if h.Get("X-Auth-Source") != tt.source || h.Get("X-Forwarded-User") != "demo@example.com" ||
				h.Get("X-Forwarded-Groups") != "eng,ops" || h.Get("Location") != "" || len(h["Authorization"]) != 1 || h.Get("Authorization") != "" {
				t.Errorf("/auth headers = %v, want the session's identity, source %q, Authorization empty", h, tt.source)
			}
		})
	}

	// After /logout the same cookie is a login redirect again.
	page := f.body(must(t)(f.c.Get(f.base + "/logout")))
	f.body(must(t)(f.c.PostForm(f.base+"/logout", url.Values{"csrf": {f.field(flowCSRF, page)}})))
	if w := f.serve(fwd("GET", "/app/dash?tab=1&q=a%20b", "Accept", browserAccept, "Cookie", cookie)); w.Code != http.StatusUnauthorized || w.Header().Get("Location") != wantLoc {
		t.Errorf("after logout, /auth = %d Location %q, want 401 Location %q", w.Code, w.Header().Get("Location"), wantLoc)
	}
}

// TestIdentityAssertion: a resource with identity_assertion gets a JWT signed with the
// key /jwks publishes, saying who called; a client's copy of the header never survives.
func TestIdentityAssertion(t *testing.T) {
	f := startFlowServer(t, browserPolicy)
	const signed = "https://mcp.example.com/signed"
	tok := f.token(signed)
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(f.body(must(t)(f.c.Get(f.base+"/jwks")))), &jwks); err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, raw string) map[string]any {
		t.Helper()
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("the assertion %q does not parse: %v", raw, err)
		}
		if typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != "mcpguard-identity+jwt" {
			t.Errorf("typ = %q, want mcpguard-identity+jwt", typ)
		}
		keys := jwks.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q is not in /jwks", jws.Signatures[0].Header.KeyID)
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			t.Fatalf("the assertion does not verify with /jwks: %v", err)
		}
		var c map[string]any
		json.Unmarshal(payload, &c)
		return c
	}

	w := f.serve(fwd("POST", "/signed", "Authorization", "Bearer "+tok, "X-Mcpguard-Assertion", "forged"))
	got := w.Header().Get("X-Mcpguard-Assertion")
	if w.Code != http.StatusOK || got == "" || got == "forged" {
		t.Fatalf("/auth = %d, X-Mcpguard-Assertion %q; want 200 and a signed assertion", w.Code, got)
	}
	c := verify(t, got)
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if c["iss"] != f.base || c["aud"] != signed || c["sub"] != "demo@example.com" || c["email"] != "demo@example.com" ||
		c["client_id"] != "quickstart" || c["auth_source"] != "oauth" || exp-iat <= 0 || exp-iat > 300 ||
		time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Errorf("claims = %v, want iss %s, aud %s, the person, client quickstart, at most five minutes", c, f.base, signed)
	}
	if g, _ := c["groups"].([]any); len(g) != 2 || g[0] != "eng" || g[1] != "ops" {
		t.Errorf("groups = %v, want [eng ops]", c["groups"])
	}
	if again := f.serve(fwd("POST", "/signed", "Authorization", "Bearer "+tok)).Header().Get("X-Mcpguard-Assertion"); again != got {
		t.Errorf("a second request got another assertion: the cache did not keep it")
	}

	t.Run("public path: the header is sent empty", func(t *testing.T) {
		w := f.serve(fwd("GET", "/signed/public", "X-Mcpguard-Assertion", "forged"))
		if v, ok := w.Header()["X-Mcpguard-Assertion"]; w.Code != http.StatusOK || !ok || len(v) != 1 || v[0] != "" {
			t.Errorf("/auth = %d, X-Mcpguard-Assertion %q; want 200 and the header empty", w.Code, v)
		}
	})
	t.Run("resource without identity_assertion: no header", func(t *testing.T) {
		w := f.serve(fwd("POST", "/mcp", "Authorization", "Bearer "+f.token("https://mcp.example.com/mcp")))
		if _, ok := w.Header()["X-Mcpguard-Assertion"]; w.Code != http.StatusOK || ok {
			t.Errorf("/auth = %d, headers %v; want 200 without X-Mcpguard-Assertion", w.Code, w.Header())
		}
	})
	t.Run("the assertion is not an access token", func(t *testing.T) {
		if w := f.serve(fwd("POST", "/signed", "Authorization", "Bearer "+got)); w.Code != http.StatusUnauthorized {
			t.Errorf("/auth with the assertion as bearer = %d, want 401", w.Code)
		}
	})
	t.Run("header Authorization: Bearer <assertion>", func(t *testing.T) {
		w := f.serve(fwd("POST", "/bearer", "Authorization", "Bearer "+f.token("https://mcp.example.com/bearer"), "X-Upstream-Authorization", "Bearer client"))
		authz, ok := strings.CutPrefix(w.Header().Get("Authorization"), "Bearer ")
		if w.Code != http.StatusOK || !ok {
			t.Fatalf("/auth = %d, Authorization %q; want 200 and Bearer <assertion>", w.Code, w.Header().Get("Authorization"))
		}
		if c := verify(t, authz); c["aud"] != "https://mcp.example.com/bearer" {
			t.Errorf("aud = %v, want https://mcp.example.com/bearer", c["aud"])
		}
	})
	t.Run("session source", func(t *testing.T) {
		// The authorization code flow above signed the browser in.
		w := f.serve(fwd("GET", "/signed", "Cookie", f.sessionCookie()))
		if w.Code != http.StatusOK {
			t.Fatalf("/auth with the session cookie = %d, want 200", w.Code)
		}
		if c := verify(t, w.Header().Get("X-Mcpguard-Assertion")); c["auth_source"] != "session" || c["sub"] != "demo@example.com" {
			t.Errorf("claims = %v, want the session's person", c)
		}
	})
}

// TestBrowserLoginRedirectForm: /auth?login=redirect (the Traefik and Caddy browser
// recipes' address) answers with a 302 exactly where the plain form's 401 carries a
// login Location; every other answer is the plain form's, and a request in the nginx
// dialect (whose proxy turns a 3xx into a 500) never gets one.
func TestBrowserLoginRedirectForm(t *testing.T) {
	f := startFlowServer(t, browserPolicy)
	appURL := "https://mcp.example.com/app/dash?tab=1"
	wantLoc := f.base + "/login?rd=" + url.QueryEscape(appURL)
	nginx := func(target string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("X-Original-URL", appURL)
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Set("Accept", browserAccept)
		return r
	}
	form := func(target string, kv ...string) *http.Request {
		r := fwd("GET", "/app/dash?tab=1", "Accept", browserAccept)
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		r.URL, _ = url.Parse(target)
		return r
	}
	tests := []struct {
		name     string
		r        *http.Request
		status   int
		location string
	}{
		{"redirect form, browser, session resource", form("/auth?login=redirect"), http.StatusFound, wantLoc},
		{"plain form, browser, session resource", form("/auth"), http.StatusUnauthorized, wantLoc},
		{"other login value", form("/auth?login=redirects"), http.StatusUnauthorized, wantLoc},
		{"login given twice", form("/auth?login=redirect&login=redirect"), http.StatusUnauthorized, wantLoc},
		{"redirect form, fetch", form("/auth?login=redirect", "Accept", "*/*"), http.StatusUnauthorized, ""},
		{"redirect form, MCP route", func() *http.Request {
			r := fwd("GET", "/mcp", "Accept", browserAccept)
			r.URL, _ = url.Parse("/auth?login=redirect")
			return r
		}(), http.StatusUnauthorized, ""},
		{"redirect form, nginx dialect", nginx("/auth?login=redirect"), http.StatusUnauthorized, wantLoc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(tt.r)
			if w.Code != tt.status || w.Header().Get("Location") != tt.location {
				t.Fatalf("/auth = %d Location %q, want %d Location %q", w.Code, w.Header().Get("Location"), tt.status, tt.location)
			}
			if tt.status == http.StatusFound && (w.Header().Get("WWW-Authenticate") != "" || w.Body.Len() != 0 || w.Header().Get("Cache-Control") != "no-store") {
				t.Errorf("302 headers %v body %q, want no challenge, no body, Cache-Control: no-store", w.Header(), w.Body)
			}
			if tt.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without a challenge: %v", w.Header())
			}
		})
	}
	// Signed in, the redirect form allows like the plain one.
	f.login(appURL)
	if w := f.serve(form("/auth?login=redirect", "Cookie", f.sessionCookie())); w.Code != http.StatusOK || w.Header().Get("X-Auth-Source") != "session" {
		t.Errorf("redirect form with a session = %d %v, want 200 as session", w.Code, w.Header())
	}
}
