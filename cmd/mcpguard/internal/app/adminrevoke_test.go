package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// requestFieldRE finds the consent form's request id.
var requestFieldRE = regexp.MustCompile(`name="request" value="([^"]+)"`)

// pkceVerifier is the verifier of the code_challenge authorize sends (RFC 7636 App. B).
const pkceVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// holder is a person signed in through a browser whose client holds tokens.
type holder struct {
	browser      *http.Client
	access, rfsh string
}

// signIn has alice log in, approve the quickstart client and redeem its code: the
// whole login flow of the real handler.
func signIn(t *testing.T, base string) holder {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	h := holder{browser: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	logIn(t, h.browser, base)
	if p := authorize(t, h.browser, base); p != "/consent" {
		t.Fatalf("authorize after login goes to %q, want /consent", p)
	}
	resp, err := h.browser.Get(base + "/consent")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf, req := csrfField.FindSubmatch(page), requestFieldRE.FindSubmatch(page)
	if csrf == nil || req == nil {
		t.Fatalf("no csrf or request field on the consent page:\n%s", page)
	}
	resp, err = h.browser.PostForm(base+"/consent", url.Values{"csrf": {string(csrf[1])}, "request": {string(req[1])}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("consent answered %d to %q, want a redirect with a code", resp.StatusCode, loc)
	}
	status, body := tokenRequest(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"quickstart"},
		"redirect_uri": {"http://127.0.0.1:8976/callback"}, "code_verifier": {pkceVerifier}})
	h.access, h.rfsh = body["access_token"], body["refresh_token"]
	if status != http.StatusOK || h.access == "" || h.rfsh == "" {
		t.Fatalf("code exchange = %d %v, want an access and a refresh token", status, body)
	}
	return h
}

// tokenRequest posts form to /token and returns the status and the answer's strings.
func tokenRequest(t *testing.T, base string, form url.Values) (int, map[string]string) {
	t.Helper()
	resp, err := http.PostForm(base+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	out := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return resp.StatusCode, out
}

// authStatus is /auth's decision on a POST to the protected resource with token.
func authStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/auth", nil)
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "mcp.example.com")
	req.Header.Set("X-Forwarded-Uri", "/mcp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminRevokeTargets: for each target of `mcpguard admin revoke`, a token /auth
// accepted (and so cached) is refused right after, its refresh token is refused, and
// a person's revocation ends their browser session too.
func TestAdminRevokeTargets(t *testing.T) {
	tests := []struct {
		name        string
		args        func(t *testing.T, adminURL string) []string
		want        string // in the CLI's output
		sessionGone bool
	}{
		{"person", func(*testing.T, string) []string { return []string{"--user", "alice@example.com"} },
			"revoked 3 record(s): 1 grant(s), 1 session(s), 1 consent(s)\nsubjects revoked: alice@example.com\n", true},
		// The email in another case: the value itself, as a subject, holds nothing; the
		// subject whose session and grant carry the email is found and named.
		{"person by email", func(*testing.T, string) []string { return []string{"--user", "ALICE@Example.COM"} },
			"revoked 3 record(s): 1 grant(s), 1 session(s), 1 consent(s)\nsubjects revoked: ALICE@Example.COM, alice@example.com\n", true},
		{"client", func(*testing.T, string) []string { return []string{"--client", "quickstart"} },
			"note: a configured client is not deleted", false},
		{"grant", func(t *testing.T, adminURL string) []string {
			out, err := runAdmin(t, adminURL, testAdminToken, "grants", "--user", "alice@example.com", "--client", "quickstart", "--json")
			var list struct{ Grants []struct{ ID string } }
			if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Grants) != 1 {
				t.Fatalf("admin grants --json = %q, %v; want alice's one grant", out, err)
			}
			return []string{"--grant", list.Grants[0].ID}
		}, "revoked 2 record(s): 1 grant(s), 1 consent(s)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, adminURL := startAdminServer(t)
			h := signIn(t, base)
			if got := authStatus(t, base, h.access); got != http.StatusOK {
				t.Fatalf("/auth with the fresh token = %d, want 200", got)
			}
			out, err := runAdmin(t, adminURL, testAdminToken, append([]string{"revoke"}, tt.args(t, adminURL)...)...)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("admin revoke = %q, %v; want %q", out, err, tt.want)
			}
			if got := authStatus(t, base, h.access); got != http.StatusUnauthorized {
				t.Errorf("/auth with the cached token after the revocation = %d, want 401", got)
			}
			status, body := tokenRequest(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {h.rfsh}, "client_id": {"quickstart"}})
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("refresh after the revocation = %d %v, want invalid_grant", status, body)
			}
			if p := authorize(t, h.browser, base); (p == "/login") != tt.sessionGone {
				t.Errorf("authorize after the revocation goes to %q; session gone: want %v", p, tt.sessionGone)
			}
		})
	}
}

// TestAdminListings: clients and grants, as tables and as JSON; bad flags and a
// failing API give a non-zero exit with the message.
func TestAdminListings(t *testing.T) {
	base, adminURL := startAdminServer(t)
	signIn(t, base)
	tests := []struct {
		name string
		args []string
		want []string // in the output, in order
	}{
		{"clients", []string{"clients"}, []string{"CLIENT ID", "KIND", "GRANTS", "\nquickstart", "static", "quickstart", "1\n"}},
		{"clients json", []string{"clients", "--json"}, []string{`{"clients":[{"client_id":"quickstart","name":"quickstart","kind":"static"`, `"grants":1}`}},
		{"grants", []string{"grants"}, []string{"GRANT ID", "SUBJECT", "alice@example.com", "quickstart", "https://mcp.example.com/mcp", "mcp:read"}},
		{"grants of a client", []string{"grants", "--client", "quickstart", "--json"}, []string{`"client_id":"quickstart"`, `"subject":"alice@example.com"`}},
		{"grants of nobody", []string{"grants", "--user", "bob@example.com", "--json"}, []string{`{"grants":[]}`}},
		{"grants by email", []string{"grants", "--user", "Alice@EXAMPLE.com", "--json"}, []string{`"client_id":"quickstart"`, `"subject":"alice@example.com"`}},
		{"grants by a prefix of the email", []string{"grants", "--user", "alice@example.co", "--json"}, []string{`{"grants":[]}`}},
		{"revoke nobody", []string{"revoke", "--user", "bob@example.com"}, []string{"revoked 0 record(s)", "subjects revoked: bob@example.com\n", "note: no grant, session or consent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runAdmin(t, adminURL, testAdminToken, tt.args...)
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if err != nil || i < 0 {
					t.Fatalf("admin %v = %q, %v; want %q in order", tt.args, out, err, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"two targets", []string{"revoke", "--user", "a", "--grant", "b"}, "exactly one of"},
		{"no target", []string{"revoke"}, "exactly one of"},
		{"unknown grant", []string{"revoke", "--grant", "nope"}, "404: no live grant has that id"},
		{"unknown client", []string{"revoke", "--client", "nope"}, "404: no client has that id"},
		{"unknown flag", []string{"clients", "--user", "x"}, "takes no --user"},
		{"grant flag on a listing", []string{"grants", "--grant", "x"}, "flag provided but not defined"},
		{"stray argument", []string{"grants", "alice"}, `unexpected argument "alice"`},
		{"oversized user", []string{"revoke", "--user", "a@" + strings.Repeat("b", 1024)}, "400: user is longer than 1024 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runAdmin(t, adminURL, testAdminToken, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("admin %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
