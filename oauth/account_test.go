package oauth

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

var (
	grantField   = regexp.MustCompile(`name="grant" value="([^"]+)"`)
	sessionField = regexp.MustCompile(`name="session" value="([^"]+)"`)
)

// accountPage opens target (/account, with a notice or not) with the browser and returns its HTML, failing t unless
// it is the account page with the pages' security headers.
func (e *flowEnv) accountPage(target string) string {
	e.t.Helper()
	resp := e.get(target)
	page := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Your account") {
		e.t.Fatalf("GET /account = %d, want 200 and the account page:\n%s", resp.StatusCode, page)
	}
	h := resp.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		e.t.Errorf("GET /account CSP = %q, want default-src 'none' and frame-ancestors 'none'", csp)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
		e.t.Errorf("GET /account Cache-Control %q X-Frame-Options %q, want no-store and DENY", h.Get("Cache-Control"), h.Get("X-Frame-Options"))
	}
	return page
}

// secondBrowser logs alice in from another browser and returns it; e.browser is kept.
func (e *flowEnv) secondBrowser() *http.Client {
	e.t.Helper()
	first := e.browser
	jar, _ := cookiejar.New(nil)
	second := *first
	second.Jar = jar
	e.browser = &second
	defer func() { e.browser = first }()
	resp := e.login(aliceEmail, alicePassword)
	if page := readBody(e.t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Signed in") {
		e.t.Fatalf("the second browser's login = %d, want 200 and the signed-in page:\n%s", resp.StatusCode, page)
	}
	return &second
}

func TestAccountSignIn(t *testing.T) {
	e := newFlowEnv(t, nil)
	u := redirectOf(t, e.get("/account"))
	if u.Path != "/login" || u.Query().Get("rd") != "/account" {
		t.Fatalf("GET /account signed out goes to %s, want /login?rd=/account", u)
	}
	page := readBody(t, e.get(u.String()))
	resp := e.post("/login", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "email": {aliceEmail}, "password": {alicePassword}})
	if u := redirectOf(t, resp); u.Path != "/account" {
		t.Fatalf("the login started at /account goes to %s, want /account", u)
	}
	page = e.accountPage("/account")
	for _, want := range []string{aliceEmail, "No application holds access", "This browser", "Go-http-client", "127.0.0.1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the account page lacks %q:\n%s", want, page)
		}
	}
	// The sign-out page offers the account page.
	if page := readBody(t, e.get("/logout")); !strings.Contains(page, `href="/account"`) {
		t.Errorf("the sign-out page does not link to /account:\n%s", page)
	}
}

// TestAccountSignInUpstream: with an upstream provider, /account goes to the provider and
// its callback comes back to /account.
func TestAccountSignInUpstream(t *testing.T) {
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, nil)
	login := redirectOf(t, e.get("/account"))
	up := redirectOf(t, e.get(login.String()))
	if !strings.HasPrefix(up.String(), idp.URL()+"/authorize?") {
		t.Fatalf("GET %s goes to %s, want the provider", login, up)
	}
	back := redirectOf(t, e.get(up.String()))
	if u := redirectOf(t, e.get(back.String())); u.Path != "/account" {
		t.Fatalf("the callback of a login started at /account goes to %s, want /account", u)
	}
	if page := e.accountPage("/account"); !strings.Contains(page, alicePlatform.Email) {
		t.Errorf("the account page does not name %s:\n%s", alicePlatform.Email, page)
	}
}

func TestAccountListsGrants(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.tokens()
	now := e.clock.Now()
	// A grant of a client that no longer exists shows the client's id.
	if err := e.st.CreateRefreshToken(t.Context(), store.RefreshToken{
		TokenHash: hashToken("gone"), FamilyID: "fam-gone", ClientID: "gone-client",
		Identity: store.Identity{Subject: aliceEmail}, Resource: flowOtherResource, Scopes: []string{"mcp:write"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	page := e.accountPage("/account")
	for _, want := range []string{"Test CLI", "<code>cli</code> · static", "mcp:read", flowResource, "gone-client", "no longer registered", "mcp:write", flowOtherResource, now.UTC().Format("2006-01-02 15:04 UTC")} {
		if !strings.Contains(page, want) {
			t.Errorf("the account page lacks %q:\n%s", want, page)
		}
	}
	if n := len(grantField.FindAllString(page, -1)); n != 2 {
		t.Errorf("the account page has %d grant forms, want 2", n)
	}
}

func TestAccountRevokeGrant(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	at, rt := a.str("access_token"), a.str("refresh_token")
	if _, err := e.verify(at); err != nil {
		t.Fatalf("the access token does not verify before the revocation: %v", err)
	}
	page := e.accountPage("/account")
	resp := e.post("/account/grants/revoke", url.Values{"csrf": {hiddenField(t, csrfField, page)}, "grant": {hiddenField(t, grantField, page)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?done=grant" {
		t.Fatalf("POST /account/grants/revoke = %d Location %q, want 303 to /account?done=grant", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	page = e.accountPage("/account?done=grant")
	if !strings.Contains(page, "Access revoked") || grantField.MatchString(page) {
		t.Errorf("after the revocation the account page lacks the notice or still lists the grant:\n%s", page)
	}
	if r := e.refresh(rt); r.status != http.StatusBadRequest || r.str("error") != codeInvalidGrant {
		t.Errorf("refresh after the revocation = %d %v, want 400 invalid_grant", r.status, r.body)
	}
	if _, err := e.verify(at); !isInvalid(err) {
		t.Errorf("verify(access token) after the revocation = %v, want ErrInvalidCredential", err)
	}
	// The consent is gone: the client's next authorization asks again.
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/consent" {
		t.Errorf("after the revocation /authorize goes to %s, want /consent", u)
	}
}

func TestAccountRevokeSession(t *testing.T) {
	e := newFlowEnv(t, nil)
	e.code(authParams())
	other := e.secondBrowser()
	page := e.accountPage("/account")
	if strings.Count(page, "Another browser") != 1 || strings.Count(page, "This browser") != 1 {
		t.Fatalf("the account page does not show this and another browser:\n%s", page)
	}
	// The other browser's session is the one not marked current.
	ids := sessionField.FindAllStringSubmatch(page, -1)
	current := ids[0][1]
	if strings.Index(page, "This browser") > strings.Index(page, "Another browser") {
		current = ids[1][1]
	}
	otherID := ids[0][1]
	if otherID == current {
		otherID = ids[1][1]
	}
	csrf := hiddenField(t, csrfField, page)
	resp := e.post("/account/sessions/revoke", url.Values{"csrf": {csrf}, "session": {otherID}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?done=session" {
		t.Fatalf("POST /account/sessions/revoke (other) = %d Location %q, want 303 to /account?done=session", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	resp, err := other.Get(e.srv.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	if u := redirectOf(t, resp); u.Path != "/login" {
		t.Errorf("the revoked browser's /account goes to %s, want /login", u)
	}
	page = e.accountPage("/account?done=session")
	if !strings.Contains(page, "Session revoked") || strings.Contains(page, "Another browser") {
		t.Errorf("after revoking the other session the page lacks the notice or still lists it:\n%s", page)
	}
	// Revoking this browser's own session signs it out.
	resp = e.post("/account/sessions/revoke", url.Values{"csrf": {csrf}, "session": {current}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?done=signed-out" {
		t.Fatalf("POST /account/sessions/revoke (current) = %d Location %q, want 303 to /account?done=signed-out", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	resp = e.get("/account?done=signed-out")
	if page := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "signed out") {
		t.Errorf("GET /account?done=signed-out = %d, want 200 and the signed-out page:\n%s", resp.StatusCode, page)
	}
	if n, _ := e.st.ListSessions(t.Context(), aliceEmail, e.clock.Now()); len(n) != 0 {
		t.Errorf("after revoking both sessions %d remain", len(n))
	}
	e.wantLogin("after revoking the current session")
}

// TestAccountFormsRefused: a form without this session's CSRF token, with a malformed
// body, or naming a grant or session that is not the person's changes nothing.
func TestAccountFormsRefused(t *testing.T) {
	e := newFlowEnv(t, nil)
	a := e.tokens()
	now := e.clock.Now()
	bob := store.Identity{Subject: "bob@example.com"}
	if err := e.st.CreateRefreshToken(t.Context(), store.RefreshToken{TokenHash: hashToken("bob"), FamilyID: "fam-bob", ClientID: pubClient, Identity: bob, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateSession(t.Context(), store.Session{ID: "sess-bob", Identity: bob, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page := e.accountPage("/account")
	csrf, grant, sess := hiddenField(t, csrfField, page), hiddenField(t, grantField, page), hiddenField(t, sessionField, page)
	const grants, sessions = "/account/grants/revoke", "/account/sessions/revoke"
	for _, tt := range []struct {
		name, path, body string
		want             int
	}{
		{"grant without CSRF", grants, url.Values{"grant": {grant}}.Encode(), http.StatusForbidden},
		{"grant with a wrong CSRF", grants, url.Values{"csrf": {"x" + csrf}, "grant": {grant}}.Encode(), http.StatusForbidden},
		{"session without CSRF", sessions, url.Values{"session": {sess}}.Encode(), http.StatusForbidden},
		{"unknown grant", grants, url.Values{"csrf": {csrf}, "grant": {"no-such-grant"}}.Encode(), http.StatusNotFound},
		{"another person's grant", grants, url.Values{"csrf": {csrf}, "grant": {"fam-bob"}}.Encode(), http.StatusNotFound},
		{"unknown session", sessions, url.Values{"csrf": {csrf}, "session": {"no-such-session"}}.Encode(), http.StatusNotFound},
		{"another person's session", sessions, url.Values{"csrf": {csrf}, "session": {"sess-bob"}}.Encode(), http.StatusNotFound},
		{"no grant", grants, url.Values{"csrf": {csrf}}.Encode(), http.StatusBadRequest},
		{"two grants", grants, url.Values{"csrf": {csrf}, "grant": {grant, "fam-bob"}}.Encode(), http.StatusBadRequest},
		{"oversized grant id", grants, url.Values{"csrf": {csrf}, "grant": {strings.Repeat("a", maxAccountID+1)}}.Encode(), http.StatusBadRequest},
		{"malformed body", grants, "csrf=" + csrf + "&grant=%zz", http.StatusBadRequest},
		{"oversized body", sessions, "csrf=" + csrf + "&session=" + sess + "&pad=" + strings.Repeat("a", maxFormBytes), http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tt.want || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("POST %s = %d, want %d and the error page:\n%s", tt.path, resp.StatusCode, tt.want, body)
			}
			if gs, _ := e.st.ListGrants(t.Context(), "", "", e.clock.Now()); len(gs) != 2 {
				t.Errorf("after the refused form %d grants are live, want 2", len(gs))
			}
			if ss, _ := e.st.ListSessions(t.Context(), aliceEmail, e.clock.Now()); len(ss) != 1 {
				t.Errorf("after the refused form alice has %d sessions, want 1", len(ss))
			}
			if _, err := e.st.GetSession(t.Context(), "sess-bob", e.clock.Now()); err != nil {
				t.Errorf("after the refused form bob's session is gone: %v", err)
			}
		})
	}
	if _, err := e.verify(a.str("access_token")); err != nil {
		t.Errorf("after the refused forms alice's access token fails: %v", err)
	}
}
