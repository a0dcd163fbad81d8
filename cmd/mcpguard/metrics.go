package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
}

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
	m.registry.MustRegister(m.jwksRefreshes, m.registrations, m.grants,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
