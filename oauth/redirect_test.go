package oauth

import (
	"github.com/mcpguard/mcpguard/auth"

	"net/url"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/store"
)

// redirectURITests are registrations validateRedirectURI must accept (ok) or refuse.
var redirectURITests = []struct {
	name, uri, appType string
	ok                 bool
}{
	// Published callbacks of real MCP clients.
	{"claude.ai", "https://claude.ai/api/mcp/auth_callback", "", true},
	{"claude.com", "https://claude.com/api/mcp/auth_callback", "web", true},
	{"chatgpt per connector", "https://chatgpt.com/connector/oauth/AbC-123_x", "", true},
	{"chatgpt legacy", "https://chatgpt.com/connector_platform_oauth_redirect", "", true},
	{"vscode.dev", "https://vscode.dev/redirect", "", true},
	{"insiders.vscode.dev", "https://insiders.vscode.dev/redirect", "", true},
	{"vscode loopback no port", "http://127.0.0.1/", "", true},
	{"vscode loopback port", "http://127.0.0.1:33418/", "native", true},
	{"cursor private-use", "cursor://anysphere.cursor-mcp/oauth/callback", "native", true},
	{"cursor private-use registered as web", "cursor://anysphere.cursor-mcp/oauth/callback", "web", true},
	{"cursor hosted", "https://www.cursor.com/agents/mcp/oauth/callback", "", true},
	{"inspector web", "http://localhost:6274/oauth/callback", "", true},
	{"inspector cli", "http://127.0.0.1:6276/oauth/callback", "", true},
	{"claude code", "http://localhost:49152/callback", "native", true},
	{"web with loopback", "http://localhost:3000/callback", "web", true},
	{"ipv6 loopback", "http://[::1]:8080/cb", "", true},
	{"ipv6 loopback no port", "http://[::1]/cb", "", true},
	{"loopback no path", "http://127.0.0.1:5000", "", true},
	{"loopback with query", "http://127.0.0.1:5000/cb?x=1", "", true},
	{"reverse-DNS scheme", "com.example.app:/oauth2redirect/example-provider", "native", true},
	{"reverse-DNS scheme with host", "com.example.app://callback", "", true},
	{"https with port and query", "https://app.example.com:8443/cb?tenant=a", "", true},
	{"https ipv6", "https://[2001:db8::1]/cb", "", true},
	{"exactly 2048 bytes", "https://a.example/" + strings.Repeat("a", 2048-len("https://a.example/")), "", true},

	{"empty", "", "", false},
	{"2049 bytes", "https://a.example/" + strings.Repeat("a", 2049-len("https://a.example/")), "", false},
	{"unknown application_type", "https://a.example/cb", "desktop", false},
	{"javascript", "javascript:alert(1)", "", false},
	{"javascript authority form", "javascript://a.example/%0aalert(1)", "native", false},
	{"data", "data:text/html;base64,PHNjcmlwdD4=", "", false},
	{"vbscript", "vbscript:msgbox(1)", "", false},
	{"upper-case javascript authority form", "JavaScript://a.example/%0aalert(1)", "", false},
	{"file", "file:///etc/passwd", "native", false},
	{"file with host", "file://host/etc/passwd", "native", false},
	{"about", "about:blank", "", false},
	{"blob", "blob:https://a.example/uuid", "", false},
	{"filesystem", "filesystem:https://a.example/temporary/x", "", false},
	{"ws", "ws://a.example/cb", "", false},
	{"wss", "wss://a.example/cb", "", false},
	{"http non-loopback", "http://a.example/cb", "", false},
	{"http private address", "http://192.168.1.10/cb", "", false},
	{"http 127.0.0.2", "http://127.0.0.2/cb", "", true}, // loopback, as auth.IsLoopbackHost says
	{"http 127.1", "http://127.1/cb", "", false},
	{"http hex loopback", "http://0x7f000001/cb", "", false},
	{"http localhost subdomain", "http://localhost.evil.com/cb", "", false},
	{"http localhost trailing dot", "http://localhost./cb", "", false},
	{"http upper-case localhost", "http://LOCALHOST/cb", "", true}, // host names are case-insensitive
	{"http loopback bad port", "http://127.0.0.1:99999/cb", "", false},
	{"http loopback port zero", "http://127.0.0.1:0/cb", "", false},
	{"http loopback empty port", "http://127.0.0.1:/cb", "", false},
	{"http loopback userinfo", "http://user@127.0.0.1/cb", "", false},
	{"http loopback fragment", "http://127.0.0.1/cb#x", "", false},
	{"https without host", "https:///cb", "", false},
	{"https opaque", "https:a.example/cb", "", false},
	{"fragment", "https://a.example/cb#frag", "", false},
	{"empty fragment", "https://a.example/cb#", "", false},
	{"wildcard host", "https://*.example.com/cb", "", false},
	{"wildcard path", "https://a.example/*", "", false},
	{"userinfo", "https://good.example@evil.example/cb", "", false},
	{"userinfo with password", "https://u:p@a.example/cb", "", false},
	{"backslash", `https://evil.example\@good.example/cb`, "", false},
	{"space", "https://a.example/c b", "", false},
	{"tab", "https://a.example/cb\t", "", false},
	{"newline", "https://a.example/cb\n", "", false},
	{"nul", "https://a.example/cb\x00", "", false},
	{"non-ascii", "https://a.example/caf\u00e9", "", false},
	{"idn host", "https://\u0430pple.com/cb", "", false},
	{"percent in host", "https://a%2eexample/cb", "", false},
	{"relative", "/callback", "", false},
	{"scheme-relative", "//evil.example/cb", "", false},
	{"bare scheme without dot", "myapp:/cb", "native", false},
	{"opaque private-use", "com.example.app:cb", "native", false},
	{"private-use without path", "com.example.app:", "native", false},
	{"ipv6 zone", "https://[fe80::1%25eth0]/cb", "", false},
	{"https bad port", "https://a.example:0/cb", "", false},
	{"https non-numeric port", "https://a.example:http/cb", "", false},
}

func TestValidateRedirectURI(t *testing.T) {
	for _, tt := range redirectURITests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateRedirectURI(tt.uri, tt.appType)
			if (err == nil) != tt.ok {
				t.Errorf("validateRedirectURI(%q, %q) = %v, want ok %v", tt.uri, tt.appType, err, tt.ok)
			}
		})
	}
}

// hostileRedirects are open-redirect attempts (the shapes of the oauth2-proxy, Vouch and
// Authelia advisories) sent as the redirect_uri of an authorization request by a client
// registered with hostileRegistered. None may be allowed; valid says whether a client
// could register the value as its own (it is then simply another URI, never a match for
// ours).
var hostileRegistered = store.Client{RedirectURIs: []string{"https://good.example/cb", "http://127.0.0.1/cb"}}

var hostileRedirects = []struct {
	name, uri string
	valid     bool
}{
	{"double slash", "//evil.example", false},                              // GHSA-qqxw-m5fj-f7gv (oauth2-proxy "Double Slash")
	{"slash backslash", `/\evil.example`, false},                           // GHSA-j7px-6hwj-hpjg ("Escape Double Slash")
	{"tab between slashes", "/\t/evil.example", false},                     // GHSA-j7px-6hwj-hpjg ("Tab Single Slash")
	{"encoded newline", "/%0a/evil.example", false},                        // GHSA-j7px-6hwj-hpjg ("New Line")
	{"dot backslash", `/./\evil.example`, false},                           // GHSA-j7px-6hwj-hpjg ("Relative Path /./\\evil.com")
	{"other origin", "https://evil.example", true},                         // GHSA-qqxw-m5fj-f7gv
	{"suffix domain", "https://good.example.evil.example/cb", true},        // Vouch 910943a ("not in domain but contains domain")
	{"rd in query", "https://evil.example/?rd=good.example", true},         // GHSA-4mf2-f3wh-gvf2 ("RD Parameter")
	{"other port", "https://good.example:3838/cb", true},                   // GHSA-4mf2-f3wh-gvf2 (port-specific entries)
	{"javascript", "javascript:alert(document.domain)", false},             // Vouch login_test.go "javascript uri"
	{"data", "data:text/html,alert(1)", false},                             // Vouch login_test.go "data uri"
	{"nested url", "https://good.example/cb?url=https%3a%2f%2fevil", true}, // Vouch "redirection chaining escaped"
	{"http when secure", "http://good.example/cb", false},                  // row 7: http:// when the cookie is Secure
	{"fragment smuggling", "https://good.example/cb#@evil.example", false},
	{"userinfo smuggling", "https://good.example@evil.example/cb", false},
	{"backslash userinfo", `https://evil.example\@good.example/cb`, false},
	{"path traversal", "https://good.example/cb/../../evil", true},
	{"encoded path", "https://good.example/c%62", true},
	{"trailing slash", "https://good.example/cb/", true},
	{"upper-case host", "https://GOOD.example/cb", true},
	{"upper-case scheme", "HTTPS://good.example/cb", true},
	{"loopback userinfo", "http://127.0.0.1:8080@evil.example/cb", false},
	{"loopback as subdomain", "http://127.0.0.1.evil.example/cb", false},
	{"loopback other path", "http://127.0.0.1:5000/cb/", true},
	{"loopback other query", "http://127.0.0.1:5000/cb?x", true},
	{"loopback fragment", "http://127.0.0.1:5000/cb#x", false},
	{"loopback bad port", "http://127.0.0.1:65536/cb", false},
	{"loopback https", "https://127.0.0.1:5000/cb", true},
	{"wildcard", "https://*.good.example/cb", false},
	{"empty", "", false},
}

func TestHostileRedirects(t *testing.T) {
	for _, tt := range hostileRedirects {
		t.Run(tt.name, func(t *testing.T) {
			if redirectAllowed(hostileRegistered, tt.uri) {
				t.Errorf("redirectAllowed(%v, %q) = true, want false", hostileRegistered.RedirectURIs, tt.uri)
			}
			if err := validateRedirectURI(tt.uri, ""); (err == nil) != tt.valid {
				t.Errorf("validateRedirectURI(%q) = %v, want valid %v", tt.uri, err, tt.valid)
			}
		})
	}
}

var redirectAllowedTests = []struct {
	name       string
	registered []string
	requested  string
	want       bool
}{
	{"exact https", []string{"https://a.example/cb"}, "https://a.example/cb", true},
	{"exact private-use", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://anysphere.cursor-mcp/oauth/callback", true},
	{"second of several", []string{"https://a.example/x", "https://a.example/cb"}, "https://a.example/cb", true},
	{"loopback any port", []string{"http://127.0.0.1:33418/"}, "http://127.0.0.1:50123/", true},
	{"loopback registered without port", []string{"http://127.0.0.1/"}, "http://127.0.0.1:50123/", true},
	{"loopback requested without port", []string{"http://127.0.0.1:33418/"}, "http://127.0.0.1/", true},
	{"loopback localhost any port", []string{"http://localhost:6274/oauth/callback"}, "http://localhost:7000/oauth/callback", true},
	{"loopback ipv6 any port", []string{"http://[::1]/cb"}, "http://[::1]:9999/cb", true},
	{"loopback query exact", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:80/cb?a=1", true},
	{"loopback no path both", []string{"http://127.0.0.1"}, "http://127.0.0.1:1234", true},

	{"nothing registered", nil, "https://a.example/cb", false},
	{"empty requested", []string{""}, "", false},
	{"https other port", []string{"https://a.example/cb"}, "https://a.example:444/cb", false},
	{"https case", []string{"https://a.example/cb"}, "https://A.example/cb", false},
	{"https extra query", []string{"https://a.example/cb"}, "https://a.example/cb?x=1", false},
	{"https prefix", []string{"https://a.example/cb"}, "https://a.example/cb2", false},
	{"https to http", []string{"https://a.example/cb"}, "http://a.example/cb", false},
	{"loopback localhost registered, 127.0.0.1 requested", []string{"http://localhost:6276/cb"}, "http://127.0.0.1:6276/cb", true}, // RFC 8252 §8.3
	{"loopback 127.0.0.1 registered, localhost requested", []string{"http://127.0.0.1/callback"}, "http://localhost:3118/callback", true},
	{"loopback ipv4 vs ipv6", []string{"http://127.0.0.1/cb"}, "http://[::1]/cb", true},
	{"loopback form, path differs", []string{"http://localhost/cb"}, "http://127.0.0.1:1/cb2", false},
	{"loopback form, query differs", []string{"http://localhost/cb?a=1"}, "http://127.0.0.1:1/cb?a=2", false},
	{"localhost-looking host", []string{"http://localhost/cb"}, "http://localhost.evil.com/cb", false},
	{"https loopback registered, other form requested", []string{"https://localhost/cb"}, "https://127.0.0.1/cb", false},
	{"loopback registered, public host requested", []string{"http://127.0.0.1/cb"}, "http://192.0.2.1/cb", false},
	{"loopback path differs", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:1/cb/", false},
	{"loopback path case", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:1/CB", false},
	{"loopback query differs", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:1/cb?a=2", false},
	{"loopback trailing slash", []string{"http://127.0.0.1/"}, "http://127.0.0.1:5000", false},
	{"loopback to https loopback", []string{"http://127.0.0.1/cb"}, "https://127.0.0.1:1/cb", false},
	{"loopback userinfo", []string{"http://127.0.0.1/cb"}, "http://x@127.0.0.1:1/cb", false},
	{"loopback fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:1/cb#f", false},
	{"loopback space", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:1/cb ", false},
	{"https registered, loopback requested", []string{"https://127.0.0.1/cb"}, "http://127.0.0.1:1/cb", false},
	{"private-use prefix", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "cursor://anysphere.cursor-mcp/oauth/callback/x", false},
}

func TestRedirectAllowed(t *testing.T) {
	for _, tt := range redirectAllowedTests {
		t.Run(tt.name, func(t *testing.T) {
			c := store.Client{RedirectURIs: tt.registered}
			if got := redirectAllowed(c, tt.requested); got != tt.want {
				t.Errorf("redirectAllowed(%q, %q) = %v, want %v", tt.registered, tt.requested, got, tt.want)
			}
		})
	}
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, tt := range redirectURITests {
		f.Add(tt.uri)
	}
	for _, tt := range hostileRedirects {
		f.Add(tt.uri)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := validateRedirectURI(raw, "")
		for _, app := range []string{appTypeWeb, appTypeNative} {
			if e := validateRedirectURI(raw, app); (e == nil) != (err == nil) {
				t.Fatalf("validateRedirectURI(%q, %q) = %v, but with no application_type %v", raw, app, e, err)
			}
		}
		if err != nil {
			return
		}
		if len(raw) > maxRedirectURILen || strings.ContainsAny(raw, "#*\\ \t\r\n") {
			t.Fatalf("validateRedirectURI(%q) accepted a long URI, a fragment, a wildcard, a backslash or a space", raw)
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("validateRedirectURI(%q) accepted a URI url.Parse rejects or reads with userinfo/fragment/opaque: %v", raw, perr)
		}
		if refusedSchemes[u.Scheme] {
			t.Fatalf("validateRedirectURI(%q) accepted refused scheme %q", raw, u.Scheme)
		}
		if u.Scheme == "http" && !auth.IsLoopbackHost(u.Hostname()) {
			t.Fatalf("validateRedirectURI(%q) accepted http to host %q", raw, u.Host)
		}
		if u.Scheme == "https" && u.Hostname() == "" {
			t.Fatalf("validateRedirectURI(%q) accepted https without host", raw)
		}
		if !redirectAllowed(store.Client{RedirectURIs: []string{raw}}, raw) {
			t.Fatalf("redirectAllowed does not allow the registered %q itself", raw)
		}
	})
}

func FuzzRedirectAllowed(f *testing.F) {
	for _, tt := range redirectAllowedTests {
		if len(tt.registered) > 0 {
			f.Add(tt.registered[0], tt.requested)
		}
	}
	for _, tt := range hostileRedirects {
		f.Add("https://good.example/cb", tt.uri)
		f.Add("http://127.0.0.1/cb", tt.uri)
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if validateRedirectURI(registered, "") != nil || !redirectAllowed(store.Client{RedirectURIs: []string{registered}}, requested) {
			return
		}
		if requested == registered {
			return
		}
		// Only the port and the loopback host form of a loopback URI may differ.
		if err := validateRedirectURI(requested, ""); err != nil {
			t.Fatalf("redirectAllowed(%q, %q) allowed an invalid redirect: %v", registered, requested, err)
		}
		reg, ok1 := splitLoopback(registered)
		req, ok2 := splitLoopback(requested)
		if !ok1 || !ok2 || reg.rest != req.rest {
			t.Fatalf("redirectAllowed(%q, %q) = true for different non-port parts", registered, requested)
		}
		ru, _ := url.Parse(registered)
		qu, err := url.Parse(requested)
		if err != nil || !auth.IsLoopbackHost(qu.Hostname()) || !auth.IsLoopbackHost(ru.Hostname()) || qu.Scheme != "http" || qu.User != nil {
			t.Fatalf("redirectAllowed(%q, %q) = true but url.Parse sees hosts %q and %q, want both loopback", registered, requested, ru.Hostname(), qu.Hostname())
		}
	})
}
