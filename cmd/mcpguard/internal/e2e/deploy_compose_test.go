package e2e

// Static checks of the stacks users copy: deploy/compose (Docker Compose) and
// deploy/kubernetes (manifests), the example MCP server's Dockerfile and the repository's
// Dockerfile. There is no Docker engine or Kubernetes API server in CI, so the files are
// parsed and checked against the code (the variables mcpguard reads, the identity
// headers of forwardauth, the authorization server's endpoints); `docker compose config` runs only when a compose CLI
// is installed.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
	"sigs.k8s.io/yaml"
)

// configEnvNames are the variables mcpguard reads.
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, name := range app.Variables() {
		names[name] = true
	}
	if len(names) < 30 || !names["PORT"] || !names["STORE"] {
		t.Fatalf("mcpguard reads %d variables, PORT and STORE among them?", len(names))
	}
	return names
}

// composeService is the part of a Compose service these tests read.
type composeService struct {
	Image       string   `json:"image"`
	Build       any      `json:"build"`       // "context" or {context, dockerfile}
	Command     any      `json:"command"`     // string or list
	Environment any      `json:"environment"` // map or list of NAME=value
	Labels      any      `json:"labels"`      // map or list of key=value
	Volumes     []any    `json:"volumes"`     // short "src:dst[:ro]" or long {source, target}
	Ports       []any    `json:"ports"`
	ReadOnly    bool     `json:"read_only"`
	CapDrop     []string `json:"cap_drop"`
	Healthcheck *struct {
		Test any `json:"test"`
	} `json:"healthcheck"`
	Deploy *struct {
		Replicas *int `json:"replicas"`
	} `json:"deploy"`
}

type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

// keyValues turns a Compose map or NAME=value list into a map.
func keyValues(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch v := v.(type) {
	case nil:
	case map[string]any:
		for k, x := range v {
			if x == nil {
				out[k] = ""
			} else {
				out[k] = fmt.Sprint(x)
			}
		}
	case []any:
		for _, x := range v {
			k, val, _ := strings.Cut(fmt.Sprint(x), "=")
			out[k] = val
		}
	default:
		t.Fatalf("unexpected %T", v)
	}
	return out
}

// strList turns a Compose string-or-list into a list (a string is split on spaces).
func strList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

var composeVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// composeInterpolate substitutes ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?message} and ${NAME?message} as Compose does, from vars.
func composeInterpolate(s string, vars map[string]string) (string, error) {
	var err error
	out := composeVarRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVarRE.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		val, set := vars[name]
		switch op {
		case ":-":
			if val == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?":
			if val == "" {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		case "?":
			if !set {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		}
		return val
	})
	return strings.ReplaceAll(out, "$$", "$"), err
}

// readEnvExample reads a .env file: NAME=value lines, # comments.
func readEnvExample(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not NAME=value", path, l)
		}
		vars[k] = v
	}
	return vars
}

// fillInVars are the .env.example values a user must fill in (empty in the file, never
// committed); the tests give them stand-ins.
var fillInRE = regexp.MustCompile(`(CLIENT_ID|CLIENT_SECRET|SESSION_SECRET|POSTGRES_PASSWORD)$`)

func standIn(name string) string { return "stand-in-" + strings.ToLower(name) + "-0123456789abcdef" }

// composeStacks are the stacks of deploy/compose and the services each must have; the
// first is the proxy.
var composeStacks = map[string][]string{
	"traefik-google": {"traefik", "mcpguard", "mcp-server"},
	"nginx":          {"nginx", "mcpguard", "mcp-server"},
	"caddy":          {"caddy", "mcpguard", "mcp-server"},
	"postgres":       {"nginx", "mcpguard", "mcp-server", "postgres"},
}

// TestDeployCompose checks every stack of deploy/compose: the file parses with the
// expected services; mcpguard is built from the repository, reads only variables mcpguard
// knows and a configuration it accepts once .env.example is filled in, has its
// healthcheck, a volume for its store and a read-only root; bind mounts and build contexts
// exist; no secret is committed.
func TestDeployCompose(t *testing.T) {
	root := repoRoot(t)
	known := configEnvNames(t)
	entries, err := os.ReadDir(filepath.Join(root, "deploy", "compose"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := composeStacks[e.Name()]; !ok {
			t.Errorf("deploy/compose/%s: a stack this test does not know; add it to composeStacks", e.Name())
		}
	}
	for stack, services := range composeStacks {
		t.Run(stack, func(t *testing.T) {
			dir := filepath.Join(root, "deploy", "compose", stack)
			raw, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var cf composeFile
			if err := yaml.Unmarshal(raw, &cf); err != nil {
				t.Fatalf("compose.yaml: %v", err)
			}
			for _, s := range services {
				if _, ok := cf.Services[s]; !ok {
					t.Errorf("compose.yaml: no service %q", s)
				}
			}
			if len(cf.Services) != len(services) {
				t.Errorf("compose.yaml: services %v, want exactly %v", slices.Sorted(maps.Keys(cf.Services)), services)
			}

			vars := readEnvExample(t, filepath.Join(dir, ".env.example"))
			for k, v := range vars {
				if (strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD")) && v != "" {
					t.Errorf(".env.example: %s has a value; secrets are never committed", k)
				}
				if fillInRE.MatchString(k) && v == "" {
					vars[k] = standIn(k)
				}
			}
			for _, m := range composeVarRE.FindAllStringSubmatch(string(raw), -1) {
				if _, ok := vars[m[1]]; !ok {
					t.Errorf("compose.yaml uses ${%s}, which .env.example does not list", m[1])
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".env")); err == nil {
				t.Logf("deploy/compose/%s/.env exists: never commit it", stack)
			}

			for name, svc := range cf.Services {
				checkComposeMounts(t, dir, name, svc)
			}
			g := cf.Services["mcpguard"]
			if g.Image != "ghcr.io/mcpguard/mcpguard:latest" {
				t.Errorf("mcpguard: image = %q, want ghcr.io/mcpguard/mcpguard:latest", g.Image)
			}
			if ctx := buildContext(g.Build); filepath.Clean(filepath.Join(dir, ctx)) != root {
				t.Errorf("mcpguard: build context %q is not the repository root (../../..)", ctx)
			}
			if hc := g.Healthcheck; hc == nil || !slices.Equal(strList(hc.Test), []string{"CMD", "/usr/local/bin/mcpguard", "healthcheck"}) {
				t.Errorf("mcpguard: healthcheck must run [CMD /usr/local/bin/mcpguard healthcheck]")
			}
			if !g.ReadOnly || !slices.Contains(g.CapDrop, "ALL") {
				t.Errorf("mcpguard: want read_only: true and cap_drop: [ALL]")
			}
			if len(g.Ports) > 0 {
				t.Errorf("mcpguard: publishes %v; only the proxy should reach it", g.Ports)
			}
			env := keyValues(t, g.Environment)
			if store := env["STORE"]; store == "" || strings.HasPrefix(store, "bolt:") {
				if !slices.ContainsFunc(g.Volumes, func(v any) bool { return mountTarget(v) == "/var/lib/mcpguard" }) {
					t.Errorf("mcpguard: no volume at /var/lib/mcpguard, where the default STORE lives")
				}
				if g.Deploy != nil && g.Deploy.Replicas != nil && *g.Deploy.Replicas != 1 {
					t.Errorf("mcpguard: %d replicas on a bolt file, which one process opens", *g.Deploy.Replicas)
				}
			}
			resolved := map[string]string{}
			for k, v := range env {
				if !known[k] {
					t.Errorf("mcpguard: environment %s is not a variable mcpguard reads", k)
				}
				if fillInRE.MatchString(k) && !strings.Contains(v, "${") {
					t.Errorf("mcpguard: %s is written in compose.yaml; take it from .env", k)
				}
				r, err := composeInterpolate(v, vars)
				if err != nil {
					t.Errorf("mcpguard: %s with .env.example filled in: %v", k, err)
				}
				resolved[k] = r
			}
			if err := app.CheckEnv(func(k string) string { return resolved[k] }); err != nil {
				t.Errorf("mcpguard refuses the stack's configuration: %v", err)
			}

			switch stack {
			case "traefik-google":
				checkComposeTraefik(t, cf, vars)
			case "nginx", "postgres":
				checkComposeNginxSnippets(t, cf.Services["nginx"])
				if stack == "postgres" {
					checkComposePostgres(t, cf, resolved["STORE"], vars)
				}
			case "caddy":
				c := cf.Services["caddy"]
				if !slices.ContainsFunc(c.Volumes, func(v any) bool {
					return mountSource(v) == "../../caddy/Caddyfile" && mountTarget(v) == "/etc/caddy/Caddyfile"
				}) {
					t.Errorf("caddy: deploy/caddy/Caddyfile is not mounted at /etc/caddy/Caddyfile")
				}
				ce := keyValues(t, c.Environment)
				for _, k := range []string{"MCP_SITE", "AUTH_SITE"} {
					if ce[k] == "" {
						t.Errorf("caddy: %s (a Caddyfile placeholder) is not set", k)
					}
				}
			}
			checkComposeConfigCLI(t, dir, vars)
		})
	}
}
