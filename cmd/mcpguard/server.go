package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"
)

// ownPaths are mcpguard's own endpoints; PROTECTED_PATH may not shadow them.
var ownPaths = []string{"/auth", "/healthz", "/readyz", "/health", "/metrics", oauth.WellKnownProtectedResource}

func reservedPath(p string) bool {
	for _, o := range ownPaths {
		if p == o || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// newServer builds the whole HTTP surface. The /auth endpoints bypass the ServeMux: for
// speed, and because the mux would answer an Envoy /auth/<path> holding "//" or ".."
// with a redirect, and a 3xx from an auth service is an error to every proxy.
func newServer(log zerolog.Logger, d *forwardauth.Decider, meta *oauth.MetadataHandler, as *oauth.Server, ready *readiness, m *metrics, protectedPath string) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d, meta, as, ready, m, protectedPath)
	authH, envoy := d.Handler("/auth", false), d.Handler("/auth", true)
	protected := authH
	if protectedPath != "" && protectedPath != "/auth" {
		protected = d.Handler(protectedPath, false)
	}
	rest := withDeadlines(hlog.NewHandler(log)(accessLog(mux)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /auth is on every MCP request: it skips the access-log middleware (it writes
		// its own audit line) and the mux.
		switch p := r.URL.Path; {
		case p == "/auth":
			authH.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/auth/"):
			envoy.ServeHTTP(w, r)
		case p == protectedPath:
			protected.ServeHTTP(w, r)
		default:
			rest.ServeHTTP(w, r)
		}
	})
}

// addRoutes lists every endpoint mcpguard serves.
func addRoutes(mux *http.ServeMux, d *forwardauth.Decider, meta *oauth.MetadataHandler, as *oauth.Server, ready *readiness, m *metrics, protectedPath string) {
	mux.Handle("/auth", d.Handler("/auth", false)) // any method: proxies send GET, HEAD or the original one
	mux.Handle("/auth/", d.Handler("/auth", true)) // Envoy ext_authz: /auth/<original path> (reached via newServer)
	if protectedPath != "" && protectedPath != "/auth" {
		mux.Handle(protectedPath, d.Handler(protectedPath, false)) // mcpauth's forwardAuth address
	}
	mux.Handle("GET "+oauth.WellKnownProtectedResource, meta)
	mux.Handle("OPTIONS "+oauth.WellKnownProtectedResource, meta)
	mux.Handle("GET "+oauth.WellKnownProtectedResource+"/{path...}", meta)
	mux.Handle("OPTIONS "+oauth.WellKnownProtectedResource+"/{path...}", meta)
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /health", handleHealth())
	mux.Handle("GET /metrics", m.handler())
	if as != nil {
		// The authorization server: metadata, /register, /authorize, /login, /consent,
		// /callback, /token, /revoke, /jwks, /logout.
		as.Routes(mux)
	}
}

// Server timeouts. Headers are bounded by the http.Server's ReadHeaderTimeout for every
// request; the rest is set per request, by withDeadlines and handleAuth. Variables only
// so that tests can shorten them.
var (
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request, body included.
	readTimeout = 15 * time.Second
	// writeTimeout bounds writing a response.
	writeTimeout = 30 * time.Second
)

// withDeadlines gives a request the read and write deadlines that http.Server's
// ReadTimeout and WriteTimeout would, for every endpoint but /auth. /auth reads no body
// (a subrequest that has one gets a read deadline in handleAuth) and answers with a few
// hundred bytes that the kernel takes at once, while two timers per request are a
// measurable part of its cost; a client that stops reading can hold a connection no
// longer than one that sends a request every IdleTimeout could anyway.
func withDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setDeadlines(w, true)
		next.ServeHTTP(w, r)
	})
}

// setDeadlines sets the read deadline of w's connection, and the write deadline too
// when write is set. A ResponseWriter that cannot (a test recorder) is left alone.
func setDeadlines(w http.ResponseWriter, write bool) {
	rc, now := http.NewResponseController(w), time.Now()
	rc.SetReadDeadline(now.Add(readTimeout))
	if write {
		rc.SetWriteDeadline(now.Add(writeTimeout))
	}
}

// accessLog logs every request but /auth (which writes its own audit line) and the probes.
func accessLog(next http.Handler) http.Handler {
	return hlog.AccessHandler(func(r *http.Request, status, size int, took time.Duration) {
		switch r.URL.Path {
		case "/auth", "/healthz", "/readyz", "/health", "/metrics":
			return
		}
		hlog.FromRequest(r).Info().Str("method", r.Method).Str("path", r.URL.Path).
			Int("status", status).Int("size", size).Int64("us", took.Microseconds()).Msg("request")
	})(next)
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
