package app

// mcpguard's HTTP surface: every endpoint, and the middleware in front of those that are
// not /auth.

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

// reservedPath reports whether p is one of ownPaths or below one.
func reservedPath(p string) bool {
	for _, o := range ownPaths {
		if p == o || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// addRoutes lists every endpoint mcpguard serves.
func addRoutes(rt *router, d *forwardauth.Decider, meta *oauth.MetadataHandler, as *oauth.Server, ready *readiness, m *metrics, protectedPath string) {
	rt.decision("/auth", d.Handler("/auth", false))       // any method: proxies send GET, HEAD or the original one
	rt.decisionPrefix("/auth/", d.Handler("/auth", true)) // Envoy ext_authz: /auth/<original path>
	if protectedPath != "" && protectedPath != "/auth" {
		rt.decision(protectedPath, d.Handler(protectedPath, false)) // mcpauth's forwardAuth address
	}
	rt.handle("GET "+oauth.WellKnownProtectedResource, meta)
	rt.handle("OPTIONS "+oauth.WellKnownProtectedResource, meta)
	rt.handle("GET "+oauth.WellKnownProtectedResource+"/{path...}", meta)
	rt.handle("OPTIONS "+oauth.WellKnownProtectedResource+"/{path...}", meta)
	rt.handle("GET /healthz", handleHealthz())
	rt.handle("GET /readyz", ready)
	rt.handle("GET /health", handleHealth())
	rt.handle("GET /metrics", m.handler())
	if as != nil {
		// The authorization server: metadata, /register, /authorize, /login, /consent,
		// /callback, /token, /revoke, /introspect, /jwks, /logout.
		as.Routes(rt.mux)
	}
}

// router serves the decision endpoints itself and everything else through a ServeMux
// behind the request log and the request deadlines. The decision endpoints bypass the
// mux: they are on every MCP request and write their own audit line, and the mux would
// answer an Envoy /auth/<path> holding "//" or ".." with a redirect, and a 3xx from an
// auth service is an error to every proxy.
type router struct {
	exact    []route // decision endpoints by exact path; at most two
	prefix   string  // the Envoy form: prefix + original path
	prefixed http.Handler
	mux      *http.ServeMux
	rest     http.Handler // mux behind the middleware
}

// route is one decision endpoint.
type route struct {
	path string
	h    http.Handler
}

// newRouter returns a router whose other endpoints log to log and get deadlines d.
func newRouter(log zerolog.Logger, d deadlines) *router {
	rt := &router{mux: http.NewServeMux()}
	rt.rest = d.wrap(hlog.NewHandler(log)(accessLog(rt.mux)))
	return rt
}

// decision serves h at exactly path, for any method, ahead of the mux.
func (rt *router) decision(path string, h http.Handler) {
	rt.exact = append(rt.exact, route{path, h})
}

// decisionPrefix serves h below prefix, for any method, ahead of the mux and without
// its path cleaning.
func (rt *router) decisionPrefix(prefix string, h http.Handler) {
	rt.prefix, rt.prefixed = prefix, h
}

// handle registers h for a ServeMux pattern.
func (rt *router) handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
}

// ServeHTTP dispatches r.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for i := range rt.exact {
		if p == rt.exact[i].path {
			rt.exact[i].h.ServeHTTP(w, r)
			return
		}
	}
	if rt.prefixed != nil && strings.HasPrefix(p, rt.prefix) {
		rt.prefixed.ServeHTTP(w, r)
		return
	}
	rt.rest.ServeHTTP(w, r)
}

// timeouts bound the phases of a request. Headers are bounded by the http.Server's
// ReadHeaderTimeout for every request; reading and writing the rest by deadlines set per
// request, by the deadlines middleware and, for a subrequest with a body, by /auth.
type timeouts struct {
	readHeader time.Duration // the request headers
	read       time.Duration // the whole request, body included
	write      time.Duration // the response
	idle       time.Duration // a kept-alive connection between requests
}

// orDefault is t with production's value for each zero field.
func (t timeouts) orDefault() timeouts {
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{{&t.readHeader, 5 * time.Second}, {&t.read, 15 * time.Second}, {&t.write, 30 * time.Second}, {&t.idle, 120 * time.Second}} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return t
}

// deadlines is the middleware that gives a request the read and write deadlines that
// http.Server's ReadTimeout and WriteTimeout would, for every endpoint but /auth. /auth
// reads no body (a subrequest that has one gets a read deadline from the decider) and
// answers with a few hundred bytes that the kernel takes at once, while two timers per
// request are a measurable part of its cost; a client that stops reading can hold a
// connection no longer than one that sends a request every IdleTimeout could anyway.
type deadlines struct {
	read  time.Duration // reading the whole request, body included
	write time.Duration // writing the response
}

// wrap sets the deadlines before next runs. A ResponseWriter that cannot (a test
// recorder) is left alone.
func (d deadlines) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, now := http.NewResponseController(w), time.Now()
		rc.SetReadDeadline(now.Add(d.read))
		rc.SetWriteDeadline(now.Add(d.write))
		next.ServeHTTP(w, r)
	})
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
