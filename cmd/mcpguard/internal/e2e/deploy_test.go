package e2e

// Static checks of the proxy recipes in deploy/: the settings mcpguard depends on are
// present, and the files agree with each other, with the end-to-end tests and with
// deploy/README.md. Traefik is not run here; its files are parsed.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"sigs.k8s.io/yaml"
)

func readDeployFile(t *testing.T, parts ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{repoRoot(t), "deploy"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// traefikStatic is the part of Traefik's static configuration the recipe relies on.
type traefikStatic struct {
	EntryPoints map[string]struct {
		Address string `json:"address"`
		HTTP    struct {
			AliasHeadersStrategy string `json:"aliasHeadersStrategy"`
		} `json:"http"`
		ForwardedHeaders *struct {
			Insecure   bool     `json:"insecure"`
			TrustedIPs []string `json:"trustedIPs"`
		} `json:"forwardedHeaders"`
	} `json:"entryPoints"`
	Providers struct {
		File struct {
			Filename string `json:"filename"`
		} `json:"file"`
	} `json:"providers"`
}

// traefikDynamic is the part of Traefik's dynamic configuration the recipe relies on.
type traefikDynamic struct {
	HTTP struct {
		Middlewares map[string]struct {
			ForwardAuth *struct {
				Address             string   `json:"address"`
				TrustForwardHeader  *bool    `json:"trustForwardHeader"`
				AuthResponseHeaders []string `json:"authResponseHeaders"`
				MaxResponseBodySize *int64   `json:"maxResponseBodySize"`
				AuthSigninURL       string   `json:"authSigninURL"`
			} `json:"forwardAuth"`
			Headers *struct {
				CustomRequestHeaders map[string]string `json:"customRequestHeaders"`
			} `json:"headers"`
		} `json:"middlewares"`
		Routers map[string]struct {
			Rule        string   `json:"rule"`
			EntryPoints []string `json:"entryPoints"`
			Middlewares []string `json:"middlewares"`
			Service     string   `json:"service"`
			Priority    int      `json:"priority"`
		} `json:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
			} `json:"loadBalancer"`
		} `json:"services"`
	} `json:"http"`
}

// TestDeployRecipes checks the recipe of each proxy in deploy/.
func TestDeployRecipes(t *testing.T) {
	t.Run("traefik", deployTraefik)
	t.Run("traefik browser application", deployTraefikBrowser)
	t.Run("nginx", deployNginx)
	t.Run("caddy", deployCaddyfile)
}

// deployTraefik checks deploy/traefik: the forwardAuth middleware copies every
// identity header, trusts no client X-Forwarded-*, bounds the answer, and guards the MCP
// router; the discovery router and the entry points are as the README describes.
func deployTraefik(t *testing.T) {
	var static traefikStatic
	if err := yaml.Unmarshal([]byte(readDeployFile(t, "traefik", "traefik.yml")), &static); err != nil {
		t.Fatalf("traefik.yml: %v", err)
	}
	var dyn traefikDynamic
	if err := yaml.Unmarshal([]byte(readDeployFile(t, "traefik", "dynamic.yml")), &dyn); err != nil {
		t.Fatalf("dynamic.yml: %v", err)
	}

	if len(static.EntryPoints) == 0 {
		t.Fatal("traefik.yml: no entryPoints")
	}
	for name, ep := range static.EntryPoints {
		if ep.HTTP.AliasHeadersStrategy != "delete" {
			t.Errorf("traefik.yml: entryPoints.%s.http.aliasHeadersStrategy = %q, want delete", name, ep.HTTP.AliasHeadersStrategy)
		}
		if ep.ForwardedHeaders == nil || ep.ForwardedHeaders.Insecure {
			t.Errorf("traefik.yml: entryPoints.%s.forwardedHeaders must be set and not insecure", name)
		}
	}
	if got := static.Providers.File.Filename; filepath.Base(got) != "dynamic.yml" {
		t.Errorf("traefik.yml: providers.file.filename = %q, want .../dynamic.yml", got)
	}

	var authName string
	for name, m := range dyn.HTTP.Middlewares {
		fa := m.ForwardAuth
		if fa == nil {
			continue
		}
		if authName != "" {
			t.Fatalf("dynamic.yml: two forwardAuth middlewares, %s and %s", authName, name)
		}
		authName = name
		if fa.Address != "http://mcpguard:11000/auth" {
			t.Errorf("forwardAuth.address = %q, want http://mcpguard:11000/auth", fa.Address)
		}
		if fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
			t.Errorf("forwardAuth.trustForwardHeader must be set to false")
		}
		for _, hdr := range forwardauth.IdentityHeaders() {
			if !slices.Contains(fa.AuthResponseHeaders, hdr) {
				t.Errorf("forwardAuth.authResponseHeaders = %q, missing %s", fa.AuthResponseHeaders, hdr)
			}
		}
		if fa.MaxResponseBodySize == nil || *fa.MaxResponseBodySize <= 0 {
			t.Errorf("forwardAuth.maxResponseBodySize must be set to a positive size")
		}
		if fa.AuthSigninURL != "" {
			t.Errorf("forwardAuth.authSigninURL = %q: MCP clients need the 401, not a redirect", fa.AuthSigninURL)
		}
	}
	if authName == "" {
		t.Fatal("dynamic.yml: no forwardAuth middleware")
	}

	var mcpRouter, discovery bool
	for name, r := range dyn.HTTP.Routers {
		if _, ok := dyn.HTTP.Services[r.Service]; !ok {
			t.Errorf("router %s: service %q is not defined", name, r.Service)
		}
		for _, ep := range r.EntryPoints {
			if _, ok := static.EntryPoints[ep]; !ok {
				t.Errorf("router %s: entry point %q is not in traefik.yml", name, ep)
			}
		}
		for _, m := range r.Middlewares {
			if _, ok := dyn.HTTP.Middlewares[m]; !ok {
				t.Errorf("router %s: middleware %q is not defined", name, m)
			}
		}
		switch {
		case strings.Contains(r.Rule, "/.well-known/oauth-protected-resource"):
			discovery = true
			if !strings.Contains(r.Rule, "PathPrefix(`/.well-known/oauth-protected-resource/`)") {
				t.Errorf("router %s serves only the root metadata document; want the path-inserted form too", name)
			}
			if slices.Contains(r.Middlewares, authName) {
				t.Errorf("router %s: the discovery documents must be reachable without a credential", name)
			}
			if srv := dyn.HTTP.Services[r.Service].LoadBalancer.Servers; len(srv) != 1 || !strings.Contains(srv[0].URL, "mcpguard:11000") {
				t.Errorf("router %s: discovery must be served by mcpguard, not %q", name, r.Service)
			}
		case slices.Contains(r.Middlewares, authName):
			mcpRouter = true
			// Before forwardAuth only headers middlewares that delete: the client's copy of
			// the nginx dialect, which Traefik would pass on to mcpguard.
			at := slices.Index(r.Middlewares, authName)
			cleaned := map[string]bool{}
			for _, m := range r.Middlewares[:at] {
				h := dyn.HTTP.Middlewares[m].Headers
				if h == nil {
					t.Errorf("router %s: middleware %s before %s is not a headers middleware", name, m, authName)
					continue
				}
				for k, v := range h.CustomRequestHeaders {
					if v != "" {
						t.Errorf("router %s: middleware %s before %s sets %s", name, m, authName, k)
					}
					cleaned[k] = true
				}
			}
			for _, k := range []string{"X-Original-URI", "X-Original-URL", "X-Original-Method"} {
				if !cleaned[k] {
					t.Errorf("router %s: no middleware before %s deletes %s", name, authName, k)
				}
			}
			strip := false
			for _, m := range r.Middlewares[at+1:] {
				if h := dyn.HTTP.Middlewares[m].Headers; h != nil {
					_, key := h.CustomRequestHeaders["X-API-Key"]
					_, up := h.CustomRequestHeaders["X-Upstream-Authorization"]
					strip = strip || key && up
				}
			}
			if !strip {
				t.Errorf("router %s: no middleware after %s deletes X-API-Key and X-Upstream-Authorization", name, authName)
			}
		}
	}
	if !mcpRouter || !discovery {
		t.Errorf("dynamic.yml: want a router guarded by %s (found: %v) and a discovery router (found: %v)", authName, mcpRouter, discovery)
	}
}

// deployNginx checks deploy/nginx: the site files the end-to-end tests generate
// declare what the shipped ones declare, the verbatim files include only shipped files,
// and every identity header is both captured and passed on.
func deployNginx(t *testing.T) {
	upstreamRE := regexp.MustCompile(`(?m)^\s*upstream\s+(\S+)\s*\{`)
	names := func(s string) []string {
		var out []string
		for _, m := range upstreamRE.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	generated := nginxSiteFiles("127.0.0.1:1", "127.0.0.1:2", 3)
	if got, want := names(generated["snippets/mcp-upstreams.conf"]), names(readDeployFile(t, "nginx", "mcp-upstreams.conf")); !slices.Equal(got, want) || len(want) != 2 {
		t.Errorf("the tests' mcp-upstreams.conf declares %q, the shipped one %q", got, want)
	}
	shipped := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "deploy", "nginx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		shipped[e.Name()] = true
	}
	for name := range generated {
		if !shipped[filepath.Base(name)] {
			t.Errorf("the tests generate %s, which deploy/nginx does not ship", name)
		}
	}
	includeRE := regexp.MustCompile(`(?m)^\s*include\s+(\S+);`)
	passRE := regexp.MustCompile(`(?m)^\s*proxy_pass\s+http://([^/;\s]+)`)
	upstreams := names(readDeployFile(t, "nginx", "mcp-upstreams.conf"))
	for name := range nginxVerbatim {
		conf := readDeployFile(t, "nginx", name)
		for _, m := range includeRE.FindAllStringSubmatch(conf, -1) {
			if !shipped[filepath.Base(m[1])] {
				t.Errorf("%s includes %s, which deploy/nginx does not ship", name, m[1])
			}
		}
		for _, m := range passRE.FindAllStringSubmatch(conf, -1) {
			if !slices.Contains(upstreams, m[1]) {
				t.Errorf("%s proxies to %s, which mcp-upstreams.conf does not declare", name, m[1])
			}
		}
	}

	protect := readDeployFile(t, "nginx", "mcpguard-protect.conf")
	for _, hdr := range forwardauth.IdentityHeaders() {
		v := `\$upstream_http_` + strings.ReplaceAll(strings.ToLower(hdr), "-", "_")
		set := regexp.MustCompile(`(?m)^auth_request_set\s+\$(\w+)\s+` + v + `;`).FindStringSubmatch(protect)
		if set == nil {
			t.Errorf("mcpguard-protect.conf: no auth_request_set for %s", hdr)
			continue
		}
		if !regexp.MustCompile(`(?m)^proxy_set_header\s+` + regexp.QuoteMeta(hdr) + `\s+\$` + set[1] + `;`).MatchString(protect) {
			t.Errorf("mcpguard-protect.conf: $%s is not passed on as %s", set[1], hdr)
		}
	}
}

// deployAliasChars are the characters HTTP allows in a header name besides letters, digits and
// '-' (RFC 9110 tchar): each makes an alias of a dash name for WSGI, CGI and PHP.
const deployAliasChars = "!#$%&'*+.^_`|~"

// deployCaddyfile checks deploy/caddy/Caddyfile: adapted by the real Caddy with its
// documented defaults, it copies every identity header, deletes the client's copies and
// every aliasing header name before forward_auth, and points at the default addresses.
func deployCaddyfile(t *testing.T) {
	caddyfile := filepath.Join(repoRoot(t), "deploy", "caddy", "Caddyfile")
	text := readDeployFile(t, "caddy", "Caddyfile")
	copyRE := regexp.MustCompile(`(?m)^\s*copy_headers\s+(.+)$`)
	m := copyRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("Caddyfile: no copy_headers")
	}
	copied := strings.Fields(m[1])
	fa := strings.Index(text, "\t\t\tforward_auth ")
	for _, hdr := range forwardauth.IdentityHeaders() {
		if !slices.Contains(copied, hdr) {
			t.Errorf("Caddyfile: copy_headers %q misses %s", copied, hdr)
		}
		if hdr == "Authorization" {
			continue // the client's credential: deleted only after forward_auth, by copy_headers
		}
		if i := strings.Index(text, "request_header -"+hdr+"\n"); i < 0 || i > fa {
			t.Errorf("Caddyfile: no request_header -%s before forward_auth", hdr)
		}
	}

	bin := findBinary(t, "caddy", "apt-get install -y caddy")
	dir := t.TempDir()
	cmd := exec.Command(bin, "adapt", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy adapt %s: %v", caddyfile, err)
	}
	var cfg any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("caddy adapt output: %v", err)
	}
	deleted := map[string]bool{}
	var dials []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "delete":
					if list, ok := x.([]any); ok {
						for _, d := range list {
							s, _ := d.(string)
							deleted[s] = true
						}
					}
				case "dial":
					s, _ := x.(string)
					dials = append(dials, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(cfg)
	for _, c := range deployAliasChars {
		if p := "*" + string(c) + "*"; !deleted[p] {
			t.Errorf("Caddyfile: header names holding %q are not deleted (want request_header -%s)", c, p)
		}
	}
	for _, want := range []string{"mcpguard:11000", "mcp-server:8080"} {
		if !slices.Contains(dials, want) {
			t.Errorf("Caddyfile with no environment dials %q, want %s among them", dials, want)
		}
	}
}
