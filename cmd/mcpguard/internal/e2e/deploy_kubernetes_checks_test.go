package e2e

// The checks of one Kubernetes workload and of what an ingress exposes of mcpguard.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkK8sDeployment checks a Deployment's pod: probes, non-root, read-only root,
// dropped capabilities, resources; and for mcpguard its probes, replicas and store: one
// replica with a volume on bolt, several without one on a shared store.
func checkK8sDeployment(t *testing.T, file, name, store string, dep k8sDeployment) {
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
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("%s: want liveness and readiness probes", where)
			continue
		}
		if c.Name != "mcpguard" {
			continue
		}
		if c.LivenessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet == nil {
			t.Errorf("%s: want HTTP liveness and readiness probes", where)
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
		if !strings.HasPrefix(store, "bolt:") {
			if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 || dep.Spec.Strategy.Type != "RollingUpdate" {
				t.Errorf("%s: a shared store (%s): want replicas: 3 and strategy RollingUpdate", where, store)
			}
			if len(c.VolumeMounts) > 0 || len(pod.Volumes) > 0 {
				t.Errorf("%s: a shared store needs no volume; the replicas would each write their own", where)
			}
		} else {
			var mounts []string
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, m.MountPath)
			}
			checkK8sBolt(t, where, dep, mounts)
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

// checkK8sBolt checks a mcpguard Deployment on a bbolt file: one replica, Recreate, a
// writable volume at the store's folder.
func checkK8sBolt(t *testing.T, where string, dep k8sDeployment, mounts []string) {
	t.Helper()
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		t.Errorf("%s: bbolt allows one process: want replicas: 1 and strategy Recreate", where)
	}
	if !slices.Contains(mounts, "/var/lib/mcpguard") {
		t.Errorf("%s: no volume at /var/lib/mcpguard, where the default STORE lives", where)
	}
	if dep.Spec.Template.Spec.SecurityContext.FSGroup == nil {
		t.Errorf("%s: no fsGroup: the data volume would not be writable for the non-root user", where)
	}
}

// checkK8sReplicas checks what only mcpguard-replicas.yaml has: a store every replica
// shares, a PodDisruptionBudget that keeps two of the three, and a Redis only mcpguard's
// pods reach.
func checkK8sReplicas(t *testing.T, cm k8sDoc, pdbs, services, policies []k8sDoc) {
	t.Helper()
	const file = "mcpguard-replicas.yaml"
	store := fmt.Sprint(cm.Data["STORE"])
	if !strings.HasPrefix(store, "redis://mcpguard-redis.mcpguard.svc.cluster.local:6379/") {
		t.Errorf("%s: STORE %q, want the file's Redis Service", file, store)
	}
	if len(pdbs) != 1 || fmt.Sprint(jsonPath(pdbs[0].Spec, "minAvailable")) != "2" ||
		jsonPath(pdbs[0].Spec, "selector", "matchLabels", "app.kubernetes.io/name") != "mcpguard" {
		t.Errorf("%s: want one PodDisruptionBudget with minAvailable: 2 selecting mcpguard's pods", file)
	}
	redis := false
	for _, s := range services {
		redis = redis || s.name() == "mcpguard-redis" && fmt.Sprint(jsonPath(s.Spec, "ports", 0, "port")) == "6379"
	}
	if !redis {
		t.Errorf("%s: no Service mcpguard-redis on 6379", file)
	}
	if len(policies) != 1 || jsonPath(policies[0].Spec, "podSelector", "matchLabels", "app.kubernetes.io/name") != "mcpguard-redis" ||
		jsonPath(policies[0].Spec, "ingress", 0, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/name") != "mcpguard" {
		t.Errorf("%s: want a NetworkPolicy letting only mcpguard's pods reach Redis", file)
	}
}

// checkASAllowlist checks the paths a manifest exposes on mcpguard's own origin: every
// endpoint the authorization-server metadata advertises, plus the browser steps of the
// login, each one mcpguard serves; never the decision endpoints or the metrics.
func checkASAllowlist(t *testing.T, file string, paths []string) {
	t.Helper()
	root := repoRoot(t)
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
	want := []string{"/login", "/callback", "/consent", "/logout", "/account", "/account/grants/revoke", "/account/sessions/revoke"}
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
