package forwardauth_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

var (
	flowCSRF    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	flowRequest = regexp.MustCompile(`name="request" value="([^"]+)"`)
)

// flowServer is mcpguard's handler with the local provider, served on a loopback
// port, and a browser (a client with a cookie jar that does not follow redirects).
type flowServer struct {
	t    testing.TB
	h    http.Handler
	base string
	c    *http.Client
}

// startFlowServer starts mcpguard's handler with the local provider and the resources
// of extra (policy file YAML list items) after https://mcp.example.com/mcp.
func startFlowServer(t testing.TB, extra string) *flowServer {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("demo-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := writeFile(t, "users.yaml", "users:\n  - email: demo@example.com\n    password_hash: \""+string(hash)+"\"\n    groups: [eng, ops]\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	pol := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    required_scopes: [mcp:read]
`+extra+`
clients:
  - client_id: quickstart
    client_name: quickstart
    redirect_uris: [http://127.0.0.1:8976/callback]
`)
	h := testServerLog(t, map[string]string{"PROVIDER": "local", "LOCAL_USERS_FILE": users,
		"POLICY_FILE": pol, "ISSUER_URL": base, "DEV_MODE": "true", "STORE": "memory://", "LOG_LEVEL": "info",
		"SESSION_SECRET": strings.Repeat("s", 32)}, io.Discard)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &flowServer{t: t, h: h, base: base, c: c}
}

// body reads and closes resp's body.
func (f *flowServer) body(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// field returns the hidden form field re matches in page.
func (f *flowServer) field(re *regexp.Regexp, page string) string {
	f.t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no %s in %s", re, page)
	}
	return m[1]
}

// login signs the browser in through GET /login?rd= and the form; it returns the
// answer to the form.
func (f *flowServer) login(rd string) *http.Response {
	f.t.Helper()
	page := f.body(must(f.t)(f.c.Get(f.base + "/login?rd=" + url.QueryEscape(rd))))
	return must(f.t)(f.c.PostForm(f.base+"/login", url.Values{"csrf": {f.field(flowCSRF, page)}, "email": {"demo@example.com"}, "password": {"demo-password"}}))
}

// ownTokenServer starts a flowServer with extra, walks the authorization code flow of a
// pre-registered client through it for resource, and returns the handler and the
// access token it minted.
func ownTokenServer(t testing.TB, resource, extra string) (http.Handler, string) {
	t.Helper()
	f := startFlowServer(t, extra)
	return f.h, f.token(resource)
}

// token walks the authorization code flow for resource and returns the access token.
func (f *flowServer) token(resource string) string {
	t, base, c := f.t, f.base, f.c
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"quickstart"}, "redirect_uri": {"http://127.0.0.1:8976/callback"},
		"scope": {"mcp:read"}, "state": {"xyz"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}, "resource": {resource}}
	resp, err := c.Get(base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	loc := resp.Header.Get("Location")
	for i := 0; !strings.HasPrefix(loc, "http://127.0.0.1:8976/"); i++ {
		if i > 5 || loc == "" {
			t.Fatalf("flow stuck at %q (status %d)", loc, resp.StatusCode)
		}
		u, _ := url.Parse(loc)
		page := f.body(must(t)(c.Get(base + u.Path)))
		switch u.Path {
		case "/login":
			resp = must(t)(c.PostForm(base+"/login", url.Values{"csrf": {f.field(flowCSRF, page)}, "email": {"demo@example.com"}, "password": {"demo-password"}}))
		case "/consent":
			resp = must(t)(c.PostForm(base+"/consent", url.Values{"csrf": {f.field(flowCSRF, page)}, "request": {f.field(flowRequest, page)}, "action": {"approve"}}))
		}
		loc = resp.Header.Get("Location")
	}
	u, _ := url.Parse(loc)
	resp = must(t)(c.PostForm(base+"/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"quickstart"},
		"redirect_uri": {"http://127.0.0.1:8976/callback"}, "code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}, "code": {u.Query().Get("code")}}))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(f.body(resp)), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer: %v", err)
	}
	return tok.AccessToken
}

func must(t testing.TB) func(*http.Response, error) *http.Response {
	return func(r *http.Response, err error) *http.Response {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// maxAuthAllocs is what one /auth request of a cached credential allocated before the
// authenticators shared one interface (the httptest recorder's own allocations
// included): API key, cached external JWT and cached own token alike. The interface must
// not cost an allocation more.
const maxAuthAllocs = 7

// TestAuthAllocs: a cached API key, a cached external JWT and a cached own access token
// through the whole /auth handler allocate no more than maxAuthAllocs.
func TestAuthAllocs(t *testing.T) {
	measure := func(name string, h http.Handler, r *http.Request) {
		t.Helper()
		w := httptest.NewRecorder()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			w = httptest.NewRecorder()
			if h.ServeHTTP(w, r); w.Code == 200 {
				break
			}
		}
		if w.Code != 200 {
			t.Fatalf("%s: status %d %v", name, w.Code, w.Header())
		}
		if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(httptest.NewRecorder(), r) }); n > maxAuthAllocs {
			t.Errorf("%s: %.1f allocations per /auth, want at most %d", name, n, maxAuthAllocs)
		}
	}
	ha := testServerLog(t, map[string]string{"LOG_LEVEL": "info", "MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp", "REQUIRED_SCOPES": "mcp:read"}, io.Discard)
	measure("API key", ha, fwd("POST", "/mcp", "X-Api-Key", testKey))
	iss := authtest.NewIssuer(t)
	hj := testServerLog(t, map[string]string{"LOG_LEVEL": "info", "JWT_ISSUERS": iss.URL() + "=https://mcp.example.com/mcp", "RESOURCE_URL": "https://mcp.example.com/mcp"}, io.Discard)
	jt := iss.Token(t, map[string]any{"sub": "u", "aud": "https://mcp.example.com/mcp", "scope": "mcp:read"}, authtest.WithAlg("ES256"))
	measure("cached JWT", hj, fwd("POST", "/mcp", "Authorization", "Bearer "+jt))
	ho, ot := ownTokenServer(t, "https://mcp.example.com/mcp", "")
	measure("cached own token", ho, fwd("POST", "/mcp", "Authorization", "Bearer "+ot))
}

// TestOwnTokenBoundToResource: an access token minted for one resource gets 401
// invalid_token at another, unless that one lists the token's audience.
func TestOwnTokenBoundToResource(t *testing.T) {
	h, tok := ownTokenServer(t, "https://mcp.example.com/mcp", `  - url: https://b.example.com/mcp
  - url: https://c.example.com/mcp
    audiences: [https://mcp.example.com/mcp]`)
	for _, tt := range []struct {
		host string
		want int
	}{
		{"mcp.example.com", 200},
		{"b.example.com", 401},
		{"c.example.com", 200},
	} {
		r := fwd("POST", "/mcp", "Authorization", "Bearer "+tok)
		r.Header.Set("X-Forwarded-Host", tt.host)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("token for mcp.example.com at %s = %d, want %d", tt.host, w.Code, tt.want)
		}
		if tt.want == 401 && !strings.Contains(w.Header().Get("Www-Authenticate"), `error="invalid_token"`) {
			t.Errorf("at %s: WWW-Authenticate %q, want error=\"invalid_token\"", tt.host, w.Header().Get("Www-Authenticate"))
		}
	}
}
