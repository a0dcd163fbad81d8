package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestConsentPage: the page names the client, the redirect host, the scopes and the
// resource, and cannot be framed, scripted or cached (MCP security best practices).
func TestConsentPage(t *testing.T) {
	e := newFlowEnv(t, nil)
	q := authParams()
	q.Set("client_id", webClient)
	q.Set("redirect_uri", webRedirect)
	q.Set("scope", "mcp:read offline_access")
	redirectOf(t, e.authorize(q))
	redirectOf(t, e.login(aliceEmail, alicePassword))
	resp := e.get("/consent")
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /consent = %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"X-Frame-Options": "DENY",
		"Cache-Control":   "no-store",
		"Content-Type":    "text/html; charset=utf-8",
		"Referrer-Policy": "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "form-action 'self' https://app.example.com;"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
		}
	}
	for _, want := range []string{"Web App", `id="redirect-host">app.example.com<`, "mcp:read", "Stay connected", flowResource, aliceEmail,
		`name="csrf"`, `value="approve"`, `value="deny"`, `<html lang="en">`} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Errorf("consent page has a script")
	}
	// Loading the page again is harmless: the same form still works.
	again := readBody(t, e.get("/consent"))
	u := redirectOf(t, e.post("/consent", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "request": {hiddenField(t, requestField, again)}, "action": {"approve"}}))
	if u.Host != "app.example.com" || u.Query().Get("code") == "" {
		t.Errorf("approve redirects to %s, want the client with a code", u)
	}
}

func TestConsentCSRF(t *testing.T) {
	tests := []struct {
		name   string
		form   func(csrf, request string) url.Values
		status int
	}{
		{"token missing", func(_, r string) url.Values { return url.Values{"request": {r}, "action": {"approve"}} }, http.StatusForbidden},
		{"token wrong", func(_, r string) url.Values {
			return url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "request": {r}, "action": {"approve"}}
		}, http.StatusForbidden},
		{"token of another session", nil, http.StatusForbidden},
		{"request id missing", func(c, _ string) url.Values { return url.Values{"csrf": {c}, "action": {"approve"}} }, http.StatusBadRequest},
		{"request id stale", func(c, _ string) url.Values {
			return url.Values{"csrf": {c}, "request": {"stale"}, "action": {"approve"}}
		}, http.StatusBadRequest},
		{"no action", func(c, r string) url.Values { return url.Values{"csrf": {c}, "request": {r}} }, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t, nil)
			redirectOf(t, e.authorize(authParams()))
			redirectOf(t, e.login(aliceEmail, alicePassword))
			page := readBody(t, e.get("/consent"))
			csrf, req := hiddenField(t, csrfField, page), hiddenField(t, requestField, page)
			form := url.Values{}
			if tt.form != nil {
				form = tt.form(csrf, req)
			} else {
				// The attacker's own session's token, sent from the victim's browser.
				other := newFlowEnv(t, nil)
				redirectOf(t, other.authorize(authParams()))
				redirectOf(t, other.login(aliceEmail, alicePassword))
				form = url.Values{"csrf": {hiddenField(t, csrfField, readBody(t, other.get("/consent")))}, "request": {req}, "action": {"approve"}}
			}
			resp := e.post("/consent", form)
			readBody(t, resp)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != "" {
				t.Errorf("POST /consent = %d Location %q, want %d without redirect", resp.StatusCode, resp.Header.Get("Location"), tt.status)
			}
		})
	}
}

func TestConsentDeny(t *testing.T) {
	e := newFlowEnv(t, nil)
	redirectOf(t, e.authorize(authParams()))
	redirectOf(t, e.login(aliceEmail, alicePassword))
	u := redirectOf(t, e.consent("deny"))
	q := u.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "state-123" || q.Get("iss") != e.srv.URL || q.Has("code") {
		t.Errorf("deny redirects with %v, want access_denied, state and iss", q)
	}
	// Nothing was remembered: the next request asks again.
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/consent" {
		t.Errorf("after deny, /authorize goes to %s, want the consent page", u)
	}
}

// TestConsentRemembered: consent is remembered per user, client and resource, and
// grows with the scopes approved.
func TestConsentRemembered(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	tests := []struct {
		name    string
		mutate  func(url.Values)
		consent bool
	}{
		{"same request", func(url.Values) {}, false},
		{"no scope: every allowed scope", func(q url.Values) { q.Del("scope") }, true},
		{"wider scope", func(q url.Values) { q.Set("scope", "mcp:read mcp:write") }, true},
		{"other resource", func(q url.Values) { q.Set("resource", flowOtherResource) }, true},
		{"other client", func(q url.Values) { q.Set("client_id", webClient); q.Set("redirect_uri", webRedirect) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams()
			tt.mutate(q)
			u := redirectOf(t, e.authorize(q))
			if got := u.Path == "/consent"; got != tt.consent {
				t.Errorf("/authorize goes to %s; consent page %v, want %v", u, got, tt.consent)
			}
		})
	}
}

func TestCSPSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://claude.ai/api/mcp/auth_callback", "https://claude.ai"},
		{"http://127.0.0.1:33418/", "http://127.0.0.1:33418"},
		{"http://[::1]:8080/cb", "http:"},
		{"cursor://anysphere.cursor-mcp/oauth/callback", "cursor:"},
		{"com.example.app:/oauth", "com.example.app:"},
		{"https://a.example; script-src *", ""},
		{"", ""},
		{"no-scheme", ""},
	}
	for _, tt := range tests {
		if got := cspSource(tt.in); got != tt.want {
			t.Errorf("cspSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
