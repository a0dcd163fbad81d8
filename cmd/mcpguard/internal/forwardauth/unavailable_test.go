package forwardauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
)

// failingAuth is an authenticator that finds its credential and then fails with err, as
// OwnTokens does when the store it asks about a first-seen token fails.
type failingAuth struct{ err error }

func (f failingAuth) Authenticate(*auth.Request) (auth.Principal, error) {
	return auth.Principal{}, f.err
}

// TestStoreUnavailableAtAuth: a credential whose check could not reach the store is
// 503 temporarily_unavailable (never 401: an outage must not look like everybody's
// credential failing); any other internal fault stays 500, a bad credential 401.
func TestStoreUnavailableAtAuth(t *testing.T) {
	p, err := policy.New(policy.Config{Resources: []policy.ResourceConfig{{URL: "https://mcp.example.com/mcp"},
		{URL: "https://mcp.example.com/app", Credentials: []policy.Source{policy.SourceSession}}}})
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Errorf("auth: own access token revocation check: %w",
		fmt.Errorf("%w: redis: dial tcp 127.0.0.1:6379: connect: connection refused", store.ErrUnavailable))
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantErr  string
	}{
		{name: "store unavailable", err: down, wantCode: http.StatusServiceUnavailable, wantErr: "temporarily_unavailable"},
		{name: "other fault", err: errors.New("auth: something broke"), wantCode: http.StatusInternalServerError, wantErr: "server_error"},
		{name: "invalid credential", err: fmt.Errorf("auth: bad signature: %w", auth.ErrInvalidCredential), wantCode: http.StatusUnauthorized, wantErr: "unauthorized"},
	}
	for _, kind := range []string{"bearer", "session"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				o := forwardauth.Options{
					Policy:         p,
					TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
					Log:            zerolog.Nop(),
				}
				r := fwd("POST", "/mcp", "Authorization", "Bearer some.jwt.token")
				if kind == "bearer" {
					o.Authenticators = []forwardauth.Authenticator{failingAuth{tt.err}}
				} else {
					// The browser session's record could not be read.
					o.Sessions = failingAuth{tt.err}
					r = fwd("GET", "/app/page", "Cookie", "mcpguard_session=sealed")
				}
				checkUnavailable(t, forwardauth.New(o), r, tt.err, tt.wantCode, tt.wantErr)
			})
		}
	}
}

// checkUnavailable fails t unless d answers r with wantCode and the JSON error wantErr,
// and Retry-After exactly on a 503.
func checkUnavailable(t *testing.T, d *forwardauth.Decider, r *http.Request, cause error, wantCode int, wantErr string) {
	t.Helper()
	w := httptest.NewRecorder()
	d.Handler("/auth", false).ServeHTTP(w, r)
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != wantCode || body.Error != wantErr {
		t.Errorf("/auth with %v = %d %q, want %d %q", cause, w.Code, body.Error, wantCode, wantErr)
	}
	if got, want := w.Header().Get("Retry-After") != "", wantCode == http.StatusServiceUnavailable; got != want {
		t.Errorf("/auth with %v: Retry-After %q, want one only on a 503", cause, w.Header().Get("Retry-After"))
	}
}
