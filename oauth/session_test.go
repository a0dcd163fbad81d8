package oauth

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// sessionCookie returns the session cookie set by resp.
func sessionCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

func TestSessionCookieFlags(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		cookie string
	}{
		{"http", false, "mcpguard_session"},
		{"https", true, "__Host-mcpguard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startFlowEnv(t, tt.tls, nil)
			resp := e.authorize(authParams())
			resp.Body.Close()
			c := sessionCookie(t, resp, tt.cookie)
			raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			switch {
			case !c.HttpOnly:
				t.Errorf("cookie %q is not HttpOnly", raw)
			case c.SameSite != http.SameSiteLaxMode:
				t.Errorf("cookie %q is not SameSite=Lax", raw)
			case c.Secure != tt.tls:
				t.Errorf("cookie %q: Secure = %v, want %v", raw, c.Secure, tt.tls)
			case c.Path != "/" || c.Domain != "":
				t.Errorf("cookie %q: Path %q Domain %q, want / and none", raw, c.Path, c.Domain)
			case c.MaxAge != 8*3600:
				t.Errorf("cookie %q: Max-Age %d, want 8 h", raw, c.MaxAge)
			case len(c.Value) > maxCookieLen:
				t.Errorf("cookie is %d bytes, over %d", len(c.Value), maxCookieLen)
			}
			// The whole flow works through the cookie, over https too.
			if tt.tls {
				if a := e.exchange(e.code(authParams())); a.status != http.StatusOK {
					t.Errorf("flow over https: token = %d %v", a.status, a.body)
				}
			}
		})
	}
}

// TestSessionTampered: a cookie that does not decode is no session.
func TestSessionTampered(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	u := redirectOf(t, e.authorize(authParams()))
	if u.Path == "/login" {
		t.Fatalf("a logged-in session was sent to /login")
	}
	for _, c := range e.browser.Jar.Cookies(parseURL(t, e.srv.URL)) {
		if c.Name == cookieNamePlain {
			c.Value = c.Value[:len(c.Value)-4] + "AAAA"
			e.browser.Jar.SetCookies(parseURL(t, e.srv.URL), []*http.Cookie{c})
		}
	}
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Errorf("tampered cookie: /authorize goes to %s, want /login", u)
	}
}

// TestSessionOtherSecret: a cookie of another instance (another secret) is no session.
func TestSessionOtherSecret(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	e.cfg.SessionSecret = []byte("another-secret-of-at-least-32-bytes!!")
	e.restart()
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Errorf("cookie of another secret: /authorize goes to %s, want /login", u)
	}
}

// TestSessionLoginExpires: a login lasts 8 hours.
func TestSessionLoginExpires(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	e.clock.Advance(7 * time.Hour)
	if u := redirectOf(t, e.authorize(authParams())); u.Path == "/login" {
		t.Errorf("after 7 h, /authorize goes to /login, want the session to hold")
	}
	e.clock.Advance(time.Hour)
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Errorf("after 8 h, /authorize goes to %s, want /login", u)
	}
}

// TestSessionEncrypted: the cookie is encrypted, not only signed: its decoded value
// does not show the email, the state or the challenge.
func TestSessionEncrypted(t *testing.T) {
	e := newFlowEnv(t, nil)
	redirectOf(t, e.authorize(authParams()))
	resp := e.login(aliceEmail, alicePassword)
	resp.Body.Close()
	c := sessionCookie(t, resp, cookieNamePlain)
	outer, err := base64.URLEncoding.DecodeString(c.Value)
	if err != nil {
		t.Fatalf("cookie is not base64url: %v", err)
	}
	parts := strings.SplitN(string(outer), "|", 3) // timestamp|value|mac (securecookie; the MAC is binary)
	if len(parts) != 3 {
		t.Fatalf("cookie has %d parts, want 3", len(parts))
	}
	inner, err := base64.URLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("cookie value is not base64url: %v", err)
	}
	for _, secret := range []string{aliceEmail, "state-123", flowChallenge, "req_client_id"} {
		if strings.Contains(string(inner), secret) || strings.Contains(string(outer), secret) {
			t.Errorf("cookie shows %q in clear", secret)
		}
	}
}

// TestSessionTooLarge: an identity too large for a cookie gets an error page, not a
// broken session.
func TestSessionTooLarge(t *testing.T) {
	groups := make([]string, 300)
	for i := range groups {
		groups[i] = fmt.Sprintf("a-rather-long-group-name-%04d", i)
	}
	e := newFlowEnv(t, func(c *Config) { c.LocalUsers[0].Groups = groups })
	redirectOf(t, e.authorize(authParams()))
	resp := e.login(aliceEmail, alicePassword)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(page, "too large") {
		t.Errorf("login with 300 groups = %d, want 500 explaining the size", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if len(c.Value) > maxCookieLen {
			t.Errorf("cookie of %d bytes set", len(c.Value))
		}
	}
}

func parseURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
