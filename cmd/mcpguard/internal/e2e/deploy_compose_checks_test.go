package e2e

// The checks of one compose stack: mounts, the Traefik labels, docker compose config.

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
)

func buildContext(b any) string {
	switch b := b.(type) {
	case string:
		return b
	case map[string]any:
		s, _ := b["context"].(string)
		return s
	}
	return ""
}

func mountSource(v any) string {
	switch v := v.(type) {
	case string:
		src, _, _ := strings.Cut(v, ":")
		return src
	case map[string]any:
		s, _ := v["source"].(string)
		return s
	}
	return ""
}

func mountTarget(v any) string {
	switch v := v.(type) {
	case string:
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			return parts[1]
		}
	case map[string]any:
		s, _ := v["target"].(string)
		return s
	}
	return ""
}

// checkComposeMounts checks that a service's bind mounts and build files exist.
func checkComposeMounts(t *testing.T, dir, name string, svc composeService) {
	t.Helper()
	for _, v := range svc.Volumes {
		src := mountSource(v)
		if !strings.HasPrefix(src, ".") {
			continue // a named volume or a host path such as the Docker socket
		}
		if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
			t.Errorf("%s: mounts %s, which does not exist", name, src)
		}
	}
	if svc.Build == nil {
		return
	}
	ctx := filepath.Join(dir, buildContext(svc.Build))
	dockerfile := "Dockerfile"
	if m, ok := svc.Build.(map[string]any); ok {
		if d, ok := m["dockerfile"].(string); ok {
			dockerfile = d
		}
	}
	if _, err := os.Stat(filepath.Join(ctx, dockerfile)); err != nil {
		t.Errorf("%s: builds %s from %s, which does not exist", name, dockerfile, ctx)
	}
}

// checkComposeTraefik checks the labels users copy: the forwardAuth middleware copies
// every identity header and trusts no client X-Forwarded-*, the MCP router runs it first
// and strips mcpguard's credentials, the discovery router serves both metadata forms and
// the 2025-03-26 endpoints from mcpguard without a credential, and every entry point drops
// aliasing header names.
func checkComposeTraefik(t *testing.T, cf composeFile, vars map[string]string) {
	t.Helper()
	labels := map[string]string{}
	for _, name := range []string{"mcpguard", "mcp-server"} {
		for k, v := range keyValues(t, cf.Services[name].Labels) {
			r, err := composeInterpolate(v, vars)
			if err != nil {
				t.Errorf("label %s: %v", k, err)
			}
			labels[strings.ToLower(k)] = r
		}
	}
	const fa = "traefik.http.middlewares.mcpguard.forwardauth."
	if got := labels[fa+"address"]; got != "http://mcpguard:11000/auth" {
		t.Errorf("forwardauth.address = %q, want http://mcpguard:11000/auth", got)
	}
	if got := labels[fa+"trustforwardheader"]; got != "false" {
		t.Errorf("forwardauth.trustForwardHeader = %q, want false", got)
	}
	if got := strings.Split(labels[fa+"authresponseheaders"], ","); !slices.Equal(got, forwardauth.IdentityHeaders()) {
		t.Errorf("forwardauth.authResponseHeaders = %q, want %q", got, forwardauth.IdentityHeaders())
	}
	if labels[fa+"maxresponsebodysize"] == "" {
		t.Errorf("forwardauth.maxResponseBodySize is not set")
	}
	if _, ok := labels[fa+"authsigninurl"]; ok {
		t.Errorf("forwardauth.authSigninURL is set: MCP clients need the 401, not a redirect")
	}
	const strip = "traefik.http.middlewares.mcpguard-strip-credentials.headers.customrequestheaders."
	for _, h := range []string{"x-api-key", "x-upstream-authorization"} {
		if v, ok := labels[strip+h]; !ok || v != "" {
			t.Errorf("mcpguard-strip-credentials does not delete %s", h)
		}
	}
	const clean = "traefik.http.middlewares.mcpguard-clean-request.headers.customrequestheaders."
	for _, h := range []string{"x-original-uri", "x-original-url", "x-original-method"} {
		if v, ok := labels[clean+h]; !ok || v != "" {
			t.Errorf("mcpguard-clean-request does not delete %s", h)
		}
	}
	mw := strings.Split(labels["traefik.http.routers.mcp.middlewares"], ",")
	if want := []string{"mcpguard-clean-request@docker", "mcpguard@docker", "mcpguard-strip-credentials@docker"}; !slices.Equal(mw, want) {
		t.Errorf("router mcp: middlewares = %q, want %q", mw, want)
	}
	disc := labels["traefik.http.routers.mcp-discovery.rule"]
	if !strings.Contains(disc, "Path(`/.well-known/oauth-protected-resource`)") || !strings.Contains(disc, "PathPrefix(`/.well-known/oauth-protected-resource/`)") {
		t.Errorf("router mcp-discovery: rule %q must serve the root and the path-inserted metadata", disc)
	}
	if labels["traefik.http.routers.mcp-discovery.middlewares"] != "" || labels["traefik.http.routers.mcp-discovery.service"] != "mcpguard" {
		t.Errorf("router mcp-discovery: must go to mcpguard without middlewares")
	}
	checkLegacyRouted(t, "router mcp-discovery", traefikRuleHas(disc))
	as := labels["traefik.http.routers.mcpguard.rule"]
	for _, p := range []string{"!Path(`/auth`)", "!PathPrefix(`/auth/`)", "!Path(`/sse`)", "!Path(`/metrics`)"} {
		if !strings.Contains(as, p) {
			t.Errorf("router mcpguard: rule %q lacks %s", as, p)
		}
	}
	cmd := strList(cf.Services["traefik"].Command)
	for _, c := range cmd {
		name, ok := strings.CutPrefix(strings.ToLower(c), "--entrypoints.")
		if !ok || !strings.Contains(name, ".address=") {
			continue
		}
		ep, _, _ := strings.Cut(name, ".")
		if !slices.ContainsFunc(cmd, func(c string) bool {
			return strings.EqualFold(c, "--entryPoints."+ep+".http.aliasHeadersStrategy=delete")
		}) {
			t.Errorf("traefik: entry point %s has no aliasHeadersStrategy=delete", ep)
		}
	}
}

// checkComposePostgres checks the stack whose replicas share PostgreSQL: mcpguard runs
// several replicas on the stack's postgres service, which keeps its data in a volume and
// takes the password mcpguard's STORE carries.
func checkComposePostgres(t *testing.T, cf composeFile, store string, vars map[string]string) {
	t.Helper()
	g := cf.Services["mcpguard"]
	if g.Deploy == nil || g.Deploy.Replicas == nil || *g.Deploy.Replicas < 2 {
		t.Errorf("mcpguard: want deploy.replicas of 2 or more on a shared store")
	}
	if slices.ContainsFunc(g.Volumes, func(v any) bool { return mountTarget(v) == "/var/lib/mcpguard" }) {
		t.Errorf("mcpguard: a volume at /var/lib/mcpguard, which every replica would share for nothing")
	}
	u, err := url.Parse(store)
	if err != nil || u.Scheme != "postgres" || u.Host != "postgres:5432" {
		t.Fatalf("mcpguard: STORE %q, want postgres://…@postgres:5432/…", store)
	}
	pw, _ := u.User.Password()
	p := cf.Services["postgres"]
	env := keyValues(t, p.Environment)
	got, err := composeInterpolate(env["POSTGRES_PASSWORD"], vars)
	if err != nil || got != pw || u.User.Username() != env["POSTGRES_USER"] || strings.TrimPrefix(u.Path, "/") != env["POSTGRES_DB"] {
		t.Errorf("postgres: user %q, database %q and its password disagree with mcpguard's STORE", env["POSTGRES_USER"], env["POSTGRES_DB"])
	}
	if !slices.ContainsFunc(p.Volumes, func(v any) bool { return mountTarget(v) == "/var/lib/postgresql/data" }) {
		t.Errorf("postgres: no volume at /var/lib/postgresql/data; its state would not survive a restart")
	}
	if len(p.Ports) > 0 {
		t.Errorf("postgres: publishes %v; only mcpguard should reach it", p.Ports)
	}
	if p.Healthcheck == nil {
		t.Errorf("postgres: no healthcheck; mcpguard waits for service_healthy")
	}
}

// checkComposeConfigCLI runs `docker compose config` (or docker-compose) on the stack with
// .env.example filled in, when a compose CLI is installed. CI has no Docker engine; the
// command needs none.
func checkComposeConfigCLI(t *testing.T, dir string, vars map[string]string) {
	t.Helper()
	var argv []string
	if _, err := exec.LookPath("docker"); err == nil && exec.Command("docker", "compose", "version").Run() == nil {
		argv = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		argv = []string{"docker-compose"}
	} else {
		t.Log("no docker compose CLI installed: `docker compose config` not run")
		return
	}
	var env strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&env, "%s=%s\n", k, v)
	}
	envFile := writeFile(t, "env", env.String())
	cmd := exec.Command(argv[0], append(argv[1:], "--env-file", envFile, "-f", filepath.Join(dir, "compose.yaml"), "config", "-q")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s config: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// checkComposeNginxSnippets checks that an nginx stack mounts deploy/nginx/mcp.conf as
// the site and, at /etc/nginx/snippets/, every file it includes, those files' own
// includes too, with the browser application example uncommented: turning it on needs
// no change to the stack.
func checkComposeNginxSnippets(t *testing.T, nginx composeService) {
	t.Helper()
	mounted := func(src, dst string) bool {
		return slices.ContainsFunc(nginx.Volumes, func(v any) bool { return mountSource(v) == src && mountTarget(v) == dst })
	}
	if !mounted("../../nginx/mcp.conf", "/etc/nginx/conf.d/default.conf") {
		t.Errorf("nginx: deploy/nginx/mcp.conf is not mounted at /etc/nginx/conf.d/default.conf")
	}
	include := regexp.MustCompile(`(?m)^\s*include\s+snippets/([^;\s]+);`)
	queue := []string{uncommentBrowserApp(t, "deploy/nginx/mcp.conf", readDeployFile(t, "nginx", "mcp.conf"))}
	seen := map[string]bool{}
	for len(queue) > 0 {
		conf := queue[0]
		queue = queue[1:]
		for _, m := range include.FindAllStringSubmatch(conf, -1) {
			name := m[1]
			if seen[name] {
				continue
			}
			seen[name] = true
			if !mounted("../../nginx/"+name, "/etc/nginx/snippets/"+name) {
				t.Errorf("nginx: deploy/nginx/%s (included as snippets/%s) is not mounted at /etc/nginx/snippets/%s", name, name, name)
			}
			queue = append(queue, readDeployFile(t, "nginx", name))
		}
	}
	if !seen["mcpguard-browser.conf"] || !seen["mcpguard-protect.conf"] || !seen["mcp-listen.conf"] {
		t.Errorf("nginx: mcp.conf includes %v, want mcpguard-browser.conf, mcpguard-protect.conf and mcp-listen.conf among them", seen)
	}
}
