package e2e

// The end-to-end harness: mcpguard run in-process (guard_test.go), a recording MCP
// upstream, a raw HTTP client and the proxy processes. The nginx, Caddy and Traefik
// suites start the real proxies with the exact files users copy; contract_test.go is what
// they must do.
//
// Every test name starts with its suite: TestNginx, TestCaddy, TestTraefik, TestDex,
// TestChromium, TestMCP, TestDoctor, TestDeploy. A suite that runs over several proxies
// names them in lower-case subtests (TestMCP/nginx), so that `go test -run Nginx` runs
// the nginx suite alone and `-run MCP/nginx` the MCP flow through nginx alone.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The API keys of the e2e keys file (writerKey has every scope /mcp requires,
// readerKey lacks mcp:write) and the host names clients use.
const (
	writerKey = "e2e-writer-key-0123456789"
	readerKey = "e2e-reader-key-0123456789"
	mcpHost   = "mcp.example.com"
	authHost  = "auth.example.com"
)

// repoRoot is the module root, where deploy/ lives: the first directory above the
// test's that holds go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root not found: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// startGuard runs mcpguard in-process on a random loopback port with environ and returns
// its host:port once /healthz answers. It stops when the test ends; its log is printed if
// the test failed.
func startGuard(t *testing.T, environ map[string]string) string {
	t.Helper()
	base, _, _ := startRun(t, environ)
	return strings.TrimPrefix(base, "http://")
}

// guardEnv is the mcpguard configuration of the API-key contract: /mcp on
// mcp.example.com requires mcp:write, /public is open, and two keys exist.
func guardEnv(t *testing.T) map[string]string {
	t.Helper()
	keys := fmt.Sprintf(`keys:
  - name: writer
    sha256: %q
    email: writer@example.com
    groups: [eng, ops]
    scopes: [mcp:read, mcp:write]
  - name: reader
    sha256: %q
    email: reader@example.com
    scopes: [mcp:read]
`, sha256Hex(writerKey), sha256Hex(readerKey))
	file := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(file, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"API_KEYS_FILE":   file,
		"REQUIRED_SCOPES": "mcp:write",
		"PUBLIC_PATHS":    "/public",
		"RESOURCE_URL":    "http://" + mcpHost + "/mcp",
		"ISSUER_URL":      "http://" + authHost,
		"DEV_MODE":        "true",
		"LOG_LEVEL":       "debug",
	}
}

// proxyIdentityEnv is the ContextForge mode: no client credentials, the identity header
// of a proxy on 127.0.0.1 is trusted.
func proxyIdentityEnv() map[string]string {
	return map[string]string{
		"MCP_CLIENT_AUTH_ENABLED":  "false",
		"TRUST_PROXY_AUTH":         "true",
		"PROXY_AUTH_TRUSTED_CIDRS": "127.0.0.1/32",
		"RESOURCE_URL":             "http://" + mcpHost + "/mcp",
		"ISSUER_URL":               "http://" + authHost,
		"DEV_MODE":                 "true",
		"LOG_LEVEL":                "debug",
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// rawResponse is what the client got back.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequest sends one HTTP/1.1 request to addr exactly as given: the request target is
// not cleaned or re-encoded, and header names keep their spelling.
func rawRequest(t testing.TB, addr, method, target, host string, fields [][2]string, body string) rawResponse {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// errExited reports that a process died before it answered.
var errExited = errors.New("exited before answering")

// waitHTTP polls GET path on addr, with Host: host, until it answers 200, the process
// behind it exits (exited is closed; nil for an in-process server), or 15 s pass.
func waitHTTP(addr, host, path string, exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				last = resp.Status
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s never answered GET %s with 200 (last: %s)", addr, path, last)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// findBinary returns the path of a proxy binary or fails with how to install it: the
// NAME_BIN variable (NGINX_BIN, CADDY_BIN) when it is set, else name on the PATH or in the
// system's binary directories (nginx lives in /usr/sbin, off a user's PATH).
func findBinary(t testing.TB, name, install string) string {
	t.Helper()
	if p := os.Getenv(strings.ToUpper(name) + "_BIN"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			t.Fatalf("%s is not installed at %s_BIN=%s; the end-to-end tests run the real proxy (on %s/%s: %s)", name, strings.ToUpper(name), p, runtime.GOOS, runtime.GOARCH, install)
		}
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("%s is not installed; the end-to-end tests run the real proxy (on %s/%s: %s)", name, runtime.GOOS, runtime.GOARCH, install)
	return ""
}

// startProcess starts cmd, stops it when the test ends, and prints its output if the test
// failed. The returned channel is closed when the process exits.
func startProcess(t *testing.T, what string, cmd *exec.Cmd, stop os.Signal) <-chan struct{} {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", what, out)
		}
	})
	return exited
}

// edgeProxy is a running edge proxy in front of mcpguard and the upstream.
type edgeProxy struct {
	name string
	addr string // host:port clients dial
	up   *mcpUpstream
}

// startProxy runs the proxy process that start builds for a free loopback port, stops it
// when the test ends, and returns once it serves the discovery document through
// mcpguard. A port taken by someone else in the meantime means another try.
func startProxy(t *testing.T, name string, up *mcpUpstream, start func(port int) (cmd *exec.Cmd, stop os.Signal)) edgeProxy {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := startProxyOn(t, name, up, freePort(t), start)
		if err == nil {
			return p
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// startProxyOn is one attempt of startProxy, on port: for a test whose configuration
// names the port before the proxy starts.
func startProxyOn(t *testing.T, name string, up *mcpUpstream, port int, start func(port int) (cmd *exec.Cmd, stop os.Signal)) (edgeProxy, error) {
	t.Helper()
	cmd, stop := start(port)
	exited := startProcess(t, name, cmd, stop)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return edgeProxy{name: name, addr: addr, up: up}, waitHTTP(addr, mcpHost, "/.well-known/oauth-protected-resource/mcp", exited)
}

// do sends a request for the MCP server's host through the proxy.
func (p edgeProxy) do(t testing.TB, method, target string, fields ...[2]string) rawResponse {
	t.Helper()
	return rawRequest(t, p.addr, method, target, mcpHost, fields, "")
}

// reached reports whether the upstream received a request for target since the upstream
// had seen n requests, and returns the last one.
func (p edgeProxy) reached(n int, target string) (seenRequest, bool) {
	reqs := p.up.requests()
	for i := len(reqs) - 1; i >= n; i-- {
		if reqs[i].Target == target {
			return reqs[i], true
		}
	}
	return seenRequest{}, false
}

// field is one request header field, name spelled as given.
func field(name, value string) [2]string { return [2]string{name, value} }
