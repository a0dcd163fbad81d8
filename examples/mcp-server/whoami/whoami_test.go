package whoami_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// headerTransport sends every request with host as Host and the fields of set added,
// as a proxy in front of the server would.
type headerTransport struct {
	host string
	set  http.Header
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	for name, values := range h.set {
		r.Header[name] = values
	}
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP session with the official SDK client.
func connect(t *testing.T, url string, tr http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "whoami-test", Version: "1"}, nil)
	s, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           &http.Client{Transport: tr},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	if err != nil {
		t.Fatalf("Connect(%s) = %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// structured decodes a tool result's structured content into out.
func structured(t *testing.T, res *mcp.CallToolResult, out any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool result is an error: %+v", res.Content)
	}
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("structured content %s: %v", data, err)
	}
}

func TestWhoamiReportsIdentityHeaders(t *testing.T) {
	srv := httptest.NewServer(whoami.Handler(whoami.Options{AllowedHosts: []string{"mcp.example.com"}}))
	defer srv.Close()
	set := http.Header{
		"X-Forwarded-User":   {"alice@example.com"},
		"X-Forwarded-Email":  {"alice@example.com"},
		"X-Forwarded-Groups": {"eng,ops"},
		"X-Forwarded-Scopes": {"mcp:read mcp:write"},
		"X-Auth-Source":      {"oauth"},
		"X-Auth-Client-Id":   {"client-1"},
		"Authorization":      {"Bearer secret-token-value"},
	}
	s := connect(t, srv.URL+whoami.Path, headerTransport{host: "MCP.example.com:8443", set: set})

	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("CallTool(whoami) = %v", err)
	}
	var got whoami.Identity
	structured(t, res, &got)
	want := whoami.Identity{
		User: "alice@example.com", Email: "alice@example.com", Groups: "eng,ops",
		Scopes: "mcp:read mcp:write", AuthSource: "oauth", ClientID: "client-1", Authorization: true,
	}
	if got != want {
		t.Errorf("whoami = %+v, want %+v", got, want)
	}
	for _, c := range res.Content {
		if text, ok := c.(*mcp.TextContent); ok && strings.Contains(text.Text, "secret-token-value") {
			t.Errorf("whoami text content shows the Authorization value: %s", text.Text)
		}
	}

	res, err = s.CallTool(t.Context(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "héllo"}})
	if err != nil {
		t.Fatalf("CallTool(echo) = %v", err)
	}
	var echo whoami.EchoOutput
	structured(t, res, &echo)
	if echo.Text != "héllo" {
		t.Errorf("echo = %q, want %q", echo.Text, "héllo")
	}
}

func TestWhoamiWithoutHeaders(t *testing.T) {
	srv := httptest.NewServer(whoami.Handler(whoami.Options{}))
	defer srv.Close()
	s := connect(t, srv.URL+whoami.Path, http.DefaultTransport)
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("CallTool(whoami) = %v", err)
	}
	var got whoami.Identity
	structured(t, res, &got)
	if got != (whoami.Identity{}) {
		t.Errorf("whoami = %+v, want the zero Identity", got)
	}
}

func TestFromHeaderDuplicates(t *testing.T) {
	h := http.Header{"X-Forwarded-User": {"proxy@example.com", "smuggled@example.com"}}
	if got, want := whoami.FromHeader(h).User, "proxy@example.com; smuggled@example.com"; got != want {
		t.Errorf("FromHeader(%v).User = %q, want %q", h, got, want)
	}
}

func TestHostChecks(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		host    string
		want    int
	}{
		{"allowed host", []string{"mcp.example.com"}, "mcp.example.com", http.StatusOK},
		{"allowed host with port and trailing dot", []string{"mcp.example.com"}, "mcp.example.com.:443", http.StatusOK},
		{"other host", []string{"mcp.example.com"}, "evil.example.com", http.StatusForbidden},
		{"localhost not listed", []string{"mcp.example.com"}, "localhost", http.StatusForbidden},
		// Without a list the SDK's DNS-rebinding protection applies on loopback.
		{"sdk default, localhost", nil, "localhost", http.StatusOK},
		{"sdk default, public name", nil, "mcp.example.com", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(whoami.Handler(whoami.Options{AllowedHosts: tt.allowed}))
			defer srv.Close()
			if got := postInitialize(t, srv.URL, tt.host, nil); got != tt.want {
				t.Errorf("POST %s with Host %q = %d, want %d", whoami.Path, tt.host, got, tt.want)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	srv := httptest.NewServer(whoami.Handler(whoami.Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
}

func TestCORSPreflight(t *testing.T) {
	h := whoami.Handler(whoami.Options{})
	r := httptest.NewRequest(http.MethodOptions, whoami.Path, nil)
	r.Header.Set("Origin", "http://localhost:6274")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") {
		t.Fatalf("preflight = %d %v", w.Code, w.Header())
	}
	// Without an Origin, OPTIONS is the SDK's business, not a preflight.
	r = httptest.NewRequest(http.MethodOptions, whoami.Path, nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("non-CORS OPTIONS got CORS headers: %v", w.Header())
	}
}

// postInitialize POSTs an MCP initialize request with host as Host and the fields of h
// to the server at base, and returns the status.
func postInitialize(t *testing.T, base, host string, h http.Header) int {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, base+whoami.Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for name, values := range h {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
