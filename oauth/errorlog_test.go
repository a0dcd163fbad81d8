package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpguard/mcpguard/oauth/oauthtest"
	"github.com/mcpguard/mcpguard/store"
)

// logBuffer collects log lines written by concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// errorLines returns the error-answer lines logged so far.
func (b *logBuffer) errorLines(t testing.TB) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["message"] == "authorization server error" {
			lines = append(lines, m)
		}
	}
	return lines
}

// logLine is what a test expects of an error answer's log line; an empty cause checks
// nothing of the cause.
type logLine struct {
	level, endpoint, code, clientID string
	status                          int
	cause                           []string // substrings of the cause
}

// checkLog checks that the last error line logged is want, and that no secret appears
// anywhere in the log.
func checkLog(t testing.TB, logs *logBuffer, want logLine, secrets ...string) {
	t.Helper()
	lines := logs.errorLines(t)
	if len(lines) == 0 {
		t.Fatalf("no error line logged; log:\n%s", logs)
	}
	got := lines[len(lines)-1]
	for k, v := range map[string]string{"level": want.level, "endpoint": want.endpoint, "error": want.code, "client_id": want.clientID} {
		if g, _ := got[k].(string); g != v {
			t.Errorf("log %s = %q, want %q (line %v)", k, g, v, got)
		}
	}
	if g, _ := got["status"].(float64); int(g) != want.status {
		t.Errorf("log status = %v, want %d", got["status"], want.status)
	}
	cause, _ := got["cause"].(string)
	for _, c := range want.cause {
		if !strings.Contains(cause, c) {
			t.Errorf("log cause = %q, want it to contain %q", cause, c)
		}
	}
	all := logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("the log contains the secret %q:\n%s", s, all)
		}
	}
}

// cookieValues are the values of the browser's cookies, which the log must not carry.
func (e *flowEnv) cookieValues() []string {
	var vs []string
	for _, c := range e.browser.Jar.Cookies(parseURL(e.t, e.srv.URL)) {
		vs = append(vs, c.Value)
	}
	return vs
}

// upstreamStart follows /authorize to the provider and returns the provider's redirect
// back to /callback, not yet followed, and the code in it.
func (e *flowEnv) upstreamStart(idp *oauthtest.Provider) (*url.URL, string) {
	e.t.Helper()
	u := redirectOf(e.t, e.authorize(authParams()))
	back := redirectOf(e.t, e.get(u.String()))
	if !strings.HasPrefix(back.String(), e.srv.URL+"/callback?") || back.Query().Get("code") == "" {
		e.t.Fatalf("provider redirects to %s, want /callback with a code", back)
	}
	return back, back.Query().Get("code")
}

// upstreamSecrets are the values of an upstream login the log must never carry.
func upstreamSecrets(e *flowEnv, code string) []string {
	return append(e.cookieValues(), code, upstreamClientSecret, oauthtest.UpstreamAccessToken,
		"upstream-refresh-token-never-forwarded", "eyJ") // eyJ: the start of any JWT, such as the ID token
}

// TestErrorLogUpstreamClientRejected: the upstream provider refuses mcpguard's client
// secret. The user sees a 502 page; the operator an error line that says so.
func TestErrorLogUpstreamClientRejected(t *testing.T) {
	const wrongSecret = "not-the-idp-secret-4242"
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, func(c *Config) { c.UpstreamClientSecret = wrongSecret })
	back, code := e.upstreamStart(idp)
	resp := e.get(back.String())
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(page, "invalid_client") {
		t.Errorf("callback = %d %q, want a 502 page that does not show the cause", resp.StatusCode, page)
	}
	checkLog(t, e.logs, logLine{
		level: "error", endpoint: "/callback", status: http.StatusBadGateway, code: "server_error", clientID: pubClient,
		cause: []string{"upstream: token exchange", "401 Unauthorized", "invalid_client"},
	}, append(upstreamSecrets(e, code), wrongSecret)...)
}

// TestErrorLogUpstreamUnreachable: the provider goes down between the login and the
// code exchange.
func TestErrorLogUpstreamUnreachable(t *testing.T) {
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, nil)
	back, code := e.upstreamStart(idp)
	idp.Close()
	resp := e.get(back.String())
	readBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("callback = %d, want 502", resp.StatusCode)
	}
	checkLog(t, e.logs, logLine{
		level: "error", endpoint: "/callback", status: http.StatusBadGateway, code: "server_error", clientID: pubClient,
		cause: []string{"upstream: token exchange", idp.URL() + "/token", "dial tcp"},
	}, upstreamSecrets(e, code)...)
}

// TestErrorLogIDTokenInvalid: the ID token does not verify (here it expired: mcpguard's
// clock is two hours ahead of the provider's).
func TestErrorLogIDTokenInvalid(t *testing.T) {
	e, idp := newUpstreamEnv(t, "oidc", alicePlatform, nil)
	back, code := e.upstreamStart(idp)
	e.clock.Advance(2 * time.Hour)
	resp := e.get(back.String())
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("callback = %d, want 403", resp.StatusCode)
	}
	checkLog(t, e.logs, logLine{
		level: "error", endpoint: "/callback", status: http.StatusForbidden, code: "access_denied", clientID: pubClient,
		cause: []string{"upstream: ID token verification", "expired"},
	}, upstreamSecrets(e, code)...)
}

// brokenStore fails the one method named by fail.
type brokenStore struct {
	store.Store
	fail string
}

var errDiskOnFire = errors.New("disk on fire")

func (s brokenStore) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (store.AuthCode, error) {
	if s.fail == "UseAuthCode" {
		return store.AuthCode{}, errDiskOnFire
	}
	return s.Store.UseAuthCode(ctx, codeHash, now)
}

func (s brokenStore) CreateClient(ctx context.Context, c store.Client) error {
	if s.fail == "CreateClient" {
		return errDiskOnFire
	}
	return s.Store.CreateClient(ctx, c)
}

func TestErrorLogStoreToken(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) { c.Store = brokenStore{Store: c.Store, fail: "UseAuthCode"} })
	code := e.code(authParams())
	if a := e.exchange(code); a.status != http.StatusInternalServerError || a.str("error") != "server_error" || strings.Contains(fmt.Sprint(a.body), "disk") {
		t.Errorf("token = %d %v, want 500 server_error without the cause", a.status, a.body)
	}
	checkLog(t, e.logs, logLine{
		level: "error", endpoint: "/token", status: http.StatusInternalServerError, code: "server_error", clientID: pubClient,
		cause: []string{"store: UseAuthCode: disk on fire"},
	}, append(e.cookieValues(), code, flowVerifier)...)
}

func TestErrorLogStoreRegister(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) { c.Store = brokenStore{Store: c.Store, fail: "CreateClient"} })
	resp, err := http.Post(e.srv.URL+"/register", "application/json", strings.NewReader(
		`{"client_name":"Agent","redirect_uris":["https://agent.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "disk") {
		t.Errorf("register = %d %s, want 500 without the cause", resp.StatusCode, body)
	}
	lines := e.logs.errorLines(t)
	if len(lines) != 1 {
		t.Fatalf("%d error lines, want 1", len(lines))
	}
	id, _ := lines[0]["client_id"].(string)
	if !strings.HasPrefix(id, clientIDPrefix) {
		t.Errorf("log client_id = %q, want the id the registration was to get", id)
	}
	checkLog(t, e.logs, logLine{
		level: "error", endpoint: "/register", status: http.StatusInternalServerError, code: "server_error", clientID: id,
		cause: []string{"store: CreateClient: disk on fire"},
	})
	if strings.Contains(e.logs.String(), "client_secret\":") {
		t.Errorf("the log has a client_secret field: %s", e.logs)
	}
}

// TestErrorLogClientMistakes: a client's own mistakes at /token are logged below error,
// with what was wrong and none of the values it sent.
func TestErrorLogClientMistakes(t *testing.T) {
	const wrongSecret = "wrong-conf-secret-0123456789"
	const otherVerifier = "0123456789012345678901234567890123456789abc"
	tests := []struct {
		name   string
		answer func(e *flowEnv, code string) tokenAnswer
		want   logLine
	}{
		{"wrong code_verifier", func(e *flowEnv, code string) tokenAnswer {
			return e.postToken("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {pubClient},
				"redirect_uri": {pubRedirect}, "code_verifier": {otherVerifier}})
		}, logLine{level: "info", endpoint: "/token", status: 400, code: "invalid_grant", clientID: pubClient}},
		{"wrong client secret", func(e *flowEnv, code string) tokenAnswer {
			return e.postToken("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {confRedirect}, "code_verifier": {flowVerifier}}, confClient, wrongSecret)
		}, logLine{level: "warn", endpoint: "/token", status: 401, code: "invalid_client", clientID: confClient, cause: []string{"secret does not match"}}},
		{"unsupported grant", func(e *flowEnv, code string) tokenAnswer {
			return e.postToken("/token", url.Values{"grant_type": {"password"}, "client_id": {pubClient}, "password": {alicePassword}})
		}, logLine{level: "info", endpoint: "/token", status: 400, code: "unsupported_grant_type", clientID: pubClient}},
		{"replayed code", func(e *flowEnv, code string) tokenAnswer {
			if a := e.exchange(code); a.status != http.StatusOK {
				t.Fatalf("first exchange = %d %v", a.status, a.body)
			}
			return e.exchange(code)
		}, logLine{level: "warn", endpoint: "/token", status: 400, code: "invalid_grant", clientID: pubClient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t, nil)
			code := e.code(authParams())
			if a := tt.answer(e, code); a.status != tt.want.status || a.str("error") != tt.want.code {
				t.Fatalf("token = %d %v, want %d %s", a.status, a.body, tt.want.status, tt.want.code)
			}
			checkLog(t, e.logs, tt.want, append(e.cookieValues(), code, flowVerifier, otherVerifier, wrongSecret, confSecret, alicePassword)...)
		})
	}
}

// TestErrorLogAuthorizeRedirect: an error sent back to the client is logged at info.
func TestErrorLogAuthorizeRedirect(t *testing.T) {
	e := newFlowEnv(t, nil)
	q := authParams()
	q.Set("scope", "admin")
	if u := redirectOf(t, e.authorize(q)); u.Query().Get("error") != "invalid_scope" {
		t.Fatalf("redirect %s, want error=invalid_scope", u)
	}
	checkLog(t, e.logs, logLine{level: "info", endpoint: "/authorize", status: http.StatusFound, code: "invalid_scope", clientID: pubClient}, flowChallenge)
}

// TestUpstreamCause: what an upstream failure may carry is cut out of its cause.
func TestUpstreamCause(t *testing.T) {
	const code, verifier, secret = "the-upstream-code", "the-pkce-verifier", "the-client-secret"
	retrieve := &oauth2.RetrieveError{
		Response:         &http.Response{Status: "400 Bad Request", StatusCode: 400},
		Body:             []byte(`{"error":"invalid_grant","access_token":"leaked-token"}`),
		ErrorCode:        "invalid_grant",
		ErrorDescription: "code the-upstream-code was already used by the-client-secret",
	}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"retrieve error", retrieve, []string{"400 Bad Request invalid_grant", "code [redacted] was already used"}},
		{"url error", &url.Error{Op: "Post", URL: "https://user:pw@idp.example/token?code=the-upstream-code#frag", Err: errors.New("dial tcp: connection refused")},
			[]string{`Post "https://idp.example/token?redacted": dial tcp: connection refused`}},
		{"other", fmt.Errorf("wrapped: %w", errors.New("bad the-pkce-verifier")), []string{"wrapped: bad [redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := upstreamCause("token exchange", tt.err, code, verifier, secret).Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("upstreamCause = %q, want it to contain %q", got, w)
				}
			}
			for _, s := range []string{code, verifier, secret, "leaked-token", "user:pw", "frag"} {
				if strings.Contains(got, s) {
					t.Errorf("upstreamCause = %q, contains %q", got, s)
				}
			}
		})
	}
}
