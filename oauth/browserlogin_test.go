package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
)

// browserApp is a resource served to browsers, on a host of its own and with a port.
const browserApp = "http://apps.example.com:8080/grafana"

// returnURLTests are absolute rd values for a login with the resources
// https://mcp.example.com/... and http://apps.example.com:8080/grafana: only their
// exact origins pass. Each refused row names the advisory it comes from
// (reference/forwardauth-proxies.md section 3).
var returnURLTests = []struct {
	name, rd string
	ok       bool
}{
	{"resource origin", "https://mcp.example.com/app/dashboard?tab=1", true},
	{"resource origin, root", "https://mcp.example.com", true},
	{"resource with port", "http://apps.example.com:8080/grafana/d/1", true},
	{"another path of the resource host", "http://apps.example.com:8080/other", true},
	{"other host (GHSA-qqxw-m5fj-f7gv)", "https://evil.com/", false},
	{"look-alike suffix (GHSA-4mf2-f3wh-gvf2)", "https://mcp.example.com.evil.com/", false},
	{"look-alike prefix (Vouch 910943a)", "https://evilmcp.example.com/", false},
	{"subdomain of a resource host (GHSA-4mf2-f3wh-gvf2)", "https://x.mcp.example.com/", false},
	{"rd chained in the query (GHSA-4mf2-f3wh-gvf2)", "https://mcp.example.com/?rd=https://evil.com", false},
	{"encoded chained url (Vouch 910943a)", "https://mcp.example.com/?url=https%3a%2f%2fevil.com", false},
	{"double-encoded chained url (Vouch 910943a)", "https://mcp.example.com/?url=https%253a%252f%252fevil.com", false},
	{"chained scheme-relative (Vouch 910943a)", "https://mcp.example.com/?next=%2f%2fevil.com", false},
	{"userinfo trick (CVE-2020-4037)", "https://mcp.example.com@evil.com/", false},
	{"userinfo on a resource host (CVE-2020-4037)", "https://user:pw@mcp.example.com/", false},
	{"backslash before userinfo (CVE-2020-4037)", `https://mcp.example.com\@evil.com/`, false},
	{"encoded at in host (CVE-2020-4037)", "https://mcp.example.com%40evil.com/", false},
	{"other port (GHSA-4mf2-f3wh-gvf2)", "https://mcp.example.com:3838/", false},
	{"explicit default port (GHSA-4mf2-f3wh-gvf2)", "https://mcp.example.com:443/", false},
	{"missing port (GHSA-4mf2-f3wh-gvf2)", "http://apps.example.com/grafana", false},
	{"plain http to an https resource (Authelia GHSA-36f2-fcrx-fp4j)", "http://mcp.example.com/", false},
	{"https to an http resource (Authelia GHSA-36f2-fcrx-fp4j)", "https://apps.example.com:8080/grafana", false},
	{"upper-case host", "https://MCP.example.com/", false},
	{"javascript (Vouch)", "javascript:alert(1)", false},
	{"javascript on a resource host (Vouch)", "javascript://mcp.example.com/%0aalert(1)", false},
	{"data (Vouch)", "data:text/html;base64,PHNjcmlwdD4=", false},
	{"scheme-relative (GHSA-j7px-6hwj-hpjg)", "//mcp.example.com/", false},
	{"double slash in path (GHSA-j7px-6hwj-hpjg)", "https://mcp.example.com//evil.com", false},
	{"slash backslash in path (GHSA-j7px-6hwj-hpjg)", `https://mcp.example.com/\evil.com`, false},
	{"encoded double slash in path (CVE-2020-11053)", "https://mcp.example.com/%2f%2fevil.com", false},
	{"tab in host (CVE-2020-11053)", "https://mcp.example\t.com/", false},
	{"encoded tab between slashes (CVE-2020-11053)", "https://mcp.example.com/%09/evil.com", false},
	{"fragment", "https://mcp.example.com/#@evil.com", false},
	{"space", "https://mcp.example.com/ /evil.com", false},
	{"non-ASCII host (IDN look-alike)", "https://mcp.exampl\u0435.com/", false},
	{"ftp (Vouch)", "ftp://mcp.example.com/", false},
	{"too long", "https://mcp.example.com/" + string(make([]byte, 2100)), false},
}

func TestSafeReturn(t *testing.T) {
	f := &frontChannel{returnOrigins: returnOrigins([]string{flowResource, flowOtherResource, browserApp})}
	for _, tt := range returnURLTests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := f.safeReturn(tt.rd); ok != tt.ok {
				t.Errorf("safeReturn(%q) = %v, want %v", tt.rd, ok, tt.ok)
			}
		})
	}
	// A local path is judged as safeReturnPath judges it.
	for _, tt := range returnPathTests {
		t.Run("local/"+tt.name, func(t *testing.T) {
			if _, ok := f.safeReturn(tt.rd); ok != tt.ok {
				t.Errorf("safeReturn(%q) = %v, want %v", tt.rd, ok, tt.ok)
			}
		})
	}
}

// TestLoginReturnsToResource: /login?rd=<a URL on a resource's origin> sends the person
// there after the login, and at once when already signed in; a hostile rd is dropped.
func TestLoginReturnsToResource(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) { c.Resources = append(c.Resources, browserApp) })
	target := browserApp + "/d/1?orgId=1"
	page := readBody(t, e.get("/login?rd="+url.QueryEscape(target)))
	resp := e.post("/login", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "email": {aliceEmail}, "password": {alicePassword}})
	if got := redirectOf(t, resp); got.String() != target {
		t.Fatalf("login with rd redirects to %s, want %s", got, target)
	}
	if got := redirectOf(t, e.get("/login?rd="+url.QueryEscape(target))); got.String() != target {
		t.Errorf("signed in, /login?rd= redirects to %s, want %s", got, target)
	}
	for _, tt := range returnURLTests {
		if tt.ok {
			continue
		}
		resp := e.get("/login?rd=" + url.QueryEscape(tt.rd))
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s: signed in, /login?rd=%q redirects to %q, want no redirect", tt.name, tt.rd, loc)
		}
	}
}

// TestBrowserSessions: /auth's session credential is the person of a live session, and
// nothing once the session is signed out, ended, or its cookie forged.
func TestBrowserSessions(t *testing.T) {
	e := newFlowEnv(t, nil)
	bs := e.as.BrowserSessions()
	noCookie := &auth.Request{Header: http.Header{}}
	if _, err := bs.Authenticate(noCookie); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("Authenticate(no cookie) = %v, want ErrNoCredentials", err)
	}
	e.login(aliceEmail, alicePassword).Body.Close()
	c := e.copyCookie()
	withCookie := func(v string) *auth.Request {
		return &auth.Request{Header: http.Header{"Cookie": {"other=1; " + c.Name + "=" + v}}}
	}
	p, err := bs.Authenticate(withCookie(c.Value))
	if err != nil {
		t.Fatalf("Authenticate(session cookie) = %v", err)
	}
	if p.Subject != aliceEmail || p.Email != aliceEmail || !p.EmailVerified || p.Source != auth.SourceSession || len(p.Groups) != 1 || p.Groups[0] != "eng" {
		t.Errorf("Authenticate(session cookie) = %+v, want alice's identity from a session", p)
	}
	if _, err := bs.Authenticate(withCookie(c.Value[:len(c.Value)-2] + "AA")); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("Authenticate(forged cookie) = %v, want ErrNoCredentials", err)
	}

	// The idle expiry moves at most once a minute.
	sessions, err := e.st.ListSessions(t.Context(), aliceEmail, e.clock.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("ListSessions = %v, %v; want one session", sessions, err)
	}
	first := sessions[0].LastUsedAt
	e.clock.Advance(30 * time.Second)
	bs.Authenticate(withCookie(c.Value))
	if s, _ := e.st.ListSessions(t.Context(), aliceEmail, e.clock.Now()); !s[0].LastUsedAt.Equal(first) {
		t.Errorf("after 30s, LastUsedAt = %v, want %v (not touched)", s[0].LastUsedAt, first)
	}
	e.clock.Advance(31 * time.Second)
	bs.Authenticate(withCookie(c.Value))
	if s, _ := e.st.ListSessions(t.Context(), aliceEmail, e.clock.Now()); !s[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("after 61s, LastUsedAt = %v, want %v (touched)", s[0].LastUsedAt, e.clock.Now())
	}

	// Idle past SESSION_IDLE: the session is over.
	e.clock.Advance(defaultSessionIdle + time.Second)
	if _, err := bs.Authenticate(withCookie(c.Value)); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("Authenticate(idle session) = %v, want ErrNoCredentials", err)
	}
}

// TestBrowserSessionsSignedOut: a copy of the cookie is worth nothing after /logout.
func TestBrowserSessionsSignedOut(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.login(aliceEmail, alicePassword).Body.Close()
	c := e.copyCookie()
	e.logout("").Body.Close()
	r := &auth.Request{Header: http.Header{"Cookie": {c.Name + "=" + c.Value}}}
	if _, err := e.as.BrowserSessions().Authenticate(r); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("Authenticate(cookie after logout) = %v, want ErrNoCredentials", err)
	}
}
