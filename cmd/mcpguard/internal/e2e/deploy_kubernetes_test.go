package e2e

// Static checks of deploy/kubernetes: the manifests parse, agree with each other and configure a mcpguard that starts.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"sigs.k8s.io/yaml"
)

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
	"mcpguard-replicas.yaml": {"v1/Namespace", "v1/ServiceAccount", "v1/ConfigMap", "apps/v1/Deployment",
		"v1/Service", "policy/v1/PodDisruptionBudget", "v1/PersistentVolumeClaim", "apps/v1/Deployment",
		"v1/Service", "networking.k8s.io/v1/NetworkPolicy"},
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
	TCPSocket *struct {
		Port any `json:"port"`
	} `json:"tcpSocket"`
	Exec *struct {
		Command []string `json:"command"`
	} `json:"exec"`
}

// TestDeployKubernetes checks deploy/kubernetes: every file splits into documents that
// parse, with the expected kinds and apiVersions; the Deployments are non-root with a
// read-only root filesystem, dropped capabilities and resources; mcpguard runs one replica
// with its probes on /healthz and /readyz, a volume for its store and only variables
// mcpguard knows, or (mcpguard-replicas.yaml) three replicas on a shared store with a
// PodDisruptionBudget; each proxy variant asks mcpguard's /auth and passes on every identity
// header.
func TestDeployKubernetes(t *testing.T) {
	root := repoRoot(t)
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
		var store string
		for _, d := range docs {
			if d.Kind == "ConfigMap" && d.name() == "mcpguard" {
				store = fmt.Sprint(d.Data["STORE"])
			}
		}
		for _, d := range docs {
			if d.Kind != "Deployment" {
				continue
			}
			var dep k8sDeployment
			if err := yaml.Unmarshal(d.raw, &dep); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			checkK8sDeployment(t, file, d.name(), store, dep)
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
	// The ConfigMaps: known variables, and a configuration mcpguard accepts once the
	// Secret's keys are filled in.
	for _, file := range []string{"mcpguard.yaml", "mcpguard-replicas.yaml"} {
		cm := docsOf(file, "ConfigMap")[0]
		env := map[string]string{}
		for k, v := range cm.Data {
			if !known[k] {
				t.Errorf("%s: ConfigMap mcpguard: %s is not a variable mcpguard reads", file, k)
			}
			env[k] = fmt.Sprint(v)
		}
		for _, k := range []string{"CLIENT_ID", "CLIENT_SECRET", "SESSION_SECRET"} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: ConfigMap mcpguard: %s belongs in the Secret", file, k)
			}
			env[k] = standIn(k)
		}
		if err := app.CheckEnv(func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: mcpguard refuses the ConfigMap's configuration: %v", file, err)
		}
		svc := docsOf(file, "Service")[0]
		if port := jsonPath(svc.Spec, "ports", 0, "port"); svc.name() != "mcpguard" || fmt.Sprint(port) != "11000" {
			t.Errorf("%s: Service %s: port %v, want mcpguard on 11000", file, svc.name(), port)
		}
	}
	checkK8sReplicas(t, docsOf("mcpguard-replicas.yaml", "ConfigMap")[0], docsOf("mcpguard-replicas.yaml", "PodDisruptionBudget"),
		docsOf("mcpguard-replicas.yaml", "Service"), docsOf("mcpguard-replicas.yaml", "NetworkPolicy"))

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
	guarded, traefikDiscovery := false, false
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
			if strings.Contains(match, "Host(`"+mcpHost+"`)") && len(mws) == 0 {
				checkLegacyRouted(t, "traefik-middleware.yaml: IngressRoute "+ir.name(), traefikRuleHas(match))
				traefikDiscovery = true
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
	if !traefikDiscovery {
		t.Errorf("traefik-middleware.yaml: no route of %s without a credential (discovery and the 2025-03-26 endpoints)", mcpHost)
	}

	// ingress-nginx: the auth-url annotations.
	var nginxAS, nginxDiscovery []string
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
		case "mcp-discovery":
			for _, p := range anyList(jsonPath(ing.Spec, "rules", 0, "http", "paths")) {
				nginxDiscovery = append(nginxDiscovery, fmt.Sprint(jsonPath(p, "path")))
			}
		}
	}
	checkLegacyRouted(t, "ingress-nginx.yaml: Ingress mcp-discovery", pathsHave(nginxDiscovery))

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
	var gatewayAS, gatewayDiscovery []string
	for _, r := range docsOf("gateway-envoy.yaml", "HTTPRoute") {
		for _, m := range anyList(jsonPath(r.Spec, "rules", 0, "matches")) {
			switch r.name() {
			case "mcpguard":
				gatewayAS = append(gatewayAS, fmt.Sprint(jsonPath(m, "path", "value")))
			case "mcp-discovery":
				gatewayDiscovery = append(gatewayDiscovery, fmt.Sprint(jsonPath(m, "path", "value")))
			}
		}
	}
	checkLegacyRouted(t, "gateway-envoy.yaml: HTTPRoute mcp-discovery", pathsHave(gatewayDiscovery))
	checkASAllowlist(t, "ingress-nginx.yaml", nginxAS)
	checkASAllowlist(t, "gateway-envoy.yaml", gatewayAS)
}
