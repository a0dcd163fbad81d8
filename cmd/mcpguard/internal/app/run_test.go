package app

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
)

// program is the signature of Run.
type program func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// startRun runs the whole program in-process on a random loopback port and returns its
// base URL once /healthz answers. It stops when the test ends, printing its log if the
// test failed; Run's error is reported, never t.Fatal'ed from the goroutine.
func startRun(t testing.TB, environ map[string]string, args ...string) (base string, stdout *syncBuffer, stderr *syncBuffer) {
	t.Helper()
	return startProgram(t, Run, environ, args...)
}

// startProgram is startRun for run, Run or a stand-in with its signature.
func startProgram(t testing.TB, run program, environ map[string]string, args ...string) (base string, stdout *syncBuffer, stderr *syncBuffer) {
	t.Helper()
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}
	for k, v := range environ {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"mcpguard"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), pw, stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run did not stop within 10s of cancellation")
		}
		if t.Failed() {
			t.Logf("mcpguard log:\n%s", stderr)
		}
	})
	lines := bufio.NewScanner(pr)
	addrRE := regexp.MustCompile(`^mcpguard listening on (http://\S+)$`)
	for lines.Scan() {
		stdout.Write([]byte(lines.Text() + "\n"))
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("run printed no listening address; stderr:\n%s", stderr)
	}
	go func() {
		for lines.Scan() {
			stdout.Write([]byte(lines.Text() + "\n"))
		}
	}()
	waitHealthy(t, base)
	return base, stdout, stderr
}

func waitHealthy(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", base)
}

func TestRunEmbeddedDefault(t *testing.T) {
	base, stdout, stderr := startRun(t, nil)
	time.Sleep(50 * time.Millisecond) // let the quickstart text arrive
	key := regexp.MustCompile(`MCP_PROXY_API_KEY=(mcpg_\S+)`).FindStringSubmatch(stdout.String())
	if key == nil {
		t.Fatalf("no generated key printed:\n%s", stdout)
	}
	ask := func(kv ...string) *http.Response {
		req, _ := http.NewRequest("GET", base+"/auth", nil)
		req.Header.Set("X-Forwarded-Method", "POST")
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", "localhost")
		req.Header.Set("X-Forwarded-Uri", "/mcp")
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := ask(); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Fatalf("without key: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := ask("X-API-Key", key[1]); resp.StatusCode != 200 || resp.Header.Get("X-Auth-Source") != "apikey" {
		t.Fatalf("with key: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err := http.Get(base + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"resource":"http://localhost:`) {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/readyz", "/health", "/metrics"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
		if p == "/health" && strings.TrimSpace(string(b)) != `{"status":200,"message":"OK"}` {
			t.Fatalf("/health = %s", b)
		}
		if p == "/metrics" && !strings.Contains(string(b), `mcpguard_decisions_total{reason="allowed",result="allow",source="apikey"} 1`) {
			t.Fatalf("/metrics lacks the decision counter:\n%s", b)
		}
	}
	if strings.Contains(stderr.String(), key[1]) {
		t.Fatalf("the log holds the generated key:\n%s", stderr)
	}
	deadline := time.Now().Add(3 * time.Second) // the log is written in batches
	for !strings.Contains(stderr.String(), `"message":"auth decision"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no audit line in the log:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"PORT": "70000"}, "PORT"},
		{"listen addr", map[string]string{"LISTEN_ADDR": "nowhere"}, "LISTEN_ADDR"},
		{"port not a number", map[string]string{"PORT": "eleven"}, "PORT"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"trusted proxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{"proxy cidrs", map[string]string{"PROXY_AUTH_TRUSTED_CIDRS": "nope"}, "PROXY_AUTH_TRUSTED_CIDRS"},
		{"short key", map[string]string{"MCP_PROXY_API_KEY": "short"}, "MCP_PROXY_API_KEY"},
		{"header name", map[string]string{"API_KEY_HEADER": "X_Api_Key"}, "API_KEY_HEADER"},
		{"issuer", map[string]string{"ISSUER_URL": "ftp://x"}, "ISSUER_URL"},
		{"plain http issuer", map[string]string{"ISSUER_URL": "http://auth.example.com"}, "ISSUER_URL"},
		{"resource url", map[string]string{"RESOURCE_URL": "not a url"}, "RESOURCE_URL"},
		{"policy file and env resource", map[string]string{"POLICY_FILE": "/x.yaml", "REQUIRED_SCOPES": "mcp:read"}, "REQUIRED_SCOPES"},
		{"missing policy file", map[string]string{"POLICY_FILE": "/nonexistent/policy.yaml"}, "POLICY_FILE"},
		{"missing keys file", map[string]string{"API_KEYS_FILE": "/nonexistent/keys.yaml"}, "API_KEYS_FILE"},
		{"bad email", map[string]string{"ALLOWED_EMAILS": "a@b@c.com"}, "ALLOWED_EMAILS"},
		{"protected path", map[string]string{"PROTECTED_PATH": "/healthz"}, "PROTECTED_PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := Run(context.Background(), []string{"mcpguard", "check-config"}, func(k string) string { return tt.env[k] },
				strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("check-config with %v = %v, want an error naming %s", tt.env, err, tt.want)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	var stdout syncBuffer
	err := Run(context.Background(), []string{"mcpguard", "hash-key"}, func(string) string { return "" },
		strings.NewReader(testKey+"\n"), &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(stdout.String()), auth.HashKey(testKey); got != want {
		t.Fatalf("hash-key = %q, want %q", got, want)
	}
	for _, in := range []string{"", "short\n", strings.Repeat("k", 5000)} {
		if err := Run(context.Background(), []string{"mcpguard", "hash-key"}, func(string) string { return "" },
			strings.NewReader(in), io.Discard, io.Discard); err == nil {
			t.Errorf("hash-key accepted %d bytes", len(in))
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	base, _, _ := startRun(t, map[string]string{"MCP_PROXY_API_KEY": testKey})
	port := base[strings.LastIndex(base, ":")+1:]
	env := map[string]string{"PORT": port}
	if err := Run(context.Background(), []string{"mcpguard", "healthcheck"}, func(k string) string { return env[k] },
		strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck against a running server: %v", err)
	}
	env["PORT"] = "1"
	if err := Run(context.Background(), []string{"mcpguard", "healthcheck"}, func(k string) string { return env[k] },
		strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck against nothing succeeded")
	}
}

func TestUnknownCommand(t *testing.T) {
	err := Run(context.Background(), []string{"mcpguard", "frobnicate"}, func(string) string { return "" },
		strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("Run(frobnicate) = %v", err)
	}
}

// TestHelp: every way of asking for help prints the usage with the flags and succeeds,
// before any configuration is read.
func TestHelp(t *testing.T) {
	env := map[string]string{"PORT": "not a port", "MCP_PROXY_API_KEY": testKey}
	for _, args := range [][]string{{"help"}, {"-h"}, {"-help"}, {"--help"}, {"serve", "-h"}, {"check-config", "--help"}, {"-port", "1", "-h"}} {
		var stdout, stderr syncBuffer
		err := Run(t.Context(), append([]string{"mcpguard"}, args...), func(k string) string { return env[k] },
			strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			t.Errorf("mcpguard %q = %v, want nil", args, err)
		}
		for _, want := range []string{"usage: mcpguard", "check-config", "-listen string"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("mcpguard %q printed no %q:\n%s", args, want, stdout.String())
			}
		}
		if strings.Contains(stdout.String()+stderr.String(), testKey) {
			t.Errorf("mcpguard %q printed the key", args)
		}
	}
}

// TestFlagError: a flag that does not parse is an error that points at help and prints
// nothing else, never the defaults the environment set.
func TestFlagError(t *testing.T) {
	var stdout, stderr syncBuffer
	env := map[string]string{"MCP_PROXY_API_KEY": testKey}
	err := Run(t.Context(), []string{"mcpguard", "-bogus"}, func(k string) string { return env[k] },
		strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-bogus") || !strings.Contains(err.Error(), "mcpguard help") {
		t.Fatalf("mcpguard -bogus = %v, want an error naming the flag and mcpguard help", err)
	}
	if strings.Contains(stdout.String()+stderr.String(), testKey) {
		t.Fatalf("mcpguard -bogus printed the key:\n%s%s", stdout.String(), stderr.String())
	}
}
