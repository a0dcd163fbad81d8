package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

func TestTokenPKCE(t *testing.T) {
	e := newFlowEnv(t, nil)
	tests := []struct {
		name     string
		verifier string
		omit     bool
	}{
		{"missing verifier", "", true},
		{"wrong verifier", strings.Repeat("a", 43), false},
		{"challenge as verifier", flowChallenge, false},
		{"too short", flowVerifier[:42], false},
		{"too long", strings.Repeat("a", 129), false},
		{"bad character", flowVerifier[:42] + "+", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{
				"grant_type": {"authorization_code"}, "code": {e.code(authParams())}, "client_id": {pubClient},
				"redirect_uri": {pubRedirect}, "code_verifier": {tt.verifier},
			}
			if tt.omit {
				form.Del("code_verifier")
			}
			a := e.postToken("/token", form)
			if a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" || a.str("access_token") != "" {
				t.Errorf("token = %d %v, want 400 invalid_grant", a.status, a.body)
			}
		})
	}
}

// TestCodeReplay: a code is single use, and its second use revokes what the first
// issued (RFC 6749 §4.1.2).
func TestCodeReplay(t *testing.T) {
	e := newFlowEnv(t, nil)
	code := e.code(authParams())
	first := e.exchange(code)
	if first.status != http.StatusOK {
		t.Fatalf("first exchange = %d %v", first.status, first.body)
	}
	if _, err := e.verify(first.str("access_token")); err != nil {
		t.Fatalf("Authenticate(first token) = %v", err)
	}
	again := e.exchange(code)
	if again.status != http.StatusBadRequest || again.str("error") != "invalid_grant" {
		t.Fatalf("replayed exchange = %d %v, want invalid_grant", again.status, again.body)
	}
	if _, err := e.verify(first.str("access_token")); !isInvalid(err) {
		t.Errorf("Authenticate(first token) after replay = %v, want invalid credential", err)
	}
	if r := e.refresh(first.str("refresh_token")); r.str("error") != "invalid_grant" {
		t.Errorf("refresh after replay = %d %v, want invalid_grant", r.status, r.body)
	}
	// Another process on the same store learns it from the store.
	e.restart()
	if _, err := e.verify(first.str("access_token")); !isInvalid(err) {
		t.Errorf("Authenticate(first token) in a new process = %v, want invalid credential", err)
	}
}

func TestCodeMismatch(t *testing.T) {
	e := newFlowEnv(t, nil)
	tests := []struct {
		name  string
		form  func(code string) url.Values
		basic []string
		code  string
	}{
		{"another public client", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {webClient}, "redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier}}
		}, nil, "invalid_grant"},
		{"a confidential client", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier}}
		}, []string{confClient, confSecret}, "invalid_grant"},
		{"redirect_uri differs", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {pubClient}, "redirect_uri": {"http://127.0.0.1:5556/callback"}, "code_verifier": {flowVerifier}}
		}, nil, "invalid_grant"},
		{"redirect_uri missing", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {pubClient}, "code_verifier": {flowVerifier}}
		}, nil, "invalid_grant"},
		{"other resource", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {pubClient}, "redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier}, "resource": {flowOtherResource}}
		}, nil, "invalid_target"},
		{"unknown code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_id": {pubClient}, "redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier}}
		}, nil, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.postToken("/token", tt.form(e.code(authParams())), tt.basic...)
			if a.status != http.StatusBadRequest || a.str("error") != tt.code {
				t.Errorf("token = %d %v, want 400 %s", a.status, a.body, tt.code)
			}
		})
	}
}

func TestCodeExpires(t *testing.T) {
	e := newFlowEnv(t, nil)
	code := e.code(authParams())
	e.clock.Advance(61 * time.Second)
	if a := e.exchange(code); a.str("error") != "invalid_grant" {
		t.Errorf("exchange after 61 s = %d %v, want invalid_grant", a.status, a.body)
	}
}

// TestRefreshRotation: the previous refresh token stays usable for RefreshGrace after
// its rotation; used later, it revokes its whole family.
func TestRefreshRotation(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	rt0 := a.str("refresh_token")
	r1 := e.refresh(rt0)
	if r1.status != http.StatusOK {
		t.Fatalf("refresh = %d %v", r1.status, r1.body)
	}

	e.clock.Advance(10 * time.Second)
	r1b := e.refresh(rt0) // a concurrent refresh, within the grace window
	if r1b.status != http.StatusOK {
		t.Fatalf("refresh within grace = %d %v, want 200", r1b.status, r1b.body)
	}

	e.clock.Advance(25 * time.Second) // 35 s after the rotation
	reuse := e.refresh(rt0)
	if reuse.status != http.StatusBadRequest || reuse.str("error") != "invalid_grant" {
		t.Fatalf("refresh after grace = %d %v, want invalid_grant", reuse.status, reuse.body)
	}
	for name, rt := range map[string]string{"rotated": r1.str("refresh_token"), "grace": r1b.str("refresh_token")} {
		if r := e.refresh(rt); r.str("error") != "invalid_grant" {
			t.Errorf("refresh with the %s token after reuse = %d %v, want invalid_grant", name, r.status, r.body)
		}
	}
	for _, at := range []string{a.str("access_token"), r1.str("access_token"), r1b.str("access_token")} {
		if _, err := e.verify(at); !isInvalid(err) {
			t.Errorf("Authenticate after family revocation = %v, want invalid credential", err)
		}
	}
}

// TestRefreshScope: no scope keeps the grant, a subset narrows the access token only,
// a wider scope is refused.
func TestRefreshScope(t *testing.T) {
	e := newFlowEnv(t, nil)
	q := authParams()
	q.Set("scope", "mcp:read mcp:write offline_access")
	a := e.exchange(e.code(q))
	if a.status != http.StatusOK || a.str("scope") != "mcp:read mcp:write offline_access" {
		t.Fatalf("exchange = %d %v", a.status, a.body)
	}
	r := e.refresh(a.str("refresh_token"), "scope", "mcp:read")
	if r.str("scope") != "mcp:read" {
		t.Fatalf("narrowed refresh scope = %q, want mcp:read", r.str("scope"))
	}
	if p, err := e.verify(r.str("access_token")); err != nil || strings.Join(p.Scopes, " ") != "mcp:read" {
		t.Errorf("narrowed access token scopes = %v, %v", p.Scopes, err)
	}
	r = e.refresh(r.str("refresh_token"))
	if r.str("scope") != "mcp:read mcp:write offline_access" {
		t.Errorf("refresh without scope after narrowing = %q, want the original grant", r.str("scope"))
	}
	for _, wider := range []string{"mcp:read admin", "mcp:read mcp:write offline_access extra"} {
		if w := e.refresh(r.str("refresh_token"), "scope", wider); w.status != http.StatusBadRequest || w.str("error") != "invalid_scope" {
			t.Errorf("refresh with scope %q = %d %v, want invalid_scope", wider, w.status, w.body)
		}
	}
	if w := e.refresh(r.str("refresh_token"), "resource", flowOtherResource); w.str("error") != "invalid_target" {
		t.Errorf("refresh for another resource = %d %v, want invalid_target", w.status, w.body)
	}
}

func TestRefreshOtherClient(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	r := e.postToken("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}, "client_id": {webClient}})
	if r.str("error") != "invalid_grant" {
		t.Fatalf("refresh by another client = %d %v, want invalid_grant", r.status, r.body)
	}
	if r := e.refresh(a.str("refresh_token")); r.status != http.StatusOK {
		t.Errorf("the owner's refresh after another client tried = %d %v, want 200 (not burned)", r.status, r.body)
	}
}

// TestRefreshUserRemoved: a refresh checks that the user may still sign in.
func TestRefreshUserRemoved(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	e.cfg.AllowedDomains = []string{"other.example"}
	e.restart()
	if r := e.refresh(a.str("refresh_token")); r.str("error") != "invalid_grant" {
		t.Errorf("refresh for a user the allowlist now refuses = %d %v, want invalid_grant", r.status, r.body)
	}
}

func TestTokenClientAuthentication(t *testing.T) {
	e := newFlowEnv(t, nil)
	confParams := func() url.Values {
		q := authParams()
		q.Set("client_id", confClient)
		q.Set("redirect_uri", confRedirect)
		return q
	}
	form := func(code string, extra ...string) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {confRedirect}, "code_verifier": {flowVerifier}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	tests := []struct {
		name      string
		extra     []string
		basic     []string
		status    int
		code      string
		challenge bool // WWW-Authenticate: Basic
	}{
		{"basic", nil, []string{confClient, confSecret}, 200, "", false},
		{"post", []string{"client_id", confClient, "client_secret", confSecret}, nil, 200, "", false},
		{"basic wrong secret", nil, []string{confClient, "wrong"}, 401, "invalid_client", true},
		{"post wrong secret", []string{"client_id", confClient, "client_secret", "wrong"}, nil, 401, "invalid_client", false},
		{"no secret", []string{"client_id", confClient}, nil, 401, "invalid_client", false},
		{"two methods", []string{"client_secret", confSecret}, []string{confClient, confSecret}, 400, "invalid_request", false},
		{"basic id differs from client_id", []string{"client_id", pubClient}, []string{confClient, confSecret}, 401, "invalid_client", true},
		{"unknown client", []string{"client_id", "nobody"}, nil, 401, "invalid_client", false},
		{"no client", nil, nil, 401, "invalid_client", false},
		{"public client with a secret", []string{"client_id", pubClient, "client_secret", "x"}, nil, 401, "invalid_client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.postToken("/token", form(e.code(confParams()), tt.extra...), tt.basic...)
			if a.status != tt.status || a.str("error") != tt.code {
				t.Errorf("token = %d %v, want %d %q", a.status, a.body, tt.status, tt.code)
			}
			if got := a.header.Get("WWW-Authenticate"); (got != "") != tt.challenge || tt.challenge && !strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", got, tt.challenge)
			}
		})
	}
}

func TestTokenEndpointRequests(t *testing.T) {
	var grants []string
	e := newFlowEnv(t, func(c *Config) { c.OnGrant = func(g, r string) { grants = append(grants, g+" "+r) } })
	post := func(contentType, body string) *http.Response {
		resp, err := http.Post(e.srv.URL+"/token", contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	tests := []struct {
		name, contentType, body, code string
	}{
		{"json body", "application/json", `{"grant_type":"authorization_code"}`, "invalid_request"},
		{"no grant type", "application/x-www-form-urlencoded", "client_id=cli", "invalid_request"},
		{"unsupported grant", "application/x-www-form-urlencoded", "grant_type=password&client_id=cli", "unsupported_grant_type"},
		{"client credentials", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=cli", "unsupported_grant_type"},
		{"repeated parameter", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=cli", "invalid_request"},
		{"body over 64 KiB", "application/x-www-form-urlencoded", "grant_type=refresh_token&client_id=cli&x=" + strings.Repeat("a", 65<<10), "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(tt.contentType, tt.body)
			b := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, `"error":"`+tt.code+`"`) {
				t.Errorf("POST /token = %d %s, want 400 %s", resp.StatusCode, b, tt.code)
			}
			for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Access-Control-Allow-Origin": "*", "Content-Type": "application/json"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/token", nil)
	req.Header.Set("Origin", "http://localhost:6274")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("OPTIONS /token = %d %v, want 204 with Access-Control-Allow-Origin *", resp.StatusCode, resp.Header)
	}
	if resp, _ := http.Get(e.srv.URL + "/token"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token = %d, want 405", resp.StatusCode)
	}

	e.tokens()
	want := "authorization_code ok"
	if len(grants) == 0 || grants[len(grants)-1] != want {
		t.Errorf("OnGrant calls = %q, want the last to be %q", grants, want)
	}
	if grants[0] != "other invalid_request" || grants[2] != "other unsupported_grant_type" {
		t.Errorf("OnGrant calls = %q, want failures labelled other", grants)
	}
}

// TestRefreshAllowed: a client that did not register the refresh_token grant gets no
// refresh token; configured clients get one.
func TestRefreshAllowed(t *testing.T) {
	tests := []struct {
		name   string
		grants []string
		kind   string
		want   bool
	}{
		{"static default", nil, "static", true},
		{"dcr default", nil, "dcr", false},
		{"dcr with refresh", []string{"authorization_code", "refresh_token"}, "dcr", true},
		{"cimd code only", []string{"authorization_code"}, "cimd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := store.Client{Kind: tt.kind, GrantTypes: tt.grants}
			if got := refreshAllowed(c); got != tt.want {
				t.Errorf("refreshAllowed(%v, %s) = %v, want %v", tt.grants, tt.kind, got, tt.want)
			}
		})
	}
}
