package forwarded

import (
	"net/http"
	"net/url"
	"strings"
)

// URL rebuilds the original URL of a request o was parsed from, query included, for a
// login to return to: o's scheme and canonical host, then the original URI as the
// proxy forwarded it (X-Original-URL's path and query, X-Original-URI,
// X-Forwarded-Uri, or the Envoy path). It reads the same headers Parse did, so call it
// only for a request Parse accepted.
func URL(h http.Header, o Original, envoyPath string) string {
	get := func(k string) string { return strings.TrimSpace(h.Get(k)) }
	uri := envoyPath
	if uri == "" {
		if raw := get("X-Original-Url"); raw != "" {
			if u, err := url.Parse(raw); err == nil {
				uri = u.RequestURI()
			}
		}
	}
	if uri == "" {
		uri = get("X-Original-Uri")
	}
	if uri == "" {
		uri = get("X-Forwarded-Uri")
	}
	if uri == "" || uri[0] != '/' {
		uri = "/" + uri
	}
	return o.Scheme + "://" + o.Host + uri
}
