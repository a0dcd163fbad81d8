package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// caddyEnv is the environment the deploy/caddy/Caddyfile reads its site-specific values
// from ({$NAME:default} placeholders), with Caddy's own state kept inside dir.
func caddyEnv(dir, guard, mcp string, port int) []string {
	p := strconv.Itoa(port)
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"CADDY_ADMIN=off",
		// http:// site addresses: no certificates, no HTTP-to-HTTPS redirect listener.
		"MCP_SITE=http://" + mcpHost + ":" + p,
		"AUTH_SITE=http://" + authHost + ":" + p,
		"MCPGUARD_ADDR=" + guard,
		"MCP_UPSTREAM=" + mcp,
	}
}

// startCaddy runs the real Caddy with deploy/caddy/Caddyfile, unchanged, in front of the
// mcpguard at guard and the upstream up.
func startCaddy(t *testing.T, guard string, up *mcpUpstream) edgeProxy {
	t.Helper()
	caddyfile := filepath.Join(repoRoot(t), "deploy", "caddy", "Caddyfile")
	return startProxy(t, "caddy", up, caddyCommand(t, caddyfile, guard, up))
}

// caddyCommand returns how startProxy runs the real Caddy with caddyfile.
func caddyCommand(t *testing.T, caddyfile, guard string, up *mcpUpstream) func(port int) (*exec.Cmd, os.Signal) {
	bin := findBinary(t, "caddy", "apt-get install -y caddy")
	return func(port int) (*exec.Cmd, os.Signal) {
		dir := t.TempDir()
		cmd := exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
		cmd.Env = caddyEnv(dir, guard, up.addr, port)
		cmd.Dir = dir
		return cmd, os.Interrupt
	}
}

// TestCaddy runs deploy/caddy/Caddyfile with the real Caddy between a client and an
// MCP server, mcpguard deciding with API keys, a required scope and a public path. Caddy
// before 2.11.2 sends the literal placeholder {http.reverse_proxy.header.<name>}
// upstream for a copy_headers header the auth answer lacks; the contract's "no leaks"
// check fails on any such value.
func TestCaddy(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, guardEnv(t))
	runContract(t, startCaddy(t, guard, up))
}

// TestCaddyProxyIdentity runs deploy/caddy/Caddyfile with mcpguard trusting the
// identity header of a proxy in front of Caddy (MCP_CLIENT_AUTH_ENABLED=false).
func TestCaddyProxyIdentity(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, proxyIdentityEnv())
	runProxyIdentityContract(t, startCaddy(t, guard, up))
}
