package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// The flow tests' fixtures: one local user, a public loopback client, a public web
// client and a confidential client.
const (
	flowResource      = "https://mcp.example.com/mcp"
	flowOtherResource = "https://mcp.example.com/other"
	aliceEmail        = "alice@example.com"
	alicePassword     = "correct horse battery staple"
	pubClient         = "cli"
	pubRedirect       = "http://127.0.0.1:5555/callback" // registered without port: RFC 8252 §7.3
	webClient         = "web"
	webRedirect       = "https://app.example.com/cb"
	confClient        = "conf"
	confSecret        = "conf-secret-0123456789abcdef0123456789"
	confRedirect      = "https://conf.example.com/cb"
	flowVerifier      = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
)

// flowChallenge is the S256 challenge of flowVerifier.
var flowChallenge = pkceS256(flowVerifier)

func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// flowClock is the injected clock of the flow tests.
type flowClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *flowClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *flowClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flowEnv is an authorization server on an httptest server, a store on the same clock,
// a browser (a cookie jar that does not follow redirects), and the log of every
// request, attached to its context as cmd/mcpguard's hlog.NewHandler does.
type flowEnv struct {
	t       *testing.T
	logs    *logBuffer
	srv     *httptest.Server
	handler atomic.Pointer[http.ServeMux]
	as      *Server
	cfg     Config
	st      store.Store
	clock   *flowClock
	browser *http.Client
}

var aliceHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// newFlowEnv starts a server with Provider local; mutate adjusts the configuration.
func newFlowEnv(t *testing.T, mutate func(*Config)) *flowEnv {
	return startFlowEnv(t, false, mutate)
}

func startFlowEnv(t *testing.T, tls bool, mutate func(*Config)) *flowEnv {
	t.Helper()
	e := &flowEnv{t: t, logs: &logBuffer{}, clock: &flowClock{t: time.Now().Truncate(time.Second)}}
	log := zerolog.New(e.logs)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.Load().ServeHTTP(w, r.WithContext(log.WithContext(r.Context())))
	})
	if tls {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	st, err := store.New(store.Config{DSN: "memory://", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.cfg = Config{
		Issuer:        e.srv.URL,
		Store:         st,
		Resources:     []string{flowResource, flowOtherResource},
		AllowedScopes: []string{"mcp:read", "mcp:write"},
		Now:           e.clock.Now,
		Clients: []StaticClient{
			{ID: pubClient, Name: "Test CLI", RedirectURIs: []string{"http://127.0.0.1/callback"}},
			{ID: webClient, Name: "Web App", RedirectURIs: []string{webRedirect}},
			{ID: confClient, Name: "Confidential", Secret: confSecret, RedirectURIs: []string{confRedirect}},
		},
		Provider:      "local",
		LocalUsers:    []LocalUser{{Email: aliceEmail, PasswordHash: aliceHash, Name: "Alice", Groups: []string{"eng"}}},
		SessionSecret: []byte("0123456789abcdef0123456789abcdef-session"),
	}
	if mutate != nil {
		mutate(&e.cfg)
	}
	e.restart()
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{
		Jar:           jar,
		Transport:     e.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

// restart builds a new Server on the same store, issuer and configuration, as a
// process restart would.
func (e *flowEnv) restart() {
	e.t.Helper()
	as, err := New(e.t.Context(), e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	as.Routes(mux)
	e.as = as
	e.handler.Store(mux)
}

// authParams is a valid authorization request of the public loopback client.
func authParams() url.Values {
	return url.Values{
		"client_id":             {pubClient},
		"redirect_uri":          {pubRedirect},
		"response_type":         {"code"},
		"code_challenge":        {flowChallenge},
		"code_challenge_method": {"S256"},
		"state":                 {"state-123"},
		"scope":                 {"mcp:read"},
		"resource":              {flowResource},
	}
}

// get sends a GET with the browser.
func (e *flowEnv) get(target string) *http.Response {
	e.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = e.srv.URL + target
	}
	resp, err := e.browser.Get(target)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// post sends a form with the browser.
func (e *flowEnv) post(path string, form url.Values) *http.Response {
	e.t.Helper()
	resp, err := e.browser.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// authorize sends the browser to /authorize with params.
func (e *flowEnv) authorize(params url.Values) *http.Response {
	e.t.Helper()
	return e.get("/authorize?" + params.Encode())
}

// readBody reads and closes resp's body.
func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)
)

// hiddenField returns the value of a hidden field of page.
func hiddenField(t testing.TB, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, page)
	}
	return m[1]
}

// login fills the local login form.
func (e *flowEnv) login(email, password string) *http.Response {
	e.t.Helper()
	page := readBody(e.t, e.get("/login"))
	return e.post("/login", url.Values{"csrf": {hiddenField(e.t, csrfField, page)}, "email": {email}, "password": {password}})
}

// consent answers the consent page with action.
func (e *flowEnv) consent(action string) *http.Response {
	e.t.Helper()
	resp := e.get("/consent")
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /consent = %d, want 200", resp.StatusCode)
	}
	page := readBody(e.t, resp)
	return e.post("/consent", url.Values{"csrf": {hiddenField(e.t, csrfField, page)}, "request": {hiddenField(e.t, requestField, page)}, "action": {action}})
}

// redirectOf returns resp's Location, parsed.
func redirectOf(t testing.TB, resp *http.Response) *url.URL {
	t.Helper()
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// isLocal reports whether u points at the server itself.
func (e *flowEnv) isLocal(u *url.URL) bool {
	return u.Host == "" || e.srv.URL == u.Scheme+"://"+u.Host
}

// run drives an authorization request through login (as alice) and consent (approve)
// and returns where the server finally sends the browser: the client's redirect URI.
func (e *flowEnv) run(params url.Values) *url.URL {
	e.t.Helper()
	u := redirectOf(e.t, e.authorize(params))
	for i := 0; e.isLocal(u); i++ {
		if i > 5 {
			e.t.Fatalf("redirect loop at %s", u)
		}
		switch u.Path {
		case "/login":
			u = redirectOf(e.t, e.login(aliceEmail, alicePassword))
		case "/consent":
			u = redirectOf(e.t, e.consent("approve"))
		default:
			e.t.Fatalf("unexpected redirect to %s", u)
		}
	}
	return u
}

// code runs an authorization request and returns the code it ends with.
func (e *flowEnv) code(params url.Values) string {
	e.t.Helper()
	u := e.run(params)
	q := u.Query()
	if q.Get("code") == "" {
		e.t.Fatalf("redirect %s has no code", u)
	}
	return q.Get("code")
}

// tokenAnswer is a /token or /revoke answer.
type tokenAnswer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a tokenAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// postToken posts form to path (/token or /revoke) without cookies, as a client does;
// basic, when not nil, is the client's id and secret for HTTP Basic.
func (e *flowEnv) postToken(path string, form url.Values, basic ...string) tokenAnswer {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	a := tokenAnswer{status: resp.StatusCode, header: resp.Header}
	if b := readBody(e.t, resp); b != "" {
		if err := json.Unmarshal([]byte(b), &a.body); err != nil {
			e.t.Fatalf("%s answer %q is not JSON: %v", path, b, err)
		}
	}
	return a
}

// exchange redeems code for the public client.
func (e *flowEnv) exchange(code string) tokenAnswer {
	e.t.Helper()
	return e.postToken("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "client_id": {pubClient},
		"redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier},
	})
}

// refresh redeems a refresh token of the public client.
func (e *flowEnv) refresh(rt string, extra ...string) tokenAnswer {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {pubClient}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.postToken("/token", form)
}

// tokens runs the whole flow for the public client and returns the token answer.
func (e *flowEnv) tokens() tokenAnswer {
	e.t.Helper()
	a := e.exchange(e.code(authParams()))
	if a.status != http.StatusOK {
		e.t.Fatalf("token exchange = %d %v, want 200", a.status, a.body)
	}
	return a
}

// verify asks the access-token verifier about tok, as /auth does.
func (e *flowEnv) verify(tok string) (auth.Principal, error) {
	return e.as.AccessTokens().Authenticate(&auth.Request{Header: http.Header{"Authorization": {"Bearer " + tok}}})
}

func TestFlowLocal(t *testing.T) {
	e := newFlowEnv(t, nil)

	// /authorize without a session goes to the login form.
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Fatalf("GET /authorize without session redirects to %s, want /login", u)
	}
	if u := redirectOf(t, e.login(aliceEmail, alicePassword)); u.Path != "/consent" {
		t.Fatalf("POST /login redirects to %s, want /consent", u)
	}
	u := redirectOf(t, e.consent("approve"))
	if got := u.Scheme + "://" + u.Host + u.Path; got != pubRedirect {
		t.Fatalf("consent redirects to %s, want %s", got, pubRedirect)
	}
	q := u.Query()
	if q.Get("state") != "state-123" || q.Get("iss") != e.srv.URL || len(q.Get("code")) != 43 {
		t.Fatalf("authorization response %v, want code, state-123 and iss %s", q, e.srv.URL)
	}

	a := e.exchange(q.Get("code"))
	if a.status != http.StatusOK {
		t.Fatalf("token exchange = %d %v", a.status, a.body)
	}
	if a.str("token_type") != "Bearer" || a.body["expires_in"] != float64(600) || a.str("scope") != "mcp:read" || a.str("refresh_token") == "" {
		t.Errorf("token response = %v, want Bearer, 600 s, mcp:read and a refresh token", a.body)
	}
	for _, h := range []string{"Cache-Control", "Pragma"} {
		if !strings.Contains(a.header.Get(h), "no-") {
			t.Errorf("token response %s = %q, want no-store / no-cache", h, a.header.Get(h))
		}
	}
	at := a.str("access_token")
	p, err := e.verify(at)
	if err != nil {
		t.Fatalf("Authenticate(access token) = %v", err)
	}
	want := auth.Principal{Subject: aliceEmail, Email: aliceEmail, EmailVerified: true, Name: "Alice", Groups: []string{"eng"},
		Scopes: []string{"mcp:read"}, Source: "oauth", ClientID: pubClient, Issuer: e.srv.URL, Audiences: []string{flowResource}}
	if !principalEqual(p, want) {
		t.Errorf("Authenticate = %+v, want %+v", p, want)
	}

	// A second authorization skips login and the remembered consent.
	u = redirectOf(t, e.authorize(authParams()))
	if e.isLocal(u) || u.Query().Get("code") == "" {
		t.Fatalf("second /authorize redirects to %s, want the client with a code", u)
	}

	// Refresh rotates; the new access token works.
	r := e.refresh(a.str("refresh_token"))
	if r.status != http.StatusOK || r.str("refresh_token") == "" || r.str("refresh_token") == a.str("refresh_token") {
		t.Fatalf("refresh = %d %v, want 200 with a new refresh token", r.status, r.body)
	}
	if _, err := e.verify(r.str("access_token")); err != nil {
		t.Fatalf("Authenticate(refreshed token) = %v", err)
	}

	// Revoking the refresh token revokes its family: both access tokens stop working.
	if rv := e.postToken("/revoke", url.Values{"token": {r.str("refresh_token")}, "client_id": {pubClient}}); rv.status != http.StatusOK {
		t.Fatalf("revoke = %d %v", rv.status, rv.body)
	}
	for _, tok := range []string{at, r.str("access_token")} {
		if _, err := e.verify(tok); !isInvalid(err) {
			t.Errorf("Authenticate after revocation = %v, want invalid credential", err)
		}
	}
	if r2 := e.refresh(r.str("refresh_token")); r2.status != http.StatusBadRequest || r2.str("error") != "invalid_grant" {
		t.Errorf("refresh after revocation = %d %v, want invalid_grant", r2.status, r2.body)
	}
}

// principalEqual compares principals field by field.
func principalEqual(a, b auth.Principal) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// isInvalid reports whether err wraps auth.ErrInvalidCredential.
func isInvalid(err error) bool { return errors.Is(err, auth.ErrInvalidCredential) }

// TestAuthorizeRedirectURIRefused: a client or redirect URI that cannot be trusted gets
// an error page and never a redirect (RFC 6749 §4.1.2.1), whatever it tries. Rows with
// a redirect URI use the web client (registered: https://app.example.com/cb) or the
// loopback client (registered: http://127.0.0.1/callback, any port).
func TestAuthorizeRedirectURIRefused(t *testing.T) {
	e := newFlowEnv(t, nil)
	tests := []struct {
		name     string
		client   string
		redirect string
		mutate   func(url.Values) // instead of client and redirect
	}{
		{name: "unknown client", mutate: func(q url.Values) { q.Set("client_id", "nobody") }},
		{name: "no client", mutate: func(q url.Values) { q.Del("client_id") }},
		{name: "repeated client_id", mutate: func(q url.Values) { q.Add("client_id", webClient) }},
		{name: "no redirect_uri", mutate: func(q url.Values) { q.Del("redirect_uri") }},
		{name: "repeated redirect_uri", mutate: func(q url.Values) { q.Add("redirect_uri", pubRedirect) }},
		{"another host", pubClient, "https://evil.example/callback", nil},
		{"another client's URI", pubClient, webRedirect, nil},
		{"suffix host", webClient, "https://app.example.com.evil.com/cb", nil},
		{"userinfo host", webClient, "https://app.example.com@evil.com/cb", nil},
		{"path traversal", webClient, "https://app.example.com/cb/../../evil", nil},
		{"longer path", webClient, "https://app.example.com/cb/evil", nil},
		{"extra query", webClient, "https://app.example.com/cb?next=https://evil.com", nil},
		{"fragment", webClient, "https://app.example.com/cb#evil", nil},
		{"scheme downgrade", webClient, "http://app.example.com/cb", nil},
		{"other port", webClient, "https://app.example.com:8443/cb", nil},
		{"protocol-relative", webClient, "//evil.com/cb", nil},
		{"javascript", webClient, "javascript:alert(1)//https://app.example.com/cb", nil},
		{"data", webClient, "data:text/html,<script>alert(1)</script>", nil},
		{"backslash host", webClient, `https://app.example.com\@evil.com/cb`, nil},
		{"encoded slash", webClient, "https://app.example.com/cb%2f..%2f..%2fevil", nil},
		{"loopback lookalike", pubClient, "http://127.0.0.1.evil.com/callback", nil},
		{"loopback other path", pubClient, "http://127.0.0.1:5555/callback/../evil", nil},
		{"loopback https", pubClient, "https://127.0.0.1:5555/callback", nil},
	}
	control := authParams()
	control.Set("client_id", webClient)
	control.Set("redirect_uri", webRedirect)
	if u := redirectOf(t, e.authorize(control)); u.Path != "/login" {
		t.Fatalf("the web client's own redirect URI goes to %s, want /login", u)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams()
			if tt.mutate != nil {
				tt.mutate(q)
			} else {
				q.Set("client_id", tt.client)
				q.Set("redirect_uri", tt.redirect)
			}
			resp := e.authorize(q)
			page := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("GET /authorize = %d Location %q, want 400 without Location", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "<h1>") {
				t.Errorf("answer is not an HTML page: %q", page)
			}
		})
	}
}

// TestAuthorizeErrors: once client and redirect URI are trusted, a bad request goes
// back to the client with error, state and iss.
func TestAuthorizeErrors(t *testing.T) {
	e := newFlowEnv(t, nil)
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   string
	}{
		{"no response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"implicit", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"PKCE missing", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"PKCE method missing", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"PKCE unknown method", func(q url.Values) { q.Set("code_challenge_method", "S512") }, "invalid_request"},
		{"PKCE short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
		{"PKCE challenge not base64url", func(q url.Values) { q.Set("code_challenge", strings.Repeat("+", 43)) }, "invalid_request"},
		{"unknown resource", func(q url.Values) { q.Set("resource", "https://evil.example/mcp") }, "invalid_target"},
		{"resource prefix", func(q url.Values) { q.Set("resource", flowResource+"x") }, "invalid_target"},
		{"two resources", func(q url.Values) { q.Add("resource", flowOtherResource) }, "invalid_target"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "mcp:read admin") }, "invalid_scope"},
		{"scope with quote", func(q url.Values) { q.Set("scope", `mcp:read "x`) }, "invalid_scope"},
		{"repeated scope parameter", func(q url.Values) { q.Add("scope", "mcp:write") }, "invalid_request"},
		{"repeated odd parameter", func(q url.Values) { q["x\"\\y"] = []string{"1", "2"} }, "invalid_request"},
		{"request object", func(q url.Values) { q.Set("request", "eyJ.eyJ.sig") }, "request_not_supported"},
		{"request_uri", func(q url.Values) { q.Set("request_uri", "https://evil.example/r") }, "request_uri_not_supported"},
		{"state too long", func(q url.Values) { q.Set("state", strings.Repeat("s", maxStateLen+1)) }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams()
			tt.mutate(q)
			u := redirectOf(t, e.authorize(q))
			if got := u.Scheme + "://" + u.Host + u.Path; got != pubRedirect {
				t.Fatalf("redirect to %s, want %s", got, pubRedirect)
			}
			rq := u.Query()
			if rq.Get("error") != tt.code || rq.Get("error_description") == "" || rq.Get("iss") != e.srv.URL || rq.Has("code") {
				t.Errorf("error response %v, want error %s with a description and iss", rq, tt.code)
			}
			if d := rq.Get("error_description"); strings.ContainsAny(d, "\"\\") {
				t.Errorf("error_description %q has characters RFC 6749 §4.1.2.1 does not allow", d)
			}
			if wantState := q.Get("state"); len(wantState) <= maxStateLen && rq.Get("state") != wantState {
				t.Errorf("state = %q, want %q", rq.Get("state"), wantState)
			}
		})
	}
}

// TestAuthorizeDefaults: a missing resource gets the first resource, a missing scope
// every allowed scope, a missing state no state; the registered query is kept.
func TestAuthorizeDefaults(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, StaticClient{ID: "q", RedirectURIs: []string{"https://q.example.com/cb?tenant=a"}})
	})
	q := authParams()
	q.Del("resource")
	q.Del("scope")
	q.Del("state")
	u := e.run(q)
	if u.Query().Has("state") {
		t.Errorf("response %s carries a state the request had none of", u)
	}
	a := e.exchange(u.Query().Get("code"))
	if a.str("scope") != "mcp:read mcp:write" {
		t.Errorf("scope = %q, want every allowed scope", a.str("scope"))
	}
	p, err := e.verify(a.str("access_token"))
	if err != nil || p.Audiences[0] != flowResource {
		t.Errorf("Authenticate = %+v, %v; want aud %s", p, err, flowResource)
	}

	q = authParams()
	q.Set("client_id", "q")
	q.Set("redirect_uri", "https://q.example.com/cb?tenant=a")
	u = e.run(q)
	if u.Query().Get("tenant") != "a" || !strings.HasPrefix(u.RawQuery, "tenant=a&") {
		t.Errorf("redirect %s lost the registered query", u)
	}
}

func TestAuthorizePrompt(t *testing.T) {
	e := newFlowEnv(t, nil)
	q := authParams()
	q.Set("prompt", "none")
	if u := redirectOf(t, e.authorize(q)); u.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none without session: %s, want login_required", u)
	}
	e.code(authParams()) // log in and consent once

	q.Set("scope", "mcp:read mcp:write")
	if u := redirectOf(t, e.authorize(q)); u.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none with a wider scope: %s, want consent_required", u)
	}
	q.Set("scope", "mcp:read")
	if u := redirectOf(t, e.authorize(q)); u.Query().Get("code") == "" {
		t.Errorf("prompt=none with consent: %s, want a code", u)
	}
	q.Set("prompt", "consent")
	if u := redirectOf(t, e.authorize(q)); u.Path != "/consent" {
		t.Errorf("prompt=consent: %s, want the consent page", u)
	}
	q.Set("prompt", "login")
	if u := redirectOf(t, e.authorize(q)); u.Path != "/login" {
		t.Errorf("prompt=login: %s, want the login form", u)
	}
}

func TestNewFlowConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"short session secret", func(c *Config) { c.SessionSecret = []byte("short") }},
		{"unknown provider", func(c *Config) { c.Provider = "github" }},
		{"negative ttl", func(c *Config) { c.AccessTokenTTL = -time.Second }},
		{"local user with two @", func(c *Config) {
			c.LocalUsers = []LocalUser{{Email: "a@evil.com@example.com", PasswordHash: aliceHash}}
		}},
		{"local user without bcrypt hash", func(c *Config) { c.LocalUsers = []LocalUser{{Email: aliceEmail, PasswordHash: "plain"}} }},
		{"local user twice", func(c *Config) {
			c.LocalUsers = []LocalUser{{Email: aliceEmail, PasswordHash: aliceHash}, {Email: "ALICE@example.com", PasswordHash: aliceHash}}
		}},
		{"oidc without issuer", func(c *Config) { c.Provider = "oidc"; c.UpstreamClientID = "x" }},
		{"google without client id", func(c *Config) { c.Provider = "google" }},
		{"hd without google", func(c *Config) {
			c.Provider, c.UpstreamIssuer, c.UpstreamClientID, c.GoogleHostedDomain = "oidc", "https://idp.example", "x", "example.com"
		}},
		{"bad allowed email", func(c *Config) { c.AllowedEmails = []string{"a@b@c"} }},
		{"bad allowed domain", func(c *Config) { c.AllowedDomains = []string{"@example.com"} }},
		{"resource without host", func(c *Config) { c.Resources = []string{"/mcp"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := store.Open("memory://")
			c := Config{Issuer: "http://127.0.0.1:1", Store: st, Resources: []string{flowResource}, SessionSecret: make([]byte, 32)}
			tt.mutate(&c)
			if _, err := New(context.Background(), c); err == nil {
				t.Errorf("New succeeded, want an error")
			}
		})
	}
}

// TestFlowRegisteredClient runs the flow for a client registered by DCR (RFC 7591), as
// Claude and VS Code do: its self-chosen name is flagged on the consent page, and it
// gets a refresh token because it registered the refresh_token grant.
func TestFlowRegisteredClient(t *testing.T) {
	e := newFlowEnv(t, nil)
	resp, err := http.Post(e.srv.URL+"/register", "application/json", strings.NewReader(`{
		"client_name": "Claude", "application_type": "native", "token_endpoint_auth_method": "none",
		"redirect_uris": ["http://127.0.0.1/callback"], "grant_types": ["authorization_code", "refresh_token"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if raw := readBody(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &reg) != nil || reg.ClientID == "" {
		t.Fatalf("POST /register = %d %s", resp.StatusCode, raw)
	}
	q := authParams()
	q.Set("client_id", reg.ClientID)
	redirectOf(t, e.authorize(q))
	redirectOf(t, e.login(aliceEmail, alicePassword))
	page := readBody(t, e.get("/consent"))
	for _, want := range []string{"Claude", "has not verified it", "program on your own computer", `id="redirect-host">127.0.0.1:5555<`} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page for a DCR client lacks %q", want)
		}
	}
	u := redirectOf(t, e.post("/consent", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "request": {hiddenField(t, requestField, page)}, "action": {"approve"}}))
	a := e.postToken("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "client_id": {reg.ClientID},
		"redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier}, "resource": {flowResource},
	})
	if a.status != http.StatusOK || a.str("refresh_token") == "" {
		t.Fatalf("token = %d %v, want 200 with a refresh token", a.status, a.body)
	}
	if p, err := e.verify(a.str("access_token")); err != nil || p.ClientID != reg.ClientID {
		t.Errorf("Authenticate = %+v, %v; want client %s", p, err, reg.ClientID)
	}
}
