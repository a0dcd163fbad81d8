package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// testClock is a settable clock for Config.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// clientsServer is the client registry and the metadata of a server, without the rest
// (the flow needs its own configuration).
type clientsServer struct {
	*registry
	meta *discovery
}

// routes adds the metadata and registration endpoints to mux.
func (s *clientsServer) routes(mux *http.ServeMux) {
	s.meta.routes(mux)
	s.registry.routes(mux)
}

// buildClients builds the clientsServer of cfg as New does.
func buildClients(cfg Config) (*clientsServer, error) {
	iss, err := parseIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	scopes, err := newScopeSet(cfg.AllowedScopes)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	meta, err := newDiscovery(iss, scopes, offers{})
	if err != nil {
		return nil, err
	}
	reg, err := newRegistry(cfg, iss, scopes, now)
	if err != nil {
		return nil, err
	}
	return &clientsServer{registry: reg, meta: meta}, nil
}

// newClientsServer builds a clientsServer on a memory store sharing Config.Now unless
// configure sets a store.
func newClientsServer(t testing.TB, configure func(*Config)) *clientsServer {
	t.Helper()
	cfg := Config{
		Issuer:        "https://auth.example.com",
		Resources:     []string{"https://mcp.example.com/mcp"},
		AllowedScopes: []string{"mcp:read", "mcp:write"},
	}
	if configure != nil {
		configure(&cfg)
	}
	if cfg.Store == nil {
		st, err := store.New(store.Config{DSN: "memory://", Now: cfg.Now}) // the store's clock is the server's
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.Store = st
	}
	s, err := buildClients(cfg)
	if err != nil {
		t.Fatalf("buildClients: %v", err)
	}
	return s
}

// countingTransport counts requests and fails them all.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("countingTransport: no network in this test")
}

func TestInitClientsErrors(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Config)
		want      string
	}{
		{"duplicate static id", func(c *Config) {
			c.Clients = []StaticClient{
				{ID: "a", RedirectURIs: []string{"https://a.example/cb"}},
				{ID: "a", RedirectURIs: []string{"https://b.example/cb"}},
			}
		}, "configured twice"},
		{"empty static id", func(c *Config) {
			c.Clients = []StaticClient{{RedirectURIs: []string{"https://a.example/cb"}}}
		}, "client_id"},
		{"static id with spaces", func(c *Config) {
			c.Clients = []StaticClient{{ID: " a", RedirectURIs: []string{"https://a.example/cb"}}}
		}, "client_id"},
		{"static without redirect", func(c *Config) { c.Clients = []StaticClient{{ID: "a"}} }, "redirect URI"},
		{"static bad redirect", func(c *Config) {
			c.Clients = []StaticClient{{ID: "a", RedirectURIs: []string{"http://a.example/cb"}}}
		}, "loopback"},
		{"static name with control", func(c *Config) {
			c.Clients = []StaticClient{{ID: "a", Name: "a\x1b[31m", RedirectURIs: []string{"https://a.example/cb"}}}
		}, "client_name"},
		{"negative ttl", func(c *Config) { c.RegistrationTTL = -time.Second }, "negative"},
		{"negative rate", func(c *Config) { c.RegistrationsPerMinute = -1 }, "negative"},
		{"bad CIMD domain", func(c *Config) { c.CIMDAllowedDomains = []string{"https://a.example"} }, "not a host name"},
		{"empty CIMD domain", func(c *Config) { c.CIMDAllowedDomains = []string{" "} }, "not a host name"},
		{"scope with space", func(c *Config) { c.AllowedScopes = []string{"a b"} }, "scope"},
		{"issuer path with braces", func(c *Config) { c.Issuer = "https://auth.example.com/{x}" }, "braces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := store.Open("memory://")
			defer st.Close()
			cfg := Config{Issuer: "https://auth.example.com", Store: st, Resources: []string{"https://mcp.example.com/mcp"}}
			tt.configure(&cfg)
			_, err := buildClients(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("buildClients() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestStaticClients(t *testing.T) {
	s := newClientsServer(t, func(c *Config) {
		c.Clients = []StaticClient{
			{ID: "inspector", RedirectURIs: []string{"http://localhost:6274/oauth/callback"}},
			{ID: "backend", Name: "Back end", Secret: "s3cret-s3cret-s3cret", RedirectURIs: []string{"https://app.example/cb"}},
			{ID: "https://static.example/client.json", RedirectURIs: []string{"https://static.example/cb"}},
		}
	})
	tests := []struct {
		id, name, method, secretHash, appType string
	}{
		{"inspector", "inspector", "none", "", "native"},
		{"backend", "Back end", "client_secret_basic", clientSecretHash("s3cret-s3cret-s3cret"), "web"},
		{"https://static.example/client.json", "https://static.example/client.json", "none", "", "web"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			c, err := s.lookup(context.Background(), tt.id)
			if err != nil {
				t.Fatalf("client(%q) = %v", tt.id, err)
			}
			if c.ID != tt.id || c.Kind != "static" || c.Name != tt.name || c.TokenEndpointAuthMethod != tt.method || c.SecretHash != tt.secretHash || c.ApplicationType != tt.appType {
				t.Errorf("client(%q) = %+v, want name %q, method %q, secret hash %q, application type %q", tt.id, c, tt.name, tt.method, tt.secretHash, tt.appType)
			}
			if !strings.Contains(strings.Join(c.GrantTypes, " "), "refresh_token") {
				t.Errorf("client(%q).GrantTypes = %v, want refresh_token allowed", tt.id, c.GrantTypes)
			}
		})
	}
	// A returned client is a copy.
	c, _ := s.lookup(context.Background(), "inspector")
	c.RedirectURIs[0] = "https://evil.example/cb"
	if c2, _ := s.lookup(context.Background(), "inspector"); c2.RedirectURIs[0] != "http://localhost:6274/oauth/callback" {
		t.Errorf("changing a returned client changed the configured one: %v", c2.RedirectURIs)
	}
}

func TestClientUnknown(t *testing.T) {
	tr := &countingTransport{}
	s := newClientsServer(t, func(c *Config) { c.CIMDHTTPClient = &http.Client{Transport: tr} })
	for _, id := range []string{
		"",
		"mcpg-doesnotexist",
		"evil.example/client.json",
		"http://evil.example/client.json", // plain http is never fetched outside tests
		"HTTPS://evil.example/client.json",
		"ftp://evil.example/client.json",
		" https://evil.example/client.json",
		"https://evil.example",    // no path
		"https://evil.example/",   // root path
		"https://10.0.0.1/c.json", // private address literal
		"https://[::1]/c.json",
		"https://169.254.169.254/latest/meta-data/",
		"https://evil.example/a/../c.json",
		"https://evil.example/c.json#x",
		"https://user@evil.example/c.json",
		"https://evil.example/" + strings.Repeat("a", 2048),
	} {
		t.Run(id, func(t *testing.T) {
			_, err := s.lookup(context.Background(), id)
			if !errors.Is(err, ErrUnknownClient) {
				t.Errorf("client(%q) = %v, want ErrUnknownClient", id, err)
			}
		})
	}
	if n := tr.n.Load(); n != 0 {
		t.Errorf("%d fetches for ids that are not fetchable CIMD URLs, want 0", n)
	}
}

func TestClientStoreError(t *testing.T) {
	s := newClientsServer(t, nil)
	s.store.Close()
	_, err := s.lookup(context.Background(), "mcpg-x")
	if err == nil || errors.Is(err, ErrUnknownClient) {
		t.Errorf("client() on a closed store = %v, want a store error that is not ErrUnknownClient", err)
	}
}

func TestTouchClientIgnoresOtherKinds(t *testing.T) {
	s := newClientsServer(t, nil)
	// Neither panics nor creates anything.
	s.touch(context.Background(), store.Client{ID: "static", Kind: "static"})
	s.touch(context.Background(), store.Client{ID: "https://a.example/c.json", Kind: "cimd"})
	s.touch(context.Background(), store.Client{ID: "mcpg-gone", Kind: "dcr"})
	if n, _ := s.store.CountClients(context.Background()); n != 0 {
		t.Errorf("CountClients() = %d after touching unknown clients, want 0", n)
	}
}
