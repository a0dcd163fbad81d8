package e2e

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nginxVerbatim are the files of deploy/nginx the tests run unchanged, and where the
// Debian layout (relative to /etc/nginx) puts them.
var nginxVerbatim = map[string]string{
	"mcp.conf":              "conf.d/mcp.conf",
	"mcpguard-auth.conf":    "snippets/mcpguard-auth.conf",
	"mcpguard-protect.conf": "snippets/mcpguard-protect.conf",
	"mcpguard-browser.conf": "snippets/mcpguard-browser.conf",
}

// nginxSiteFiles renders the two site-specific files of deploy/nginx (the ones users
// edit): the upstream addresses and the listen directive. guard may list several
// mcpguard replicas, separated by spaces: one server line each, balanced round robin.
func nginxSiteFiles(guard, mcp string, port int) map[string]string {
	var servers strings.Builder
	for _, g := range strings.Fields(guard) {
		fmt.Fprintf(&servers, "    server %s;\n", g)
	}
	return map[string]string{
		"snippets/mcp-upstreams.conf": fmt.Sprintf("upstream mcpguard {\n%s    keepalive 16;\n}\n\nupstream mcp_server {\n    server %s;\n    keepalive 16;\n}\n", servers.String(), mcp),
		"snippets/mcp-listen.conf":    fmt.Sprintf("listen 127.0.0.1:%d;\n", port),
	}
}

// startNginx runs the real nginx with the deploy/nginx recipe in front of the mcpguard
// at guard and the upstream up.
func startNginx(t *testing.T, guard string, up *mcpUpstream) edgeProxy {
	t.Helper()
	return startNginxWith(t, guard, up, nil)
}

// startNginxWith is startNginx with edit applied to the files (named as under
// /etc/nginx) before nginx reads them.
func startNginxWith(t *testing.T, guard string, up *mcpUpstream, edit func(files map[string]string)) edgeProxy {
	t.Helper()
	bin := findBinary(t, "nginx", "apt-get install -y nginx-light")
	src := filepath.Join(repoRoot(t), "deploy", "nginx")
	verbatim := map[string]string{}
	for name, dst := range nginxVerbatim {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		verbatim[dst] = string(data)
	}
	return startProxy(t, "nginx", up, func(port int) (*exec.Cmd, os.Signal) {
		dir := t.TempDir()
		files := nginxSiteFiles(guard, up.addr, port)
		maps.Copy(files, verbatim)
		files["nginx.conf"] = nginxMainConf()
		if edit != nil {
			edit(files)
		}
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
			t.Fatal(err)
		}
		globals := "daemon off; master_process on; pid " + filepath.Join(dir, "nginx.pid") + "; error_log stderr notice;"
		args := []string{"-p", dir + "/", "-c", "nginx.conf", "-e", "stderr", "-g", globals}
		if out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nginx -t rejected the deploy/nginx recipe: %v\n%s", err, out)
		}
		return exec.Command(bin, args...), syscall.SIGQUIT
	})
}

// nginxMainConf stands in for Debian's /etc/nginx/nginx.conf: the http {} context that
// includes conf.d/*.conf, with every path inside the test's prefix directory.
func nginxMainConf() string {
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // workers must reach the test's directory
	}
	return user + `worker_processes 1;
events {
    worker_connections 256;
}
http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include conf.d/*.conf;
}
`
}

// TestNginx runs the deploy/nginx recipe with the real nginx between a client and an
// MCP server, mcpguard deciding with API keys, a required scope and a public path.
func TestNginx(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, guardEnv(t))
	runContract(t, startNginx(t, guard, up))
}

// TestNginxProxyIdentity runs the deploy/nginx recipe with mcpguard trusting the
// identity header of a proxy in front of nginx (MCP_CLIENT_AUTH_ENABLED=false).
func TestNginxProxyIdentity(t *testing.T) {
	up := startUpstream(t)
	guard := startGuard(t, proxyIdentityEnv())
	runProxyIdentityContract(t, startNginx(t, guard, up))
}
