package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// returnPathTests are rd values: the refused ones are the open redirects of the
// oauth2-proxy, Vouch and Authelia advisories (CVE-2020-11053 and its kin).
var returnPathTests = []struct {
	name, rd string
	ok       bool
}{
	{"root", "/", true},
	{"path and query", "/app/dashboard?tab=1", true},
	{"encoded query", "/search?q=a%20b", true},
	{"empty", "", false},
	{"double slash (GHSA-j7px-6hwj-hpjg)", "//evil.com", false},
	{"double slash path", "//evil.com/path", false},
	{"slash backslash (GHSA-j7px-6hwj-hpjg)", `/\evil.com`, false},
	{"tab between slashes (CVE-2020-11053)", "/\t/evil.com", false},
	{"encoded tab", "/%09/evil.com", false},
	{"encoded newline (CVE-2020-11053)", "/%0a/evil.com", false},
	{"encoded carriage return", "/%0d/evil.com", false},
	{"vertical tab", "/\v/evil.com", false},
	{"quad tab", "/\t\t\t\t/evil.com", false},
	{"dot backslash (oauth2-proxy validator_test)", `/./\evil.com`, false},
	{"dot dot slash", "/../evil.com", false},
	{"dot double slash", "/.//evil.com", false},
	{"encoded double slash", "/%2F%2Fevil.com", false},
	{"double-encoded double slash", "/%252F%252Fevil.com", false},
	{"encoded backslash", "/%5Cevil.com", false},
	{"absolute https", "https://evil.com", false},
	{"look-alike host (GHSA-4mf2-f3wh-gvf2)", "https://good.com.evil.com", false},
	{"rd inside rd (GHSA-4mf2-f3wh-gvf2)", "https://evil.com/?rd=good.com", false},
	{"other port", "https://good.com:3838", false},
	{"plain http when the cookie is Secure", "http://good.com/", false},
	{"javascript (Vouch)", "javascript:alert(1)", false},
	{"javascript with slash", "/javascript:alert(1)//", false},
	{"data (Vouch)", "data:text/html,<script>alert(1)</script>", false},
	{"nested url (Vouch 910943a)", "/?url=https%3a%2f%2fevil.com", false},
	{"scheme-relative with userinfo", "//good.com@evil.com", false},
	{"no leading slash", "evil.com", false},
	{"non-ASCII", "/\u2215\u2215evil.com", false},
	{"control character", "/a\x00b", false},
}

func TestSafeReturnPath(t *testing.T) {
	for _, tt := range returnPathTests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := safeReturnPath(tt.rd); ok != tt.ok {
				t.Errorf("safeReturnPath(%q) = %v, want %v", tt.rd, ok, tt.ok)
			}
		})
	}
}

// logoutCSRF opens the sign-out page and returns the CSRF token of its form.
func (e *flowEnv) logoutCSRF() string {
	e.t.Helper()
	resp := e.get("/logout")
	page := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `method="post"`) {
		e.t.Fatalf("GET /logout = %d, want 200 and the sign-out form:\n%s", resp.StatusCode, page)
	}
	return hiddenField(e.t, csrfField, page)
}

// logout signs out through the sign-out page's form, with rd.
func (e *flowEnv) logout(rd string) *http.Response {
	e.t.Helper()
	return e.post("/logout", url.Values{"csrf": {e.logoutCSRF()}, "rd": {rd}})
}

// copyCookie returns the browser's session cookie, as an attacker who read it would keep it.
func (e *flowEnv) copyCookie() *http.Cookie {
	e.t.Helper()
	for _, c := range e.browser.Jar.Cookies(parseURL(e.t, e.srv.URL)) {
		if c.Name == cookieNamePlain {
			return c
		}
	}
	e.t.Fatal("the browser has no session cookie")
	return nil
}

// replayCookie puts c back into the browser, as an attacker replaying a copied cookie would.
func (e *flowEnv) replayCookie(c *http.Cookie) {
	e.t.Helper()
	e.browser.Jar.SetCookies(parseURL(e.t, e.srv.URL), []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
}

// wantLogin fails t unless /authorize sends the browser to the login page, with no code.
func (e *flowEnv) wantLogin(when string) {
	e.t.Helper()
	if u := redirectOf(e.t, e.authorize(authParams())); u.Path != "/login" || u.Query().Has("code") {
		e.t.Errorf("%s, /authorize goes to %s, want /login", when, u)
	}
}

// wantCode fails t unless /authorize issues a code without a login.
func (e *flowEnv) wantCode(when string) {
	e.t.Helper()
	if u := redirectOf(e.t, e.authorize(authParams())); u.Query().Get("code") == "" {
		e.t.Errorf("%s, /authorize goes to %s, want a code", when, u)
	}
}

func TestLogout(t *testing.T) {
	e := newFlowEnv(t, nil)
	for _, tt := range returnPathTests {
		t.Run(tt.name, func(t *testing.T) {
			e.code(authParams()) // logged in
			resp := e.logout(tt.rd)
			page := readBody(t, resp)
			loc := resp.Header.Get("Location")
			if tt.ok {
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Errorf("POST /logout rd=%q = %d Location %q, want a local redirect", tt.rd, resp.StatusCode, loc)
				}
			} else if resp.StatusCode != http.StatusOK || loc != "" || !strings.Contains(page, "signed out") {
				t.Errorf("POST /logout rd=%q = %d Location %q, want the signed-out page", tt.rd, resp.StatusCode, loc)
			}
			var cleared bool
			for _, c := range resp.Cookies() {
				cleared = cleared || c.Name == cookieNamePlain && c.MaxAge < 0
			}
			if !cleared {
				t.Errorf("logout did not expire the session cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			e.wantLogin("after logout")
		})
	}
}

// TestLogoutPage: GET /logout signs nobody out; it shows a form that POSTs with the
// CSRF token, and carries a safe rd along.
func TestLogoutPage(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	resp := e.get("/logout?rd=" + url.QueryEscape("/bye"))
	page := readBody(t, resp)
	for _, want := range []string{`method="post"`, `action="/logout"`, `name="csrf"`, `name="rd" value="/bye"`, aliceEmail} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /logout page lacks %s:\n%s", want, page)
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /logout = %d, want 200", resp.StatusCode)
	}
	page = readBody(t, e.get("/logout?rd="+url.QueryEscape("//evil.com")))
	if strings.Contains(page, "evil.com") {
		t.Errorf("GET /logout?rd=//evil.com carries the rd along:\n%s", page)
	}
	e.wantCode("after GET /logout")
}

// TestLogoutCSRF: a POST /logout without the session's CSRF token is refused and the
// session lives on.
func TestLogoutCSRF(t *testing.T) {
	tests := []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{}},
		{"empty token", url.Values{"csrf": {""}}},
		{"wrong token", url.Values{"csrf": {"not-the-token-of-this-session-000"}}},
		{"token of another session", nil}, // filled in below
	}
	e := newFlowEnv(t, nil)
	other := newFlowEnv(t, nil)
	other.code(authParams())
	tests[3].form = url.Values{"csrf": {other.logoutCSRF()}}
	e.code(authParams())
	e.logoutCSRF() // the session has a token
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post("/logout", tt.form)
			readBody(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST /logout with %s = %d, want 403", tt.name, resp.StatusCode)
			}
			e.wantCode("after a refused logout")
		})
	}
}

// TestLogoutEndsCopies replays a cookie copied before /logout, as a thief of it would:
// the session's record is gone, so the copy gets the login page, never a code.
func TestLogoutEndsCopies(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	stolen := e.copyCookie()
	readBody(t, e.logout(""))
	e.replayCookie(stolen)
	e.wantLogin("replaying a cookie copied before logout")
	// prompt=none tells the client so, without a page.
	p := authParams()
	p.Set("prompt", "none")
	if u := redirectOf(t, e.authorize(p)); u.Query().Get("error") != "login_required" {
		t.Errorf("replayed cookie with prompt=none goes to %s, want login_required", u)
	}
}

// TestLoginRotatesSession: a new login gets a new session; a cookie copied before it,
// logged in or not, is worth nothing after it (session fixation).
func TestLoginRotatesSession(t *testing.T) {
	e := newFlowEnv(t, nil)
	redirectOf(t, e.authorize(authParams()))
	planted := e.copyCookie() // before any login: what an attacker could plant
	e.code(authParams())
	first := e.copyCookie()
	p := authParams()
	p.Set("prompt", "login")
	e.code(p)
	second := e.copyCookie()
	if first.Value == second.Value {
		t.Fatal("a new login kept the session cookie")
	}
	e.replayCookie(first)
	e.wantLogin("replaying the cookie of the login before")
	e.replayCookie(planted)
	e.wantLogin("replaying the cookie from before the login")
	e.replayCookie(second)
	e.wantCode("with the current cookie")
}
