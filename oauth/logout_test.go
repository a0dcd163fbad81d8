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

func TestLogout(t *testing.T) {
	e := newFlowEnv(t, nil)
	for _, tt := range returnPathTests {
		t.Run(tt.name, func(t *testing.T) {
			e.code(authParams()) // logged in
			resp := e.get("/logout?rd=" + url.QueryEscape(tt.rd))
			page := readBody(t, resp)
			loc := resp.Header.Get("Location")
			if tt.ok {
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Errorf("GET /logout?rd=%q = %d Location %q, want a local redirect", tt.rd, resp.StatusCode, loc)
				}
			} else if resp.StatusCode != http.StatusOK || loc != "" || !strings.Contains(page, "signed out") {
				t.Errorf("GET /logout?rd=%q = %d Location %q, want the signed-out page", tt.rd, resp.StatusCode, loc)
			}
			var cleared bool
			for _, c := range resp.Cookies() {
				cleared = cleared || c.Name == cookieNamePlain && c.MaxAge < 0
			}
			if !cleared {
				t.Errorf("logout did not expire the session cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
				t.Errorf("after logout, /authorize goes to %s, want /login", u)
			}
		})
	}
	// POST works too.
	resp := e.post("/logout", url.Values{"rd": {"/bye"}})
	if loc := redirectOf(t, resp); loc.String() != "/bye" {
		t.Errorf("POST /logout rd=/bye redirects to %s", loc)
	}
}
