package oauth

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// WellKnownProtectedResource is the RFC 9728 §3 well-known path of protected-resource metadata.
const WellKnownProtectedResource = "/.well-known/oauth-protected-resource"

// ProtectedResource describes one protected resource for its RFC 9728 §2 metadata document.
// Every value comes from configuration, never from a request.
type ProtectedResource struct {
	// Resource is the resource identifier, exactly as clients address it
	// (https://mcp.example.com/mcp).
	Resource string
	// Hosts are the canonical host names the document is served for; "*" serves any host.
	Hosts []string
	// Path is the path of Resource ("/" for an origin-only resource).
	Path string
	// AuthorizationServers are the issuer identifiers of the authorization servers
	// (RFC 8414 §2) that issue tokens for the resource.
	AuthorizationServers []string
	// ScopesSupported lists the scopes clients may request for the resource.
	ScopesSupported []string
	// Extra holds further metadata fields (resource_name, resource_documentation, ...).
	Extra map[string]any
}

// reserved are the fields a ProtectedResource's Extra may not set: mcpguard derives them
// from configuration and clients check them byte for byte.
var reserved = []string{"resource", "authorization_servers", "scopes_supported", "bearer_methods_supported"}

// MetadataHandler serves the protected-resource metadata documents at the root form
// (/.well-known/oauth-protected-resource) and the path-inserted form
// (/.well-known/oauth-protected-resource/<resource path>) of RFC 9728 §3.1.
type MetadataHandler struct {
	docs []metadataDoc
}

type metadataDoc struct {
	hosts []string
	path  string
	body  []byte
}

// NewMetadataHandler renders every document once. It fails when a document lacks a
// resource or an authorization server, or when Extra tries to set a derived field.
func NewMetadataHandler(resources []ProtectedResource) (*MetadataHandler, error) {
	h := &MetadataHandler{}
	for _, pr := range resources {
		if pr.Resource == "" {
			return nil, fmt.Errorf("oauth: protected resource without a resource URL")
		}
		doc := map[string]any{
			"resource":                 pr.Resource,
			"bearer_methods_supported": []string{"header"},
		}
		if len(pr.AuthorizationServers) > 0 {
			doc["authorization_servers"] = pr.AuthorizationServers
		}
		if len(pr.ScopesSupported) > 0 {
			doc["scopes_supported"] = pr.ScopesSupported
		}
		for k, v := range pr.Extra {
			for _, r := range reserved {
				if k == r {
					return nil, fmt.Errorf("oauth: resource %q: metadata field %q is derived from the configuration and cannot be overridden", pr.Resource, k)
				}
			}
			doc[k] = v
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("oauth: resource %q: metadata: %w", pr.Resource, err)
		}
		path := strings.TrimSuffix(pr.Path, "/")
		if path == "" {
			path = "/"
		}
		h.docs = append(h.docs, metadataDoc{hosts: pr.Hosts, path: path, body: body})
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD with the matching document, OPTIONS as a CORS preflight,
// and 404 when no configured resource has that path on that host.
func (h *MetadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		writePreflight(w, "GET, HEAD, OPTIONS")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	suffix, ok := strings.CutPrefix(r.URL.Path, WellKnownProtectedResource)
	if !ok || (suffix != "" && suffix[0] != '/') {
		writeJSONError(w, http.StatusNotFound, codeNotFound, "no protected resource metadata at this path")
		return
	}
	doc := h.lookup(suffix, canonicalRequestHost(r.Host))
	if doc == nil {
		writeJSONError(w, http.StatusNotFound, codeNotFound, "no protected resource is configured for this path")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(doc.body)
	}
}

// lookup picks the document for a well-known suffix ("" for the root form) and host.
// The path selects; the host only breaks ties between resources with the same path. The
// root form falls back to the only resource of the host (ChatGPT and older clients ask
// there first).
func (h *MetadataHandler) lookup(suffix, host string) *metadataDoc {
	path := strings.TrimSuffix(suffix, "/")
	if path == "" {
		path = "/"
	}
	var byPath []*metadataDoc
	for i := range h.docs {
		if h.docs[i].path == path {
			byPath = append(byPath, &h.docs[i])
		}
	}
	if len(byPath) == 0 && path == "/" {
		for i := range h.docs {
			byPath = append(byPath, &h.docs[i])
		}
	}
	if len(byPath) == 1 {
		return byPath[0]
	}
	for _, d := range byPath {
		for _, hh := range d.hosts {
			if hh == host {
				return d
			}
		}
	}
	for _, d := range byPath {
		for _, hh := range d.hosts {
			if hh == "*" {
				return d
			}
		}
	}
	return nil
}

// canonicalRequestHost lower-cases host, drops a trailing dot and any port. It is used
// only to choose among configured documents, never to build one.
func canonicalRequestHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return strings.Trim(host, "[]")
}
