package auth

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// authenticator is what the wire tests serve; cmd/mcpguard declares the same.
type authenticator interface {
	Authenticate(r *Request) (Principal, error)
}

// serveAuth starts a real HTTP server that authenticates each request with a and answers
// "ok <subject>", "none" or "invalid" in the body.
func serveAuth(tb testing.TB, a authenticator) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(&Request{Header: r.Header})
		switch {
		case err == nil:
			io.WriteString(w, "ok "+p.Subject)
		case errors.Is(err, ErrNoCredentials):
			io.WriteString(w, "none")
		case errors.Is(err, ErrInvalidCredential):
			io.WriteString(w, "invalid")
		default:
			http.Error(w, "internal", http.StatusInternalServerError)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// rawRequest writes a GET request for target with the given header lines byte for byte
// over a TCP connection (Go's client would canonicalize or refuse some of them) and
// returns the response body.
func rawRequest(tb testing.TB, srv *httptest.Server, target string, lines ...string) string {
	tb.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: mcp.example.com\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		tb.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return string(body)
}

func TestAPIKeysOverTheWire(t *testing.T) {
	srv := serveAuth(t, newTestAPIKeys(t, ""))
	custom := serveAuth(t, newTestAPIKeys(t, "X-Mcp-Token"))
	tests := []struct {
		name   string
		srv    *httptest.Server
		target string
		lines  []string
		want   string
	}{
		{"canonical", srv, "/", []string{"X-API-Key: " + testSingleKey}, "ok api-key"},
		{"lower case", srv, "/", []string{"x-api-key: " + testSingleKey}, "ok api-key"},
		{"upper case", srv, "/", []string{"X-API-KEY: " + testSingleKey}, "ok api-key"},
		{"mixed case", srv, "/", []string{"x-Api-kEY: " + testCIKey}, "ok ci"},
		{"surrounding whitespace", srv, "/", []string{"X-Api-Key: \t " + testSingleKey + " \t"}, "ok api-key"},
		{"underscore variant", srv, "/", []string{"X_API_Key: " + testSingleKey}, "none"},
		{"lower underscore variant", srv, "/", []string{"x_api_key: " + testSingleKey}, "none"},
		{"dot variant", srv, "/", []string{"X.Api.Key: " + testSingleKey}, "none"},
		{"no dashes", srv, "/", []string{"XApiKey: " + testSingleKey}, "none"},
		{"duplicated header", srv, "/", []string{"X-Api-Key: " + testSingleKey, "X-Api-Key: " + testSingleKey}, "invalid"},
		{"duplicated in two cases", srv, "/", []string{"X-Api-Key: " + testSingleKey, "x-api-key: " + testCIKey}, "invalid"},
		{"empty value", srv, "/", []string{"X-Api-Key:"}, "invalid"},
		{"wrong key", srv, "/", []string{"X-Api-Key: wrong-key-0123456789"}, "invalid"},
		{"bearer", srv, "/", []string{"authorization: bearer " + testCIKey}, "ok ci"},
		{"bearer JWT", srv, "/", []string{"Authorization: Bearer " + testJWT}, "none"},
		{"query api_key", srv, "/mcp?api_key=" + testSingleKey, nil, "none"},
		{"query access_token", srv, "/mcp?access_token=" + testSingleKey, nil, "none"},
		{"query X-API-Key", srv, "/mcp?X-API-Key=" + testSingleKey + "&x-api-key=" + testSingleKey, nil, "none"},
		{"custom header lower case", custom, "/", []string{"x-mcp-token: " + testCIKey}, "ok ci"},
		{"custom header underscore", custom, "/", []string{"X_Mcp_Token: " + testCIKey}, "none"},
		{"custom header ignores default", custom, "/", []string{"X-Api-Key: " + testCIKey}, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rawRequest(t, tt.srv, tt.target, tt.lines...); got != tt.want {
				t.Errorf("GET %s with %q = %q, want %q", tt.target, tt.lines, got, tt.want)
			}
		})
	}
}

// TestAPIKeysGoClient sends a header set under a non-canonical name through Go's own
// client and server, the path a real request takes.
func TestAPIKeysGoClient(t *testing.T) {
	srv := serveAuth(t, newTestAPIKeys(t, ""))
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"lower case", "x-api-key", "ok ci"},
		{"upper case", "X-API-KEY", "ok ci"},
		{"underscore", "x_api_key", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header[tt.header] = []string{testCIKey} // raw key: sent as written
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := string(body); got != tt.want {
				t.Errorf("GET with %s = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
