package app

// The operations endpoints: /metrics, /readyz, /healthz and /health.

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpguard/mcpguard/oauth"
)

// metrics are mcpguard's Prometheus series, on a registry of their own so that two
// servers in one process (as in tests) never share state.
type metrics struct {
	registry *prometheus.Registry
	// jwksRefreshes counts JWKS and discovery fetches by issuer and result.
	jwksRefreshes *prometheus.CounterVec
	// registrations counts client registrations (dcr, cimd) by result.
	registrations *prometheus.CounterVec
	// grants counts /token answers by grant type and result.
	grants *prometheus.CounterVec
	// logins counts local login forms by result (ok, wrong_password, locked_out, busy).
	logins *prometheus.CounterVec
}

// newMetrics makes the series and registers them with the Go and process collectors.
func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		jwksRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpguard_jwks_refresh_total",
			Help: "Discovery and JWKS fetches of external JWT issuers, by issuer and result (ok, error).",
		}, []string{"issuer", "result"}),
	}
	m.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpguard_registrations_total",
		Help: "Client registrations of the authorization server by kind (dcr, cimd) and result.",
	}, []string{"kind", "result"})
	m.grants = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpguard_token_grants_total",
		Help: "Answers of the token endpoint by grant type and result (ok or the OAuth error code).",
	}, []string{"grant", "result"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpguard_logins_total",
		Help: "Local login forms submitted, by result (ok, wrong_password, locked_out, busy).",
	}, []string{"result"})
	m.registry.MustRegister(m.jwksRefreshes, m.registrations, m.grants, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// readiness collects the named checks /readyz runs: keys loaded, store reachable,
// upstream discovery done. Each returns nil when ready.
type readiness struct {
	mu     sync.Mutex
	checks []readyCheck
}

// readyCheck is one named check of /readyz.
type readyCheck struct {
	name  string
	check func() error
}

// add appends a check; it runs on every /readyz request.
func (r *readiness) add(name string, check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, readyCheck{name, check})
}

// ServeHTTP answers 200 when every check passes and 503 otherwise, with one line of JSON
// per check; failure texts are mcpguard's own and hold no secrets.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	checks := append([]readyCheck(nil), r.checks...)
	r.mu.Unlock()
	status := http.StatusOK
	out := map[string]string{}
	for _, c := range checks {
		if err := c.check(); err != nil {
			status = http.StatusServiceUnavailable
			out[c.name] = err.Error()
			continue
		}
		out[c.name] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", oauth.RetryAfterUnavailable)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": out})
}

// handleHealthz answers liveness probes.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
}

// handleHealth answers with the JSON mcpauth's /health returned, for existing monitors.
func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":200,"message":"OK"}` + "\n"))
	})
}
