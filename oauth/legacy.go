package oauth

// The MCP 2025-03-26 fallback: clients that predate protected-resource metadata treat
// the MCP server's origin (its URL with the path discarded) as the authorization server:
// they fetch /.well-known/oauth-authorization-server there and, without metadata, use
// /authorize, /token and /register there. The proxy recipes route those paths of the
// MCP origin to mcpguard. The metadata there is the issuer's document; /token and
// /register answer there as at the issuer (they use no cookie); /authorize sends the
// browser on to the issuer's /authorize, so the login, its session cookie, the consent
// and the authorization response (whose iss is the issuer) all happen at the one issuer.
//
// An issuer with a path (https://example.com/auth) serves its own endpoints under that
// path, so those four root paths are mcpguard's only on the MCP origins (legacyRoutes):
// on the issuer's own host they stay whatever else that host serves.

import (
	"net/http"
	"net/url"
)

// legacyRoutes adds, for an issuer with a path, the four 2025-03-26 paths at the root,
// answered only on the MCP origins (legacyHosts) and 404 on any other host. A root
// issuer's own routes are those paths already.
func (s *Server) legacyRoutes(mux routeSet) {
	hosts := s.front.legacyHosts
	if s.issuer.path == "" || len(hosts) == 0 {
		return
	}
	only := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hosts[canonicalRequestHost(r.Host)] {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET "+WellKnownAuthorizationServer, only(s.discovery))
	mux.Handle("OPTIONS "+WellKnownAuthorizationServer, only(preflight("GET, HEAD, OPTIONS")))
	mux.Handle("GET /authorize", only(http.HandlerFunc(s.front.handleAuthorize)))
	mux.Handle("POST /token", only(http.HandlerFunc(s.tokens.handleToken)))
	mux.Handle("OPTIONS /token", only(preflight("POST, OPTIONS")))
	if !s.cfg.DisableDynamicRegistration {
		mux.Handle("POST /register", only(s.clients.handleRegister()))
		mux.Handle("OPTIONS /register", only(preflight("POST, OPTIONS")))
	}
}

// legacyHosts are the host names (canonicalRequestHost) of the configured resources
// whose /authorize is forwarded to the issuer: every resource host but the issuer's own.
func legacyHosts(iss issuer, resources []string) map[string]bool {
	u, err := url.Parse(iss.url)
	if err != nil {
		return nil
	}
	own := canonicalRequestHost(u.Host)
	hosts := map[string]bool{}
	for _, r := range resources {
		if ru, err := url.Parse(r); err == nil {
			if h := canonicalRequestHost(ru.Host); h != own {
				hosts[h] = true
			}
		}
	}
	return hosts
}

// forwardLegacyAuthorize sends an /authorize request that arrived on an MCP server's
// origin to the issuer's /authorize with the same query, and reports whether it did.
// The target is the configured issuer, never a value of the request, and a request on
// any other host (the issuer's, or a proxy that rewrote Host) is served where it is, so
// there is neither an open redirect nor a loop.
func (f *frontChannel) forwardLegacyAuthorize(w http.ResponseWriter, r *http.Request) bool {
	if !f.legacyHosts[canonicalRequestHost(r.Host)] {
		return false
	}
	target := f.iss.url + "/authorize"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
	return true
}
