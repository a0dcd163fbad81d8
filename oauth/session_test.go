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

// TestSessionLoginExpires: a login lasts 8 hours however much it is used, and ends
// after an hour without use; a cookie copied before either gets the login page.
func TestSessionLoginExpires(t *testing.T) {
	t.Run("ttl", func(t *testing.T) {
		e := newFlowEnv(t, nil)
		e.code(authParams())
		stolen := e.copyCookie()
		for range 9 { // up to 7 h 30 min
			e.clock.Advance(50 * time.Minute) // used well within SESSION_IDLE
			e.wantCode("used every 50 min")
		}
		e.clock.Advance(30 * time.Minute) // 8 h since the login
		e.wantLogin("8 h after the login")
		e.replayCookie(stolen)
		e.wantLogin("replaying a cookie 8 h after its login")
	})
	t.Run("idle", func(t *testing.T) {
		e := newFlowEnv(t, nil)
		e.code(authParams())
		stolen := e.copyCookie()
		e.clock.Advance(59 * time.Minute)
		e.wantCode("after 59 min")
		e.clock.Advance(time.Hour)
		e.wantLogin("after an hour unused")
		e.replayCookie(stolen)
		e.wantLogin("replaying a cookie unused for an hour")
	})
	t.Run("configured", func(t *testing.T) {
		e := newFlowEnv(t, func(c *Config) { c.SessionTTL, c.SessionIdle = 30*time.Minute, 10*time.Minute })
		e.code(authParams())
		for range 2 {
			e.clock.Advance(9 * time.Minute)
			e.wantCode("used every 9 min")
		}
		e.clock.Advance(11 * time.Minute)
		e.wantLogin("unused for 11 min with SessionIdle 10 min")
		e.code(authParams())
		for range 3 {
			e.clock.Advance(9 * time.Minute)
			e.wantCode("used every 9 min")
		}
		e.clock.Advance(4 * time.Minute)
		e.wantLogin("31 min after the login with SessionTTL 30 min")
	})
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

// TestSessionLargeIdentity: the identity lives in the store, not the cookie, so an
// identity of many groups logs in with a small cookie.
func TestSessionLargeIdentity(t *testing.T) {
	groups := make([]string, 300)
	for i := range groups {
		groups[i] = fmt.Sprintf("a-rather-long-group-name-%04d", i)
	}
	e := newFlowEnv(t, func(c *Config) { c.LocalUsers[0].Groups = groups })
	e.code(authParams())
	if c := e.copyCookie(); len(c.Value) > 1024 {
		t.Errorf("cookie of %d bytes for a logged-in session, want at most 1024", len(c.Value))
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
