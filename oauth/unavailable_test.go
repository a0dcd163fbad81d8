package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// downStore is a store whose server can be made unreachable: while down, the calls the
// token and registration endpoints make fail as the Redis and PostgreSQL backends fail
// when their server does not answer.
type downStore struct {
	store.Store
	down atomic.Bool
}

// err is the error of a call while the store is down, nil otherwise.
func (s *downStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("%w: redis: dial tcp 127.0.0.1:6379: connect: connection refused", store.ErrUnavailable)
	}
	return nil
}

func (s *downStore) CountClients(ctx context.Context) (int, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.CountClients(ctx)
}

func (s *downStore) UseAuthCode(ctx context.Context, h string, now time.Time) (store.AuthCode, error) {
	if err := s.err(); err != nil {
		return store.AuthCode{}, err
	}
	return s.Store.UseAuthCode(ctx, h, now)
}

func (s *downStore) GetRefreshToken(ctx context.Context, h string) (store.RefreshToken, error) {
	if err := s.err(); err != nil {
		return store.RefreshToken{}, err
	}
	return s.Store.GetRefreshToken(ctx, h)
}

func (s *downStore) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.SigningKeys(ctx)
}

func (s *downStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// TestStoreUnavailable: with the store unreachable, the token and registration
// endpoints answer 503 temporarily_unavailable, never 500 nor 401/400 as if the
// client's credential had failed.
func TestStoreUnavailable(t *testing.T) {
	var ds *downStore
	e := newFlowEnv(t, func(c *Config) {
		ds = &downStore{Store: c.Store}
		c.Store = ds
	})
	ds.down.Store(true)
	tests := []struct {
		name, path string
		form       url.Values
		body       string
	}{
		{name: "authorization_code", path: "/token", form: url.Values{"grant_type": {"authorization_code"}, "code": {"some-code"},
			"client_id": {pubClient}, "redirect_uri": {"http://127.0.0.1/callback"}, "code_verifier": {strings.Repeat("v", 43)}}},
		{name: "refresh_token", path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"some-token"}, "client_id": {pubClient}}},
		{name: "revoke", path: "/revoke", form: url.Values{"token": {"some-token"}, "token_type_hint": {"refresh_token"}, "client_id": {pubClient}}},
		{name: "register", path: "/register", body: `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"App"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var err error
			if tt.form != nil {
				resp, err = http.PostForm(e.srv.URL+tt.path, tt.form)
			} else {
				resp, err = http.Post(e.srv.URL+tt.path, "application/json", strings.NewReader(tt.body))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusServiceUnavailable || body.Error != codeTemporarilyUnavailable {
				t.Errorf("POST %s with the store down = %d %q, want 503 %q", tt.path, resp.StatusCode, body.Error, codeTemporarilyUnavailable)
			}
			if got := resp.Header.Get("Retry-After"); got != RetryAfterUnavailable {
				t.Errorf("POST %s with the store down: Retry-After %q, want %q", tt.path, got, RetryAfterUnavailable)
			}
		})
	}
}
