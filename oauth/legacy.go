package oauth

// The MCP 2025-03-26 fallback: clients that predate protected-resource metadata treat
// the MCP server's origin as the authorization server and, without metadata, use
// /authorize, /token and /register there. The proxy recipes route those paths of the
// MCP origin to mcpguard. /token and /register answer there as at the issuer (they use
// no cookie); /authorize sends the browser on to the issuer's /authorize, so the login,
// its session cookie, the consent and the authorization response (whose iss is the
// issuer) all happen at the one issuer.

import (
	"net/http"
	"net/url"
)

// legacyHosts are the host names (canonicalRequestHost) of the configured resources
// whose /authorize is forwarded to the issuer: every resource host but the issuer's own.
// Only a root issuer has them: the 2025-03-26 endpoints sit at the origin's root.
func legacyHosts(iss issuer, resources []string) map[string]bool {
	if iss.path != "" {
		return nil
	}
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
