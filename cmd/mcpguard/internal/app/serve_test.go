package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

// askOver sends /auth requests with a valid API key over one kept-alive connection of
// client and returns their statuses.
func askOver(t *testing.T, client *http.Client, base string, n int) []int {
	t.Helper()
	var got []int
	for range n {
		req, _ := http.NewRequest("GET", base+"/auth", nil)
		for k, v := range map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Proto": "https",
			"X-Forwarded-Host": "mcp.example.com", "X-Forwarded-Uri": "/mcp", "X-Api-Key": testKey} {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	return got
}

// TestPeerJudgedPerConnection runs the whole program: the TCP peer is judged against
// TRUSTED_PROXIES once per connection (ConnContext), and every request of a kept-alive
// connection gets that judgement.
func TestPeerJudgedPerConnection(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		want    int
	}{
		{"loopback trusted", "127.0.0.0/8", 200},
		{"loopback not trusted", "10.0.0.0/8", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, _, stderr := startRun(t, map[string]string{"MCP_PROXY_API_KEY": testKey,
				"RESOURCE_URL": "https://mcp.example.com/mcp", "TRUSTED_PROXIES": tt.trusted})
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i, got := range askOver(t, client, base, 3) {
				if got != tt.want {
					t.Errorf("request %d on one connection = %d, want %d", i+1, got, tt.want)
				}
			}
			if tt.want == 403 {
				waitFor(t, stderr, `"reason":"untrusted_peer"`)
			}
		})
	}
}

// TestOutcomeCountersAndLines: the prepared outcome of a kind of decision counts every
// decision of that kind, and its audit line holds the kind's fields and the request's.
func TestOutcomeCountersAndLines(t *testing.T) {
	base, _, stderr := startRun(t, map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp"})
	client := &http.Client{}
	defer client.CloseIdleConnections()
	askOver(t, client, base, 3)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `mcpguard_decisions_total{reason="allowed",result="allow",source="apikey"} 3`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	waitFor(t, stderr, `"decision":"allow","status":200,"reason":"allowed","source":"apikey","resource":"https://mcp.example.com/mcp","user":"api-key","client_id":"api-key","method":"POST","host":"mcp.example.com","path":"/mcp"`)
}

// waitFor waits until the (batched) log holds s.
func waitFor(t *testing.T, log *syncBuffer, s string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !strings.Contains(log.String(), s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not hold %s:\n%s", s, log)
		}
	}
}

// TestGCPercent: serve runs the collector at gcPercent unless GOGC is set, in which case
// the runtime's reading of it stands.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tt := range []struct {
		gogc string
		want int
	}{
		{"", gcPercent},
		{"123", 123}, // set below as the runtime would have from the environment
	} {
		debug.SetGCPercent(123)
		env := map[string]string{"MCP_PROXY_API_KEY": testKey}
		if tt.gogc != "" {
			env["GOGC"] = tt.gogc
		}
		startRun(t, env)
		if got := debug.SetGCPercent(123); got != tt.want {
			t.Errorf("GOGC=%q: collector target %d, want %d", tt.gogc, got, tt.want)
		}
	}
}

// TestRequestDeadlines runs the whole program with short timeouts: a request body that
// stops arriving ends its connection, at /auth (after the answer, which does not wait
// for the body) and at the other endpoints, while a plain /auth connection stays open.
func TestRequestDeadlines(t *testing.T) {
	short := timeouts{read: 300 * time.Millisecond, write: 2 * time.Second}
	serveShort := func(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
		return serve(ctx, args[1:], getenv, stdout, stderr, short)
	}
	base, _, _ := startProgram(t, serveShort, map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp"})
	addr := strings.TrimPrefix(base, "http://")

	// send writes req on a new connection and returns how long the connection lived
	// and what the server wrote.
	send := func(req string) (time.Duration, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.Write([]byte(req))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		got, _ := io.ReadAll(c) // until the server closes, or 2s
		return time.Since(start), string(got)
	}
	fwdHeaders := "X-Forwarded-Method: POST\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: mcp.example.com\r\nX-Forwarded-Uri: /mcp\r\nX-Api-Key: " + testKey + "\r\n"
	for _, tt := range []struct{ name, req, status string }{
		{"auth with a stalled body", "POST /auth HTTP/1.1\r\nHost: x\r\n" + fwdHeaders + "Content-Length: 100\r\n\r\n0123456789", "HTTP/1.1 200 "},
		{"another endpoint with a stalled body", "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type", "HTTP/1.1 "},
	} {
		took, got := send(tt.req)
		if took > 1500*time.Millisecond || !strings.HasPrefix(got, tt.status) {
			t.Errorf("%s: connection lived %v and got %.40q; want it closed after the read deadline, answered %q", tt.name, took, got, tt.status)
		}
	}
	// Without a body, /auth keeps the connection for the next request.
	took, got := send("GET /auth HTTP/1.1\r\nHost: x\r\n" + fwdHeaders + "\r\n")
	if took < 1900*time.Millisecond || !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Errorf("plain /auth: connection lived %v (want kept open until the client gives up), got %.40q", took, got)
	}
}

// TestJWTReadiness checks /readyz waits for every issuer's keys and recovers by itself.
func TestJWTReadiness(t *testing.T) {
	iss := authtest.NewIssuer(t)
	iss.SetDown(true)
	base, _, _ := startRun(t, map[string]string{"JWT_ISSUERS": iss.URL() + "=https://mcp.example.com/mcp",
		"RESOURCE_URL": "https://mcp.example.com/mcp"})
	get := func() (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 503 || !strings.Contains(body, "jwt_issuers") {
		t.Fatalf("/readyz with the issuer down = %d %s, want 503 naming jwt_issuers", code, body)
	}
	metrics := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	failed := `mcpguard_jwks_refresh_total{issuer="` + iss.URL() + `",result="error"}`
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(metrics(), failed); {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted the failed refresh %s", failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	iss.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never recovered: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(metrics(), `mcpguard_jwks_refresh_total{issuer="`+iss.URL()+`",result="ok"}`) {
		t.Fatal("/metrics lacks the successful refresh")
	}
}
