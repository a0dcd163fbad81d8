package app

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "admin-token-for-tests-0123456789abcdef"

var (
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	adminAddrRE = regexp.MustCompile(`admin API listening on (http://\S+)`)
)

// startAdminServer runs serve in-process with the local provider, one static client
// and the admin API; it returns the public base URL and the admin API's.
func startAdminServer(t *testing.T) (base, adminURL string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := localUsersEnv(t)
	env["LISTEN_ADDR"] = addr
	env["ISSUER_URL"] = "http://" + addr
	env["DEV_MODE"] = "true"
	env["LOG_LEVEL"] = "info"
	env["ADMIN_TOKEN"] = testAdminToken
	env["ADMIN_ADDR"] = "127.0.0.1:0"
	env["POLICY_FILE"] = writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
    required_scopes: [mcp:read]
clients:
  - client_id: quickstart
    client_name: quickstart
    redirect_uris: [http://127.0.0.1:8976/callback]
`)
	base, stdout, _ := startRun(t, env)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := adminAddrRE.FindStringSubmatch(stdout.String()); m != nil {
			return base, m[1]
		}
	}
	t.Fatalf("serve printed no admin address:\n%s", stdout)
	return "", ""
}

// authorize starts an authorization request with c's cookies and returns where the
// server sends the browser: the login page, or (with a live session) on to consent.
func authorize(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"quickstart"}, "redirect_uri": {"http://127.0.0.1:8976/callback"},
		"scope": {"mcp:read"}, "state": {"xyz"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}, "resource": {"https://mcp.example.com/mcp"}}
	resp, err := c.Get(base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u.Path
}

// logIn signs alice in through the login page, leaving the session cookie in c's jar.
func logIn(t *testing.T, c *http.Client, base string) {
	t.Helper()
	if p := authorize(t, c, base); p != "/login" {
		t.Fatalf("authorize sent a new browser to %q, want /login", p)
	}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the login page:\n%s", page)
	}
	resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "email": {"alice@example.com"}, "password": {"correct horse"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if p := authorize(t, c, base); p == "/login" {
		t.Fatalf("authorize after login still sends the browser to /login")
	}
}

// runAdmin runs `mcpguard admin args...` against adminURL with token.
func runAdmin(t *testing.T, adminURL, token string, args ...string) (string, error) {
	t.Helper()
	env := map[string]string{"ADMIN_URL": adminURL, "ADMIN_TOKEN": token}
	var out syncBuffer
	err := Run(t.Context(), append([]string{"mcpguard", "admin"}, args...), func(k string) string { return env[k] },
		strings.NewReader(""), &out, io.Discard)
	return out.String(), err
}

// TestAdminRevokeSession: an operator lists a person's sessions with `mcpguard admin`,
// revokes one, and the browser holding its cookie is sent to the login page again.
func TestAdminRevokeSession(t *testing.T) {
	base, adminURL := startAdminServer(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	logIn(t, browser, base)

	out, err := runAdmin(t, adminURL, testAdminToken, "sessions", "--user", "alice@example.com", "--json")
	if err != nil {
		t.Fatalf("admin sessions --json: %v", err)
	}
	var list struct {
		Sessions []struct {
			ID, Email string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Sessions) != 1 || list.Sessions[0].Email != "alice@example.com" {
		t.Fatalf("admin sessions --json = %q (%v), want alice's one session", out, err)
	}
	id := list.Sessions[0].ID
	// By the email in another case: the same session, once.
	table, err := runAdmin(t, adminURL, testAdminToken, "sessions", "--user", "ALICE@example.com")
	if err != nil || !strings.HasPrefix(table, "ID ") || strings.Count(table, id) != 1 {
		t.Errorf("admin sessions --user ALICE@example.com = %q, %v, want a table with %s once", table, err, id)
	}

	if out, err := runAdmin(t, adminURL, testAdminToken, "revoke", "--session", id); err != nil || out != "revoked 1 record(s)\n" {
		t.Fatalf("admin revoke --session = %q, %v, want revoked 1 record(s)", out, err)
	}
	if p := authorize(t, browser, base); p != "/login" {
		t.Errorf("authorize with the revoked session's cookie goes to %q, want /login", p)
	}
	if out, _ := runAdmin(t, adminURL, testAdminToken, "sessions", "--user", "alice@example.com", "--json"); !strings.Contains(out, `"sessions":[]`) {
		t.Errorf("admin sessions after the revocation = %q, want none", out)
	}

	for _, tt := range []struct {
		name, token string
		args        []string
		want        string
	}{
		{"unknown session", testAdminToken, []string{"revoke", "--session", id}, "no session has that id"},
		{"wrong token", strings.Repeat("x", 40), []string{"sessions", "--user", "alice@example.com"}, "401: missing or wrong admin token"},
		{"no token", "", []string{"sessions", "--user", "alice@example.com"}, "ADMIN_TOKEN is not set"},
		{"no user", testAdminToken, []string{"sessions"}, "--user is required"},
		{"unknown command", testAdminToken, []string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runAdmin(t, adminURL, tt.token, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("admin %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestAdminListenerOnlyWithToken: without ADMIN_TOKEN nothing listens on ADMIN_ADDR,
// and the admin API is not reachable on the public listener.
func TestAdminListenerOnlyWithToken(t *testing.T) {
	base, _ := startAdminServer(t)
	req, _ := http.NewRequest("GET", base+"/v1/sessions?user=alice@example.com", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("the public listener answers the admin API")
	}
	env := localUsersEnv(t)
	_, stdout, _ := startRun(t, env)
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(stdout.String(), "admin API") {
		t.Errorf("serve without ADMIN_TOKEN started the admin API:\n%s", stdout)
	}
}

// TestCheckConfigAdmin: check-config prints ADMIN_ADDR and never the admin token.
func TestCheckConfigAdmin(t *testing.T) {
	env := localUsersEnv(t)
	env["ADMIN_TOKEN"] = testAdminToken
	var stdout syncBuffer
	err := Run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return env[k] },
		strings.NewReader(""), &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if !strings.Contains(out, "\nADMIN_ADDR=127.0.0.1:11001\n") || !strings.Contains(out, "\nADMIN_TOKEN=<redacted>\n") || strings.Contains(out, testAdminToken) {
		t.Errorf("check-config output, ADMIN_ lines wrong:\n%s", out)
	}
}
