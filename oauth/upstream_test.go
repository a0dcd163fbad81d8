package oauth

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/oauth/oauthtest"
)

const (
	upstreamClientID     = "mcpguard-at-idp"
	upstreamClientSecret = "upstream-secret"
)

// newUpstreamEnv starts a server whose users log in at an in-process OIDC provider
// (Provider "oidc", or "google" pointed at the test provider) and waits for discovery.
func newUpstreamEnv(t *testing.T, provider string, user oauthtest.User, mutate func(*Config)) (*flowEnv, *oauthtest.Provider) {
	t.Helper()
	idp := oauthtest.NewProvider(t, upstreamClientID, upstreamClientSecret)
	idp.SetUser(user)
	e := newFlowEnv(t, func(c *Config) {
		c.Provider = provider
		c.LocalUsers = nil
		c.UpstreamIssuer = idp.URL()
		c.UpstreamClientID = upstreamClientID
		c.UpstreamClientSecret = upstreamClientSecret
		if mutate != nil {
			mutate(c)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for e.as.Ready(ctx) != nil {
		select {
		case <-ctx.Done():
			t.Fatalf("upstream discovery did not finish: %v", e.as.Ready(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return e, idp
}

// upstreamLogin follows /authorize to the provider and back to /callback, and returns
// the callback's answer.
func (e *flowEnv) upstreamLogin(idp *oauthtest.Provider, params url.Values) *http.Response {
	e.t.Helper()
	u := redirectOf(e.t, e.authorize(params))
	if !strings.HasPrefix(u.String(), idp.URL()+"/authorize?") {
		e.t.Fatalf("/authorize redirects to %s, want the provider", u)
	}
	back := redirectOf(e.t, e.get(u.String()))
	if !strings.HasPrefix(back.String(), e.srv.URL+"/callback?") {
		e.t.Fatalf("provider redirects to %s, want /callback", back)
	}
	return e.get(back.String())
}

var alicePlatform = oauthtest.User{Subject: "idp-123", Email: "alice@example.com", EmailVerified: true, Name: "Alice Upstream", Groups: []string{"eng", "admins"}}

func TestUpstreamFlow(t *testing.T) {
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, func(c *Config) { c.AllowedGroups = []string{"admins"} })
	u := redirectOf(t, e.upstreamLogin(idp, authParams()))
	if u.Path != "/consent" {
		t.Fatalf("callback redirects to %s, want /consent", u)
	}
	auth := idp.LastAuthorization()
	for k, want := range map[string]string{"code_challenge_method": "S256", "redirect_uri": e.srv.URL + "/callback", "scope": "openid email profile groups", "response_type": "code"} {
		if got := auth.Get(k); got != want {
			t.Errorf("upstream authorization %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(auth.Get(k)) < 43 {
			t.Errorf("upstream authorization %s = %q, want a random value", k, auth.Get(k))
		}
	}
	redirect := redirectOf(t, e.consent("approve"))
	resp, err := e.srv.Client().PostForm(e.srv.URL+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {redirect.Query().Get("code")}, "client_id": {pubClient},
		"redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token = %d %s", resp.StatusCode, raw)
	}
	if strings.Contains(raw, "upstream-") {
		t.Errorf("token response carries an upstream token: %s", raw)
	}
	a := e.tokens() // consent is remembered now
	p, err := e.verify(a.str("access_token"))
	if err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	if p.Subject != "idp-123" || p.Email != "alice@example.com" || !p.EmailVerified || p.Name != "Alice Upstream" || strings.Join(p.Groups, ",") != "eng,admins" {
		t.Errorf("principal = %+v, want the upstream identity", p)
	}
	for _, c := range e.browser.Jar.Cookies(parseURL(t, e.srv.URL)) {
		if strings.Contains(c.Value, "upstream-") {
			t.Errorf("cookie %s carries an upstream token", c.Name)
		}
	}
}

// TestUpstreamDenied: identities the provider vouches for that mcpguard must refuse.
func TestUpstreamDenied(t *testing.T) {
	domains := func(c *Config) { c.AllowedDomains = []string{"example.com"} }
	tests := []struct {
		name     string
		provider string
		user     oauthtest.User
		mutate   func(*Config)
		nonce    string // forced nonce claim
		status   int
	}{
		{"unverified email", "oidc", oauthtest.User{Subject: "1", Email: "a@example.com", EmailVerified: false}, domains, "", 403},
		{"email_verified missing", "oidc", oauthtest.User{Subject: "1", Email: "a@example.com"}, domains, "", 403},
		{"two @ (GHSA-c5c4-8r6x-56w3)", "oidc", oauthtest.User{Subject: "1", Email: "a@evil.com@example.com", EmailVerified: true}, domains, "", 403},
		{"domain suffix", "oidc", oauthtest.User{Subject: "1", Email: "a@evilexample.com", EmailVerified: true}, domains, "", 403},
		{"group not allowed", "oidc", oauthtest.User{Subject: "1", Groups: []string{"users"}}, func(c *Config) { c.AllowedGroups = []string{"admins"} }, "", 403},
		{"nonce mismatch", "oidc", alicePlatform, nil, "a-nonce-from-another-login", 403},
		{"nonce missing", "oidc", alicePlatform, nil, "", 403},
		{"google unverified", "google", oauthtest.User{Subject: "1", Email: "a@example.com", EmailVerified: false, HostedDomain: "example.com"}, nil, "", 403},
		{"google hd mismatch", "google", oauthtest.User{Subject: "1", Email: "a@example.com", EmailVerified: true, HostedDomain: "evil.com"},
			func(c *Config) { c.GoogleHostedDomain = "example.com" }, "", 403},
		{"google hd missing (consumer account)", "google", oauthtest.User{Subject: "1", Email: "a@gmail.com", EmailVerified: true},
			func(c *Config) { c.GoogleHostedDomain = "example.com" }, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, idp := newUpstreamEnv(t, tt.provider, tt.user, tt.mutate)
			if tt.nonce != "" || tt.name == "nonce missing" {
				idp.SetNonce(tt.nonce)
			}
			resp := e.upstreamLogin(idp, authParams())
			page := readBody(t, resp)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != "" {
				t.Fatalf("callback = %d Location %q, want %d page", resp.StatusCode, resp.Header.Get("Location"), tt.status)
			}
			if !strings.Contains(page, "<h1>") {
				t.Errorf("callback answer is not an error page: %q", page)
			}
			// No session was created: the next /authorize goes upstream again.
			if u := redirectOf(t, e.authorize(authParams())); !strings.HasPrefix(u.String(), idp.URL()) {
				t.Errorf("after a refusal, /authorize goes to %s, want the provider", u)
			}
		})
	}
}

func TestUpstreamAdmitted(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		user     oauthtest.User
		mutate   func(*Config)
	}{
		{"google hd", "google", oauthtest.User{Subject: "1", Email: "a@example.com", EmailVerified: true, HostedDomain: "example.com"},
			func(c *Config) { c.GoogleHostedDomain = "Example.com" }},
		{"email_verified as string", "oidc", oauthtest.User{Subject: "1", Email: "a@Example.com", EmailVerified: "true"},
			func(c *Config) { c.AllowedDomains = []string{"example.com"} }},
		{"no allowlist, no email (Entra without email)", "oidc", oauthtest.User{Subject: "1"}, nil},
		{"allowed group, no email", "oidc", oauthtest.User{Subject: "1", Groups: []string{"admins"}}, func(c *Config) { c.AllowedGroups = []string{"admins"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, idp := newUpstreamEnv(t, tt.provider, tt.user, tt.mutate)
			if u := redirectOf(t, e.upstreamLogin(idp, authParams())); u.Path != "/consent" {
				t.Errorf("callback redirects to %s, want /consent", u)
			}
			if tt.provider == "google" && idp.LastAuthorization().Get("hd") != "example.com" {
				t.Errorf("Google authorization hd = %q, want example.com", idp.LastAuthorization().Get("hd"))
			}
		})
	}
}

// TestUpstreamCallback: the callback belongs to the browser that started the login,
// once.
func TestUpstreamCallback(t *testing.T) {
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, nil)
	u := redirectOf(t, e.authorize(authParams()))
	back := redirectOf(t, e.get(u.String()))

	t.Run("state mismatch", func(t *testing.T) {
		q := back.Query()
		q.Set("state", "forged")
		resp := e.get("/callback?" + q.Encode())
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || idp.Exchanges() != 0 {
			t.Errorf("callback with another state = %d after %d exchanges, want 400 and none", resp.StatusCode, idp.Exchanges())
		}
	})
	t.Run("single use", func(t *testing.T) {
		// The failed attempt above consumed the login; the genuine answer is now refused too.
		resp := e.get(back.String())
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("second callback = %d, want 400", resp.StatusCode)
		}
	})
	t.Run("other browser", func(t *testing.T) {
		u := redirectOf(t, e.authorize(authParams()))
		back := redirectOf(t, e.get(u.String()))
		jar, _ := cookiejar.New(nil)
		other := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := other.Get(back.String())
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback in another browser = %d, want 400", resp.StatusCode)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		u := redirectOf(t, e.authorize(authParams()))
		resp := e.get("/callback?error=access_denied&state=" + url.QueryEscape(parseURL(t, u.String()).Query().Get("state")))
		readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("callback with error = %d, want 403", resp.StatusCode)
		}
	})
}

func TestUpstreamNotReady(t *testing.T) {
	dead := "http://127.0.0.1:1"
	e := newFlowEnv(t, func(c *Config) {
		c.Provider, c.UpstreamIssuer, c.UpstreamClientID = "oidc", dead, "x"
	})
	if err := e.as.Ready(t.Context()); err == nil {
		t.Errorf("Ready with an unreachable issuer = nil, want an error")
	}
	resp := e.authorize(authParams())
	readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/authorize before discovery = %d, want 503", resp.StatusCode)
	}
}
