package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
)

func TestLocalLoginForm(t *testing.T) {
	e := newFlowEnv(t, nil)
	resp := e.get("/login")
	page := readBody(t, resp)
	for _, want := range []string{`<label for="email">`, `<label for="password">`, `type="password"`, `name="csrf"`, `method="post"`} {
		if !strings.Contains(page, want) {
			t.Errorf("login form lacks %q", want)
		}
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("login form headers %v, want no framing", resp.Header)
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Errorf("login form has a script")
	}
}

func TestLocalLoginFailures(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		password string
		csrf     string // "" uses the form's
		status   int
	}{
		{"wrong password", aliceEmail, "wrong", "", http.StatusUnauthorized},
		{"unknown user", "mallory@example.com", alicePassword, "", http.StatusUnauthorized},
		{"empty password", aliceEmail, "", "", http.StatusUnauthorized},
		{"two @", "alice@example.com@example.com", alicePassword, "", http.StatusUnauthorized},
		{"csrf wrong", aliceEmail, alicePassword, "forged", http.StatusForbidden},
		{"csrf missing", aliceEmail, alicePassword, "-", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t, nil)
			redirectOf(t, e.authorize(authParams()))
			page := readBody(t, e.get("/login"))
			form := url.Values{"csrf": {hiddenField(t, csrfField, page)}, "email": {tt.email}, "password": {tt.password}}
			switch tt.csrf {
			case "":
			case "-":
				form.Del("csrf")
			default:
				form.Set("csrf", tt.csrf)
			}
			resp := e.post("/login", form)
			page = readBody(t, resp)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != "" {
				t.Fatalf("POST /login = %d Location %q, want %d", resp.StatusCode, resp.Header.Get("Location"), tt.status)
			}
			if !strings.Contains(page, `role="alert"`) || !strings.Contains(page, `name="csrf"`) {
				t.Errorf("failed login does not show the form again with an error")
			}
			if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
				t.Errorf("after a failed login, /authorize goes to %s, want /login", u)
			}
		})
	}
}

// TestLocalLoginCaseInsensitive: the email is matched case-insensitively.
func TestLocalLoginCaseInsensitive(t *testing.T) {
	e := newFlowEnv(t, nil)
	redirectOf(t, e.authorize(authParams()))
	if u := redirectOf(t, e.login("  ALICE@Example.COM ", alicePassword)); u.Path != "/consent" {
		t.Errorf("login with an upper-case email goes to %s, want /consent", u)
	}
}

// TestLocalLoginAllowlist: a local user outside the allowlists is refused with a page.
func TestLocalLoginAllowlist(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) { c.AllowedDomains = []string{"corp.example"} })
	redirectOf(t, e.authorize(authParams()))
	resp := e.login(aliceEmail, alicePassword)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "not allowed") {
		t.Errorf("POST /login for a refused user = %d, want 403 with an explanation", resp.StatusCode)
	}
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Errorf("a refused user kept a session: /authorize goes to %s", u)
	}
}

// TestLoginWithoutAuthorization: /login?rd= returns to a safe local path; without rd
// a confirmation page is shown.
func TestLoginWithoutAuthorization(t *testing.T) {
	e := newFlowEnv(t, nil)
	page := readBody(t, e.get("/login?rd=%2Fapp%2Fdashboard%3Ftab%3D1"))
	resp := e.post("/login", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "email": {aliceEmail}, "password": {alicePassword}})
	if got := redirectOf(t, resp); got.String() != "/app/dashboard?tab=1" {
		t.Errorf("login with rd redirects to %s, want /app/dashboard?tab=1", got)
	}
	page = readBody(t, e.get("/login?rd=https%3A%2F%2Fevil.com"))
	resp = e.post("/login", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "email": {aliceEmail}, "password": {alicePassword}})
	if page := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "signed in as "+aliceEmail) {
		t.Errorf("login with an unsafe rd = %d %q, want the signed-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestLoginAllowlist is the allowlist table, through policy.Allowlist: emails parse
// strictly (one '@'), domains are case-folded, email counts only when verified.
func TestLoginAllowlist(t *testing.T) {
	allow, err := policy.NewAllowlist([]string{"Boss@Example.org"}, []string{"Allowed.com"}, []string{"admins"})
	if err != nil {
		t.Fatal(err)
	}
	g := &accounts{allow: allow}
	tests := []struct {
		name string
		id   store.Identity
		want bool
	}{
		{"listed domain", store.Identity{Email: "a@allowed.com", EmailVerified: true}, true},
		{"upper-case domain", store.Identity{Email: "a@ALLOWED.COM", EmailVerified: true}, true},
		{"listed email, other case", store.Identity{Email: "boss@example.ORG", EmailVerified: true}, true},
		{"listed group", store.Identity{Email: "x@evil.com", Groups: []string{"users", "admins"}}, true},
		{"two @ (GHSA-c5c4-8r6x-56w3)", store.Identity{Email: "a@evil.com@allowed.com", EmailVerified: true}, false},
		{"unverified email", store.Identity{Email: "a@allowed.com"}, false},
		{"subdomain", store.Identity{Email: "a@sub.allowed.com", EmailVerified: true}, false},
		{"suffix domain", store.Identity{Email: "a@notallowed.com", EmailVerified: true}, false},
		{"look-alike domain", store.Identity{Email: "a@allowеd.com", EmailVerified: true}, false}, // Cyrillic е
		{"trailing dot", store.Identity{Email: "a@allowed.com.", EmailVerified: true}, false},
		{"quoted local part", store.Identity{Email: `"a@evil.com"@allowed.com`, EmailVerified: true}, false},
		{"group case differs", store.Identity{Groups: []string{"Admins"}}, false},
		{"nothing", store.Identity{Subject: "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.admits(tt.id); got != tt.want {
				t.Errorf("admits(%+v) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
	open, _ := policy.NewAllowlist(nil, nil, nil)
	if !(&accounts{allow: open}).admits(store.Identity{Subject: "anyone"}) {
		t.Errorf("empty allowlists refuse a user, want everyone admitted")
	}
}
