package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/store"
)

// TestStartWhenStoreAnswers: a server built while its store cannot be reached is not
// started: every endpoint but the CORS preflights answers 503 temporarily_unavailable
// with Retry-After, and Ready fails. Once the store answers, Start loads (here:
// creates) the signing key and every endpoint serves.
func TestStartWhenStoreAnswers(t *testing.T) {
	var ds *downStore
	e := newFlowEnv(t, func(c *Config) {
		ds = &downStore{Store: c.Store}
		ds.down.Store(true)
		c.Store = ds
	})
	requests := []struct {
		name, method, path, body string
	}{
		{name: "metadata", method: http.MethodGet, path: "/.well-known/oauth-authorization-server"},
		{name: "jwks", method: http.MethodGet, path: "/jwks"},
		{name: "token", method: http.MethodPost, path: "/token", body: "grant_type=client_credentials"},
		{name: "register", method: http.MethodPost, path: "/register", body: `{"redirect_uris":["http://127.0.0.1/cb"]}`},
		{name: "authorize", method: http.MethodGet, path: "/authorize?" + authParams().Encode()},
	}
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, tt := range requests {
		resp := do(tt.method, tt.path, tt.body)
		var body errorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || body.Error != codeTemporarilyUnavailable {
			t.Errorf("%s %s before start = %d %q, want 503 %q", tt.method, tt.path, resp.StatusCode, body.Error, codeTemporarilyUnavailable)
		}
		if got := resp.Header.Get("Retry-After"); got != RetryAfterUnavailable {
			t.Errorf("%s %s before start: Retry-After %q, want %q", tt.method, tt.path, got, RetryAfterUnavailable)
		}
	}
	if resp := do(http.MethodOptions, "/token", ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("OPTIONS /token before start = %d, want 204", resp.StatusCode)
	}
	ctx := t.Context()
	if err := e.as.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ready() with the store down = %v, want ErrUnavailable", err)
	}
	if err := e.as.Start(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Start() with the store down = %v, want ErrUnavailable", err)
	}

	ds.down.Store(false)
	if err := e.as.Ready(ctx); !errors.Is(err, errNotStarted) {
		t.Errorf("Ready() with the store back, before Start = %v, want %v", err, errNotStarted)
	}
	if err := e.as.Start(ctx); err != nil {
		t.Fatalf("Start() with the store back = %v", err)
	}
	if err := e.as.Start(ctx); err != nil {
		t.Errorf("Start() again = %v, want nil", err)
	}
	if err := e.as.Ready(ctx); err != nil {
		t.Errorf("Ready() once started = %v", err)
	}
	if keys, _ := e.fetchJWKS(); len(keys.Keys) != 1 {
		t.Errorf("/jwks once started holds %d keys, want the 1 Start created", len(keys.Keys))
	}
	if resp := do(http.MethodGet, "/.well-known/oauth-authorization-server", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET the metadata once started = %d, want 200", resp.StatusCode)
	}
	if tok := e.tokens(); tok.status != http.StatusOK {
		t.Errorf("the code flow once started: /token = %d, want 200", tok.status)
	}
}

// brokenKeysStore answers with a stored signing key that cannot be read.
type brokenKeysStore struct{ store.Store }

func (brokenKeysStore) SigningKeys(context.Context) ([]store.SigningKey, error) {
	return []store.SigningKey{{ID: "k1", Algorithm: "RS256"}}, nil
}

// TestStartFails: an error of Start that is not the store's unavailability fails New.
func TestStartFails(t *testing.T) {
	e := newFlowEnv(t, nil)
	cfg := e.cfg
	cfg.Store = brokenKeysStore{cfg.Store}
	if _, err := New(t.Context(), cfg); err == nil || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "RS256") {
		t.Errorf("New() with an unreadable signing key = %v, want its error", err)
	}
}
