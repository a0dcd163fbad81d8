package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/auth/authtest"
	"github.com/mcpguard/mcpguard/store"
)

// flakyStore is a store whose Ping fails while down is set, as a networked store's does
// while its server is away.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (s *flakyStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errors.New("store: unavailable: redis: connection refused")
	}
	return s.Store.Ping(ctx)
}

// TestWatchStore: each change of the store's reachability is one log line and one
// change of mcpguard_store_up, however many pings see the same state.
func TestWatchStore(t *testing.T) {
	mem, err := store.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	st := &flakyStore{Store: mem}
	var logs syncBuffer
	up := newMetrics().newStoreUp()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { watchStore(ctx, st, 5*time.Millisecond, up, zerolog.New(&logs)); close(done) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
			}
		}
	}
	waitFor("mcpguard_store_up 1", func() bool { return testutil.ToFloat64(up) == 1 })
	st.down.Store(true)
	waitFor("mcpguard_store_up 0", func() bool { return testutil.ToFloat64(up) == 0 })
	time.Sleep(50 * time.Millisecond) // several failed pings
	st.down.Store(false)
	waitFor("mcpguard_store_up 1 again", func() bool { return testutil.ToFloat64(up) == 1 })
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	out := logs.String()
	if n := strings.Count(out, "store unreachable"); n != 1 {
		t.Errorf("%d lines say the store is unreachable, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "store reachable again"); n != 1 {
		t.Errorf("%d lines say the store is back, want 1:\n%s", n, out)
	}
}

// TestRunStoreUnreachable: with STORE naming a Redis nothing listens for yet, mcpguard
// starts and listens: /healthz 200, /readyz 503, the authorization server's endpoints
// 503 with Retry-After, a bearer JWT of its issuer 503 at /auth (its key cannot be
// looked up: no verdict, never 401), mcpguard_store_up 0, and one log line however
// many attempts fail. Cancelled meanwhile, it stops cleanly.
func TestRunStoreUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := ln.Addr().String()
	ln.Close() // nothing listens there now
	env := localUsersEnv(t)
	env["STORE"] = "redis://" + redisAddr + "/0?dial_timeout=1s"
	env["ISSUER_URL"] = "https://auth.example.com"
	env["RESOURCE_URL"] = "https://mcp.example.com/mcp"
	began := time.Now()
	base, _, stderr := startRun(t, env)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("listening took %v with the store down, want a prompt start", took)
	}
	get := func(method, path, body string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "auth.example.com"
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(raw)))
		return resp
	}
	if resp := get("GET", "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with the store down = %d, want 200", resp.StatusCode)
	}
	resp := get("GET", "/readyz", "")
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(raw), "unavailable") {
		t.Errorf("/readyz with the store down = %d %s, want 503 naming the store", resp.StatusCode, raw)
	}
	form := "Content-Type"
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/.well-known/oauth-authorization-server", ""},
		{"GET", "/jwks", ""},
		{"POST", "/token", "grant_type=client_credentials"},
		{"POST", "/register", `{"redirect_uris":["http://127.0.0.1/cb"]}`},
	} {
		resp := get(tt.method, tt.path, tt.body, form, "application/x-www-form-urlencoded")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the store down = %d, Retry-After %q; want 503 with Retry-After", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// A JWT of mcpguard's issuer with a kid it has not loaded: the keys cannot be read.
	jwt := authtest.NewIssuer(t).Token(t, map[string]any{"iss": "https://auth.example.com", "sub": "alice",
		"aud": "https://mcp.example.com/mcp", "jti": "j1", "fam": "f1", "client_id": "c1"},
		authtest.WithAlg("ES256"), authtest.WithType("at+jwt"))
	resp = get("GET", "/auth", "", "X-Forwarded-Method", "POST", "X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "mcp.example.com", "X-Forwarded-Uri", "/mcp", "Authorization", "Bearer "+auth.PrefixAccessToken+jwt)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/auth with a JWT of the issuer, the store down = %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	metrics := get("GET", "/metrics", "")
	raw, _ = io.ReadAll(metrics.Body)
	if !strings.Contains(string(raw), "\nmcpguard_store_up 0\n") {
		t.Errorf("/metrics with the store down has no mcpguard_store_up 0")
	}
	time.Sleep(storeRetryMax) // attempts at 0.1, 0.3, 0.7 and 1.5 s
	if n := strings.Count(stderr.String(), "store unreachable at start-up"); n != 1 {
		t.Errorf("%d log lines say the store is unreachable, want 1:\n%s", n, stderr)
	}
	if strings.Contains(stderr.String(), jwt) {
		t.Errorf("the log holds the bearer token")
	}
}
