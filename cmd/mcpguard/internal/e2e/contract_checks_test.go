package e2e

// The contract checks every proxy shares: streaming, the proxy-identity mode, CORS, the challenge, the identity headers and what must never leak.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
)

// checkStreaming checks that the first event of an SSE response reaches the client
// while the MCP server still holds the stream open: a proxy that buffers responses would
// hold it back until the stream ends.
func checkStreaming(t *testing.T, p edgeProxy) {
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nAccept: application/json, text/event-stream\r\n"+
		"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", streamPath, mcpHost, writerKey)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("POST %s via %s: no response head while the stream is open: %v", streamPath, p.name, err)
	}
	// No resp.Body.Close: it would read the stream to its end. Closing c ends it.
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("POST %s via %s = %d %s, want 200 text/event-stream", streamPath, p.name, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := bufio.NewScanner(resp.Body)
	for events.Scan() {
		if events.Text() == "data: "+streamEvent {
			p.up.endStream()
			return
		}
	}
	t.Fatalf("POST %s via %s: the first event did not arrive while the stream was open: %v", streamPath, p.name, events.Err())
}

// runProxyIdentityContract checks the trusted-proxy mode (proxyIdentityEnv) through a
// running proxy: the client on 127.0.0.1 plays the SSO proxy in front of the edge.
func runProxyIdentityContract(t *testing.T, p edgeProxy) {
	alice := map[string]string{
		"X-Forwarded-User":  "alice@example.com",
		"X-Forwarded-Email": "alice@example.com",
		"X-Auth-Source":     "proxy",
	}
	tests := []struct {
		name   string
		target string
		fields [][2]string
		status int
	}{
		{"honoured on /mcp", "/mcp", [][2]string{field("X-Authenticated-User", "alice@example.com")}, 200},
		{"honoured on /servers/abc/mcp", "/servers/abc/mcp", [][2]string{field("X-Authenticated-User", "alice@example.com")}, 200},
		{"honoured with a forwarded chain", "/mcp", [][2]string{field("X-Authenticated-User", "alice@example.com"), field("X-Forwarded-For", "203.0.113.9")}, 200},
		{"missing header", "/mcp", nil, 401},
		{"underscore alias is not the header", "/mcp", [][2]string{field("X_Authenticated_User", "alice@example.com")}, 401},
		{"API keys are off", "/mcp", [][2]string{field("X-API-Key", writerKey)}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(p.up.requests())
			r := p.do(t, "GET", tt.target, tt.fields...)
			if r.status != tt.status {
				t.Fatalf("GET %s via %s = %d, want %d; body: %s", tt.target, p.name, r.status, tt.status, r.body)
			}
			seen, reached := p.reached(n, tt.target)
			if reached != (tt.status == 200) {
				t.Fatalf("GET %s via %s reached the MCP server: %v, want %v", tt.target, p.name, reached, tt.status == 200)
			}
			if reached {
				checkIdentity(t, seen, alice)
			} else {
				checkChallenge(t, r, `resource_metadata="http://mcp.example.com/.well-known/oauth-protected-resource/mcp"`)
			}
		})
	}
	t.Run("no leaks upstream", func(t *testing.T) { checkNoLeaks(t, p) })
}

// checkCORS checks that a browser may read the challenge of a proxied 401 or 403.
func checkCORS(t testing.TB, r rawResponse) {
	t.Helper()
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want one *", got)
	}
	if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(strings.ToLower(got), "www-authenticate") {
		t.Errorf("Access-Control-Expose-Headers = %q, want WWW-Authenticate", got)
	}
}

// checkChallenge checks the WWW-Authenticate fields of a 401 or 403: exactly one, with
// every want substring.
func checkChallenge(t testing.TB, r rawResponse, want ...string) {
	t.Helper()
	got := r.header.Values("Www-Authenticate")
	if len(got) != 1 {
		t.Fatalf("WWW-Authenticate = %q, want exactly one", got)
	}
	for _, w := range want {
		if !strings.Contains(got[0], w) {
			t.Errorf("WWW-Authenticate = %q, want it to contain %q", got[0], w)
		}
	}
}

// checkIdentity checks what the upstream received against the identity mcpguard vouches
// for: each identity header (normalized: any case, '_' or '.' for '-') at most once and
// with want's value, empty values counting as absent.
func checkIdentity(t testing.TB, seen seenRequest, want map[string]string) {
	t.Helper()
	for _, name := range forwardauth.IdentityHeaders() {
		vals := seen.get(name)
		if len(vals) > 1 {
			t.Errorf("upstream got %s (normalized) %d times: %q", name, len(vals), vals)
			continue
		}
		got := ""
		if len(vals) == 1 {
			got = vals[0]
		}
		if got != want[name] {
			t.Errorf("upstream %s = %q, want %q", name, got, want[name])
		}
	}
}

// checkNoLeaks checks every request the upstream received: no header carries a Caddy
// placeholder, no credential meant for mcpguard arrives, and no identity header arrives
// under an aliasing name.
func checkNoLeaks(t *testing.T, p edgeProxy) {
	t.Helper()
	idents := map[string]bool{normHeader("Authorization"): true}
	for _, name := range forwardauth.IdentityHeaders() {
		idents[normHeader(name)] = true
	}
	for _, s := range p.up.requests() {
		if len(s.Fields) == 0 {
			t.Errorf("%s %s: the upstream recorded no header fields", s.Method, s.Target)
		}
		for _, f := range s.Fields {
			if strings.Contains(f[1], "{http.") || strings.Contains(f[1], "{rp.") {
				t.Errorf("%s %s: upstream got placeholder %s: %s", s.Method, s.Target, f[0], f[1])
			}
			n := normHeader(f[0])
			if n == "x-api-key" || n == "x-upstream-authorization" {
				t.Errorf("%s %s: upstream got the client credential header %s", s.Method, s.Target, f[0])
			}
			if idents[n] && strings.ToLower(f[0]) != n {
				t.Errorf("%s %s: upstream got aliasing header %s: %s", s.Method, s.Target, f[0], f[1])
			}
		}
	}
}
