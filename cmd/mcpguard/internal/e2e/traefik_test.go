package e2e

// Traefik end to end: the real Traefik (built by scripts/build-traefik.sh) runs
// deploy/traefik/traefik.yml and dynamic.yml between the client and the MCP server, with
// mcpguard as its forwardAuth address; the shared contract (contract_test.go) and the
// MCP SDK client flow (TestMCP/traefik) go through it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"
)

// traefikRelease is the Traefik scripts/build-traefik.sh builds.
const traefikRelease = "v3.7.12"

// traefikBinary returns the path of the Traefik binary scripts/build-traefik.sh builds, or
// fails with the command that builds it.
func traefikBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("TRAEFIK_BIN")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("no TRAEFIK_BIN, XDG_CACHE_HOME or home directory to find Traefik in: %v", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "mcpguard", "traefik-"+traefikRelease, "traefik")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("Traefik %s is not built at %s; the end-to-end tests run the real proxy (build it, about 12 minutes the first time on 2 CPUs: scripts/build-traefik.sh)", traefikRelease, bin)
	}
	return bin
}

// traefikServiceOrigins are the addresses dynamic.yml ships (the lines marked EDIT) and
// how many times each occurs: mcpguard is the forwardAuth address (the browser
// application's, commented out, too) and a service.
var traefikServiceOrigins = map[string]int{
	"http://mcpguard:11000":  3,
	"http://mcp-server:8080": 1,
}

// renderTraefikDynamic renders deploy/traefik/dynamic.yml for the tests: each shipped origin
// (traefikServiceOrigins) replaced by the loopback one, nothing else. The host names stay:
// the tests' clients use mcp.example.com and auth.example.com.
func renderTraefikDynamic(shipped, guard, mcp string) (string, error) {
	to := map[string]string{"http://mcpguard:11000": "http://" + guard, "http://mcp-server:8080": "http://" + mcp}
	out := shipped
	for from, n := range traefikServiceOrigins {
		if got := strings.Count(shipped, from); got != n {
			return "", fmt.Errorf("dynamic.yml names %s %d times, want %d (the forwardAuth addresses and the services)", from, got, n)
		}
		out = strings.ReplaceAll(out, from, to[from])
	}
	return out, nil
}

// renderTraefikStatic renders deploy/traefik/traefik.yml for the tests, keeping every setting
// but these: the websecure entry point listens on 127.0.0.1:port without TLS (the tests'
// clients, like a TLS-terminating load balancer, speak plain HTTP to it, as with the
// nginx test's mcp-listen.conf and the Caddy test's http:// site addresses), so the web
// entry point that redirects to it and the Let's Encrypt resolver go; the file provider
// reads dynamicFile.
func renderTraefikStatic(shipped []byte, port int, dynamicFile string) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(shipped, &cfg); err != nil {
		return nil, fmt.Errorf("traefik.yml: %w", err)
	}
	eps, _ := cfg["entryPoints"].(map[string]any)
	ep, _ := eps["websecure"].(map[string]any)
	epHTTP, _ := ep["http"].(map[string]any)
	file, _ := traefikDig(cfg, "providers", "file").(map[string]any)
	if ep == nil || epHTTP == nil || epHTTP["tls"] == nil || eps["web"] == nil || cfg["certificatesResolvers"] == nil || file == nil {
		return nil, fmt.Errorf("traefik.yml: want entryPoints.web, entryPoints.websecure.http.tls, certificatesResolvers and providers.file")
	}
	ep["address"] = fmt.Sprintf("127.0.0.1:%d", port)
	delete(epHTTP, "tls")
	delete(eps, "web")
	delete(cfg, "certificatesResolvers")
	file["filename"] = dynamicFile
	return yaml.Marshal(cfg)
}

// traefikDig returns the value at the path of keys in nested maps, or nil.
func traefikDig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// startTraefik runs the real Traefik with deploy/traefik (renderTraefikStatic, renderTraefikDynamic)
// in front of the mcpguard at guard and the upstream up.
func startTraefik(t *testing.T, guard string, up *mcpUpstream) edgeProxy {
	t.Helper()
	return startTraefikWith(t, guard, up, nil)
}

// startTraefikWith is startTraefik with edit (when not nil) applied to the shipped
// dynamic.yml before it is rendered.
func startTraefikWith(t *testing.T, guard string, up *mcpUpstream, edit func(dynamic string) string) edgeProxy {
	t.Helper()
	bin := traefikBinary(t)
	src := filepath.Join(repoRoot(t), "deploy", "traefik")
	static, err := os.ReadFile(filepath.Join(src, "traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(src, "dynamic.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		shipped = []byte(edit(string(shipped)))
	}
	dynamic, err := renderTraefikDynamic(string(shipped), guard, up.addr)
	if err != nil {
		t.Fatal(err)
	}
	return startProxy(t, "traefik", up, func(port int) (*exec.Cmd, os.Signal) {
		dir := t.TempDir()
		dynamicFile := filepath.Join(dir, "dynamic.yml")
		staticYAML, err := renderTraefikStatic(static, port, dynamicFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dynamicFile, []byte(dynamic), 0o644); err != nil {
			t.Fatal(err)
		}
		staticFile := filepath.Join(dir, "traefik.yml")
		if err := os.WriteFile(staticFile, staticYAML, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--configFile="+staticFile)
		// No TRAEFIK_* variable of the caller's may add to the configuration.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		cmd.Dir = dir
		return cmd, syscall.SIGTERM
	})
}

// TestTraefik runs deploy/traefik with the real Traefik between a client and an MCP
// server, mcpguard deciding with API keys, a required scope and a public path: the shared
// contract, then what is Traefik's own (look-alike names, empty identity headers).
func TestTraefik(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, guardEnv(t))
	p := startTraefik(t, guard, up)
	runContract(t, p)
	t.Run("traefik/aliasing header names are deleted", func(t *testing.T) { traefikCheckAliases(t, p) })
	t.Run("traefik/empty identity headers arrive empty", func(t *testing.T) { traefikCheckEmptyHeaders(t, p) })
}

// traefikCheckAliases sends, with a valid key, a header named X<c>Forwarded<c>User for every
// character c that makes an alias (deployAliasChars), and a non-identity X_Custom_Header:
// with aliasHeadersStrategy: delete Traefik drops every header name holding a character
// other than a letter, a digit or '-', identity or not, before forwardAuth.
func traefikCheckAliases(t *testing.T, p edgeProxy) {
	fields := [][2]string{field("X-API-Key", writerKey), field("X_Custom_Header", "custom")}
	for _, c := range deployAliasChars {
		fields = append(fields, field("X"+string(c)+"Forwarded"+string(c)+"User", "mallory@evil.example"))
	}
	n := len(p.up.requests())
	if r := p.do(t, "GET", "/mcp", fields...); r.status != 200 {
		t.Fatalf("GET /mcp via traefik with aliasing headers = %d, want 200; body: %s", r.status, r.body)
	}
	seen, ok := p.reached(n, "/mcp")
	if !ok {
		t.Fatal("GET /mcp via traefik did not reach the MCP server")
	}
	for _, f := range seen.Fields {
		if strings.ContainsFunc(f[0], func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
		}) {
			t.Errorf("upstream got %s: %s; want every aliasing header name deleted", f[0], f[1])
		}
	}
	if got := seen.get("X-Forwarded-User"); !slices.Equal(got, []string{"writer@example.com"}) {
		t.Errorf("upstream X-Forwarded-User (normalized) = %q, want only mcpguard's writer@example.com", got)
	}
}

// traefikCheckEmptyHeaders checks what Traefik does with an identity header mcpguard
// sends empty: forwardAuth deletes the client's copy and sets mcpguard's empty value, which
// reaches the MCP server as an empty field (as with Caddy; nginx omits it). The client's
// token never does.
func traefikCheckEmptyHeaders(t *testing.T, p edgeProxy) {
	n := len(p.up.requests())
	if r := p.do(t, "GET", "/mcp", field("Authorization", "Bearer "+writerKey)); r.status != 200 {
		t.Fatalf("GET /mcp via traefik with a bearer key = %d, want 200; body: %s", r.status, r.body)
	}
	seen, ok := p.reached(n, "/mcp")
	if !ok {
		t.Fatal("GET /mcp via traefik did not reach the MCP server")
	}
	if got := seen.get("Authorization"); !slices.Equal(got, []string{""}) {
		t.Errorf("upstream Authorization = %q, want one empty field", got)
	}
}

// TestTraefikProxyIdentity runs deploy/traefik with mcpguard trusting the identity
// header of a proxy in front of Traefik (MCP_CLIENT_AUTH_ENABLED=false).
func TestTraefikProxyIdentity(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, proxyIdentityEnv())
	runProxyIdentityContract(t, startTraefik(t, guard, up))
}
