package e2e

// Static checks of the stacks users copy: deploy/compose (Docker Compose) and
// deploy/kubernetes (manifests), the example MCP server's Dockerfile and the repository's
// Dockerfile. There is no Docker engine or Kubernetes API server in CI, so the files are
// parsed and checked against the code (config.go's variables, forwardauth.IdentityHeaders(), the
// authorization server's endpoints); `docker compose config` runs only when a compose CLI
// is installed.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
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
var fillInRE = regexp.MustCompile(`(CLIENT_ID|CLIENT_SECRET|SESSION_SECRET)$`)

func standIn(name string) string { return "stand-in-" + strings.ToLower(name) + "-0123456789abcdef" }

// composeStacks are the stacks of deploy/compose and the services each must have; the
// first is the proxy.
var composeStacks = map[string][]string{
	"traefik-google": {"traefik", "mcpguard", "mcp-server"},
	"nginx":          {"nginx", "mcpguard", "mcp-server"},
	"caddy":          {"caddy", "mcpguard", "mcp-server"},
}

// TestDeployCompose checks every stack of deploy/compose: the file parses with the
// expected services; mcpguard is built from the repository, reads only variables config.go
// knows and a configuration it accepts once .env.example is filled in, has its
// healthcheck, a volume for its store and a read-only root; bind mounts and build contexts
// exist; no secret is committed.
func TestDeployCompose(t *testing.T) {
	root := e2eRepoRoot(t)
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
				if strings.Contains(k, "SECRET") && v != "" {
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
			if !slices.ContainsFunc(g.Volumes, func(v any) bool { return mountTarget(v) == "/var/lib/mcpguard" }) {
				t.Errorf("mcpguard: no volume at /var/lib/mcpguard, where the default STORE lives")
			}

			env := keyValues(t, g.Environment)
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
			case "nginx":
				for _, f := range []string{"mcp.conf", "mcpguard-auth.conf", "mcpguard-protect.conf", "mcp-upstreams.conf", "mcp-listen.conf"} {
					if !slices.ContainsFunc(cf.Services["nginx"].Volumes, func(v any) bool { return mountSource(v) == "../../nginx/"+f }) {
						t.Errorf("nginx: deploy/nginx/%s is not mounted", f)
					}
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
// and strips mcpguard's credentials, the discovery router serves both metadata forms from
// mcpguard without a credential, and every entry point drops aliasing header names.
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

// k8sDoc is one document of a manifest file, in general form.
type k8sDoc struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	Data       map[string]any `json:"data"`
	raw        []byte
}

func (d k8sDoc) name() string { s, _ := d.Metadata["name"].(string); return s }

// k8sDocs splits a manifest file into its documents.
func k8sDocs(t *testing.T, path string) []k8sDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []k8sDoc
	for i, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var d k8sDoc
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatalf("%s: document %d: %v", filepath.Base(path), i+1, err)
		}
		if d.Kind == "" {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(part, "")) != "" {
				t.Errorf("%s: document %d has no kind", filepath.Base(path), i+1)
			}
			continue
		}
		d.raw = []byte(part)
		docs = append(docs, d)
	}
	return docs
}

// k8sManifests are the files of deploy/kubernetes and the apiVersion/kind of their
// documents, in order.
var k8sManifests = map[string][]string{
	"mcpguard.yaml": {"v1/Namespace", "v1/ServiceAccount", "v1/ConfigMap", "v1/PersistentVolumeClaim",
		"apps/v1/Deployment", "v1/Service"},
	"example-mcp-server.yaml": {"apps/v1/Deployment", "v1/Service"},
	"traefik-middleware.yaml": {"traefik.io/v1alpha1/Middleware", "traefik.io/v1alpha1/Middleware",
		"traefik.io/v1alpha1/Middleware", "traefik.io/v1alpha1/IngressRoute", "traefik.io/v1alpha1/IngressRoute"},
	"ingress-nginx.yaml": {"networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/Ingress"},
	"gateway-envoy.yaml": {"gateway.networking.k8s.io/v1/Gateway", "gateway.envoyproxy.io/v1alpha1/ClientTrafficPolicy",
		"gateway.networking.k8s.io/v1/HTTPRoute", "gateway.envoyproxy.io/v1alpha1/SecurityPolicy",
		"gateway.networking.k8s.io/v1/HTTPRoute", "gateway.networking.k8s.io/v1/HTTPRoute"},
}

// k8sDeployment is the part of a Deployment these tests read.
type k8sDeployment struct {
	Spec struct {
		Replicas *int `json:"replicas"`
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot *bool  `json:"runAsNonRoot"`
					FSGroup      *int64 `json:"fsGroup"`
				} `json:"securityContext"`
				Containers []struct {
					Name           string    `json:"name"`
					Image          string    `json:"image"`
					LivenessProbe  *k8sProbe `json:"livenessProbe"`
					ReadinessProbe *k8sProbe `json:"readinessProbe"`
					Ports          []struct {
						Name          string `json:"name"`
						ContainerPort int    `json:"containerPort"`
					} `json:"ports"`
					SecurityContext struct {
						RunAsNonRoot             *bool `json:"runAsNonRoot"`
						ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
						Capabilities             struct {
							Drop []string `json:"drop"`
						} `json:"capabilities"`
					} `json:"securityContext"`
					Resources struct {
						Requests map[string]string `json:"requests"`
						Limits   map[string]string `json:"limits"`
					} `json:"resources"`
					VolumeMounts []struct {
						Name      string `json:"name"`
						MountPath string `json:"mountPath"`
					} `json:"volumeMounts"`
					EnvFrom []struct {
						ConfigMapRef *struct{ Name string } `json:"configMapRef"`
						SecretRef    *struct{ Name string } `json:"secretRef"`
					} `json:"envFrom"`
				} `json:"containers"`
				Volumes []struct {
					Name                  string          `json:"name"`
					PersistentVolumeClaim *struct{}       `json:"persistentVolumeClaim"`
					EmptyDir              *map[string]any `json:"emptyDir"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
}

// TestDeployKubernetes checks deploy/kubernetes: every file splits into documents that
// parse, with the expected kinds and apiVersions; the Deployments are non-root with a
// read-only root filesystem, dropped capabilities and resources; mcpguard runs one replica
// with its probes on /healthz and /readyz, a volume for its store and only variables
// config.go knows; each proxy variant asks mcpguard's /auth and passes on every identity
// header.
func TestDeployKubernetes(t *testing.T) {
	root := e2eRepoRoot(t)
	dir := filepath.Join(root, "deploy", "kubernetes")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := k8sManifests[e.Name()]; !ok {
			t.Errorf("deploy/kubernetes/%s: a file this test does not know; add it to k8sManifests", e.Name())
		}
	}
	all := map[string][]k8sDoc{}
	for file, want := range k8sManifests {
		docs := k8sDocs(t, filepath.Join(dir, file))
		var got []string
		for _, d := range docs {
			got = append(got, d.APIVersion+"/"+d.Kind)
			if d.Kind == "Secret" {
				t.Errorf("%s: a Secret; secrets are created by hand, never committed", file)
			}
			if ns, _ := d.Metadata["namespace"].(string); d.Kind != "Namespace" && ns != "mcpguard" {
				t.Errorf("%s: %s %s is in namespace %q, want mcpguard", file, d.Kind, d.name(), ns)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: documents %q, want %q", file, got, want)
		}
		all[file] = docs
	}

	known := configEnvNames(t)
	for file, docs := range all {
		for _, d := range docs {
			if d.Kind != "Deployment" {
				continue
			}
			var dep k8sDeployment
			if err := yaml.Unmarshal(d.raw, &dep); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			checkK8sDeployment(t, file, d.name(), dep)
		}
	}

	docsOf := func(file, kind string) []k8sDoc {
		var out []k8sDoc
		for _, d := range all[file] {
			if d.Kind == kind {
				out = append(out, d)
			}
		}
		return out
	}
	// The ConfigMap: known variables, and a configuration mcpguard accepts once the
	// Secret's keys are filled in.
	cm := docsOf("mcpguard.yaml", "ConfigMap")[0]
	env := map[string]string{}
	for k, v := range cm.Data {
		if !known[k] {
			t.Errorf("ConfigMap mcpguard: %s is not a variable mcpguard reads", k)
		}
		env[k] = fmt.Sprint(v)
	}
	for _, k := range []string{"CLIENT_ID", "CLIENT_SECRET", "SESSION_SECRET"} {
		if _, ok := env[k]; ok {
			t.Errorf("ConfigMap mcpguard: %s belongs in the Secret", k)
		}
		env[k] = standIn(k)
	}
	if err := app.CheckEnv(func(k string) string { return env[k] }); err != nil {
		t.Errorf("mcpguard refuses the ConfigMap's configuration: %v", err)
	}
	svc := docsOf("mcpguard.yaml", "Service")[0]
	if port := jsonPath(svc.Spec, "ports", 0, "port"); fmt.Sprint(port) != "11000" {
		t.Errorf("Service mcpguard: port %v, want 11000", port)
	}

	const authURL = "http://mcpguard.mcpguard.svc.cluster.local:11000/auth"
	// Traefik: the forwardAuth Middleware and the IngressRoutes.
	var faName string
	for _, m := range docsOf("traefik-middleware.yaml", "Middleware") {
		if fa, ok := m.Spec["forwardAuth"].(map[string]any); ok {
			faName = m.name()
			if fa["address"] != authURL {
				t.Errorf("Middleware %s: address %v, want %s", m.name(), fa["address"], authURL)
			}
			if fa["trustForwardHeader"] != false {
				t.Errorf("Middleware %s: trustForwardHeader must be false", m.name())
			}
			if got := stringsOf(fa["authResponseHeaders"]); !slices.Equal(got, forwardauth.IdentityHeaders()) {
				t.Errorf("Middleware %s: authResponseHeaders %q, want %q", m.name(), got, forwardauth.IdentityHeaders())
			}
			if _, ok := fa["authSigninURL"]; ok {
				t.Errorf("Middleware %s: authSigninURL: MCP clients need the 401, not a redirect", m.name())
			}
		}
	}
	guarded := false
	for _, ir := range docsOf("traefik-middleware.yaml", "IngressRoute") {
		routes, _ := ir.Spec["routes"].([]any)
		for i := range routes {
			var mws []string
			for _, m := range anyList(jsonPath(ir.Spec, "routes", i, "middlewares")) {
				mws = append(mws, fmt.Sprint(jsonPath(m, "name")))
			}
			match := fmt.Sprint(jsonPath(ir.Spec, "routes", i, "match"))
			if strings.Contains(match, "/.well-known/") && len(mws) > 0 {
				t.Errorf("IngressRoute %s: the discovery route must not require a credential", ir.name())
			}
			if len(mws) > 0 {
				guarded = true
				if want := []string{"mcpguard-clean-request", faName, "mcpguard-strip-credentials"}; !slices.Equal(mws, want) {
					t.Errorf("IngressRoute %s: middlewares %q, want %q", ir.name(), mws, want)
				}
			}
		}
	}
	if !guarded || faName == "" {
		t.Errorf("traefik-middleware.yaml: no route guarded by a forwardAuth Middleware")
	}

	// ingress-nginx: the auth-url annotations.
	var nginxAS []string
	for _, ing := range docsOf("ingress-nginx.yaml", "Ingress") {
		ann, _ := ing.Metadata["annotations"].(map[string]any)
		switch ing.name() {
		case "mcp":
			if ann["nginx.ingress.kubernetes.io/auth-url"] != authURL {
				t.Errorf("Ingress mcp: auth-url %v, want %s", ann["nginx.ingress.kubernetes.io/auth-url"], authURL)
			}
			if got := strings.Split(fmt.Sprint(ann["nginx.ingress.kubernetes.io/auth-response-headers"]), ","); !slices.Equal(got, forwardauth.IdentityHeaders()) {
				t.Errorf("Ingress mcp: auth-response-headers %q, want %q", got, forwardauth.IdentityHeaders())
			}
			if _, ok := ann["nginx.ingress.kubernetes.io/auth-signin"]; ok {
				t.Errorf("Ingress mcp: auth-signin: MCP clients need the 401, not a redirect")
			}
		case "mcpguard":
			for _, p := range anyList(jsonPath(ing.Spec, "rules", 0, "http", "paths")) {
				nginxAS = append(nginxAS, fmt.Sprint(jsonPath(p, "path")))
			}
		}
	}

	// Envoy Gateway: the SecurityPolicy's extAuth.
	sp := docsOf("gateway-envoy.yaml", "SecurityPolicy")[0]
	if got := jsonPath(sp.Spec, "extAuth", "http", "path"); got != "/auth" {
		t.Errorf("SecurityPolicy: extAuth.http.path %v, want /auth (mcpguard's Envoy dialect)", got)
	}
	if got := stringsOf(jsonPath(sp.Spec, "extAuth", "http", "headersToBackend")); !slices.Equal(got, forwardauth.IdentityHeaders()) {
		t.Errorf("SecurityPolicy: headersToBackend %q, want %q", got, forwardauth.IdentityHeaders())
	}
	be := jsonPath(sp.Spec, "extAuth", "http", "backendRefs", 0)
	if jsonPath(be, "name") != "mcpguard" || fmt.Sprint(jsonPath(be, "port")) != "11000" {
		t.Errorf("SecurityPolicy: backendRefs[0] %v, want mcpguard:11000", be)
	}
	if jsonPath(sp.Spec, "extAuth", "failOpen") != false {
		t.Errorf("SecurityPolicy: failOpen must be false")
	}
	toAuth := stringsOf(jsonPath(sp.Spec, "extAuth", "headersToExtAuth"))
	for _, h := range []string{"x-forwarded-proto", "x-forwarded-for", "x-api-key", "mcp-protocol-version", "mcp-method", "mcp-name"} {
		if !slices.Contains(toAuth, h) {
			t.Errorf("SecurityPolicy: headersToExtAuth lacks %s, which mcpguard reads", h)
		}
	}
	if target := jsonPath(sp.Spec, "targetRefs", 0, "name"); target != "mcp" {
		t.Errorf("SecurityPolicy: targets %v, want the HTTPRoute mcp", target)
	}
	ctp := docsOf("gateway-envoy.yaml", "ClientTrafficPolicy")[0]
	early := stringsOf(jsonPath(ctp.Spec, "headers", "earlyRequestHeaders", "remove"))
	for _, h := range forwardauth.IdentityHeaders() {
		if h != "Authorization" && !slices.Contains(early, h) {
			t.Errorf("ClientTrafficPolicy: earlyRequestHeaders.remove lacks %s", h)
		}
	}
	var gatewayAS []string
	for _, r := range docsOf("gateway-envoy.yaml", "HTTPRoute") {
		if r.name() != "mcpguard" {
			continue
		}
		for _, m := range anyList(jsonPath(r.Spec, "rules", 0, "matches")) {
			gatewayAS = append(gatewayAS, fmt.Sprint(jsonPath(m, "path", "value")))
		}
	}
	checkASAllowlist(t, "ingress-nginx.yaml", nginxAS)
	checkASAllowlist(t, "gateway-envoy.yaml", gatewayAS)
}

// checkK8sDeployment checks a Deployment's pod: probes, non-root, read-only root,
// dropped capabilities, resources; and for mcpguard its probes, replicas and store.
func checkK8sDeployment(t *testing.T, file, name string, dep k8sDeployment) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	for _, c := range pod.Containers {
		where := fmt.Sprintf("%s: Deployment %s, container %s", file, name, c.Name)
		sc := c.SecurityContext
		if !(isTrue(pod.SecurityContext.RunAsNonRoot) || isTrue(sc.RunAsNonRoot)) {
			t.Errorf("%s: runAsNonRoot is not true", where)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: want readOnlyRootFilesystem: true and allowPrivilegeEscalation: false", where)
		}
		if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("%s: capabilities.drop %q, want [ALL]", where, sc.Capabilities.Drop)
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
				t.Errorf("%s: no %s request and limit", where, r)
			}
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil {
			t.Errorf("%s: want HTTP liveness and readiness probes", where)
			continue
		}
		if c.Name != "mcpguard" {
			continue
		}
		if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: probes on %s and %s, want /healthz and /readyz", where, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
		}
		port := fmt.Sprint(c.LivenessProbe.HTTPGet.Port)
		if !slices.ContainsFunc(c.Ports, func(p struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		}) bool {
			return p.ContainerPort == 11000 && (p.Name == port || port == "11000")
		}) {
			t.Errorf("%s: the probes' port %s is not containerPort 11000", where, port)
		}
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
			t.Errorf("%s: bbolt allows one process: want replicas: 1 and strategy Recreate", where)
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(m struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
		}) bool {
			return m.MountPath == "/var/lib/mcpguard"
		}) {
			t.Errorf("%s: no volume at /var/lib/mcpguard, where the default STORE lives", where)
		}
		if pod.SecurityContext.FSGroup == nil {
			t.Errorf("%s: no fsGroup: the data volume would not be writable for the non-root user", where)
		}
		secret := false
		for _, ef := range c.EnvFrom {
			secret = secret || ef.SecretRef != nil && ef.SecretRef.Name == "mcpguard"
		}
		if !secret {
			t.Errorf("%s: the Secret mcpguard is not read (envFrom)", where)
		}
	}
}

// checkASAllowlist checks the paths a manifest exposes on mcpguard's own origin: every
// endpoint the authorization-server metadata advertises, plus the browser steps of the
// login, each one mcpguard serves; never the decision endpoints or the metrics.
func checkASAllowlist(t *testing.T, file string, paths []string) {
	t.Helper()
	root := e2eRepoRoot(t)
	h, _ := testServer(t, map[string]string{
		"PROVIDER":         "local",
		"LOCAL_USERS_FILE": filepath.Join(root, "examples", "demo-users.yaml"),
		"ISSUER_URL":       "https://auth.example.com",
		"RESOURCE_URL":     "https://mcp.example.com/mcp",
		"STORE":            "memory://",
	})
	get := func(p string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "https://auth.example.com"+p, nil)
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := get("/.well-known/oauth-authorization-server")
	var meta map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &meta); err != nil || w.Code != http.StatusOK {
		t.Fatalf("authorization-server metadata: %d %s", w.Code, w.Body)
	}
	covered := func(p string) bool {
		return slices.ContainsFunc(paths, func(a string) bool {
			return a == p || (a == "/.well-known" && strings.HasPrefix(p, "/.well-known/"))
		})
	}
	want := []string{"/login", "/callback", "/consent", "/logout"}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint", "jwks_uri"} {
		u, err := url.Parse(fmt.Sprint(meta[k]))
		if err != nil || u.Path == "" {
			t.Fatalf("metadata %s = %v", k, meta[k])
		}
		want = append(want, u.Path)
	}
	for _, p := range want {
		if !covered(p) {
			t.Errorf("%s: mcpguard's origin does not expose %s", file, p)
		}
	}
	// A path no route matches gets the mux's plain 404 (an endpoint may answer 404 itself,
	// as /callback does without an upstream provider, with its own page).
	notRouted := func(p string) bool {
		w := get(p)
		return w.Code == http.StatusNotFound && strings.HasPrefix(w.Body.String(), "404 page not found")
	}
	if !notRouted("/no-such-endpoint") || notRouted("/jwks") {
		t.Fatalf("cannot tell routed from unrouted paths; the check below would prove nothing")
	}
	for _, p := range paths {
		if p == "/auth" || strings.HasPrefix(p, "/auth/") || p == "/sse" || p == "/metrics" || p == "/" {
			t.Errorf("%s: mcpguard's origin exposes %s", file, p)
		}
		if p != "/.well-known" && notRouted(p) {
			t.Errorf("%s: exposes %s, which mcpguard does not serve", file, p)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// jsonPath walks maps (string keys) and lists (int indexes) of decoded YAML.
func jsonPath(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestDeployFilesReferenced checks that every file under deploy/ is referenced from
// README.md or deploy/README.md: by its path, or by its folder and its name.
func TestDeployFilesReferenced(t *testing.T) {
	root := e2eRepoRoot(t)
	var text strings.Builder
	for _, f := range []string{"README.md", filepath.Join("deploy", "README.md")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	docs := text.String()
	deploy := filepath.Join(root, "deploy")
	err := filepath.WalkDir(deploy, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == filepath.Join(deploy, "README.md") {
			return err
		}
		rel, _ := filepath.Rel(deploy, p)
		rel = filepath.ToSlash(rel)
		dir := filepath.ToSlash(filepath.Dir(rel))
		byPath := strings.Contains(docs, rel)
		byDir := strings.Contains(docs, "deploy/"+dir) && strings.Contains(docs, d.Name())
		if !byPath && !byDir {
			t.Errorf("deploy/%s is referenced from neither README.md nor deploy/README.md", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployDockerfiles checks the repository's Dockerfile against what issue 5 asks
// (multi-stage, the Makefile's build, distroless, non-root, port 11000, a HEALTHCHECK
// that runs mcpguard healthcheck) and the example MCP server's Dockerfile.
func TestDeployDockerfiles(t *testing.T) {
	root := e2eRepoRoot(t)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	main := read("Dockerfile")
	for _, want := range []string{
		`(?m)^FROM \S+ AS build$`,
		`(?m)^RUN make build `,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER nonroot`,
		`(?m)^EXPOSE 11000$`,
		`(?m)^HEALTHCHECK .*\n?.*CMD \["/usr/local/bin/mcpguard", "healthcheck"\]`,
	} {
		if !regexp.MustCompile(want).MatchString(main) {
			t.Errorf("Dockerfile does not match %s", want)
		}
	}
	example := read(filepath.Join("examples", "mcp-server", "Dockerfile"))
	for _, want := range []string{
		`(?m)^FROM \S+ AS build$`,
		`(?m)CGO_ENABLED=0 go build .* \./examples/mcp-server$`,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER nonroot`,
		`(?m)^CMD \["-listen", "0\.0\.0\.0:8080"\]$`,
	} {
		if !regexp.MustCompile(want).MatchString(example) {
			t.Errorf("examples/mcp-server/Dockerfile does not match %s", want)
		}
	}
}
