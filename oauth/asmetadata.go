package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Well-known paths of the authorization server's metadata: RFC 8414 §3 and OpenID
// Connect Discovery 1.0 §4. Both serve the same document; MCP clients try them in this
// order (MCP 2025-11-25, "Authorization Server Metadata Discovery").
const (
	WellKnownAuthorizationServer = "/.well-known/oauth-authorization-server"
	WellKnownOpenIDConfiguration = "/.well-known/openid-configuration"
)

// asMetadata is the RFC 8414 §2 document, advertising exactly what mcpguard implements.
// Field order is the JSON order.
type asMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
}

// discovery serves the authorization server metadata: one document, rendered once, at
// the RFC 8414 §3 and OIDC Discovery §4 well-known URLs of the issuer.
type discovery struct {
	iss  issuer
	body []byte
}

// newDiscovery renders the document for iss. scopes_supported lists every allowed
// scope, offline_access included.
func newDiscovery(iss issuer, scopes scopeSet) (*discovery, error) {
	body, err := buildASMetadata(iss.url, scopes.supported)
	if err != nil {
		return nil, fmt.Errorf("oauth: authorization server metadata: %w", err)
	}
	return &discovery{iss: iss, body: body}, nil
}

// routes adds the metadata and its CORS preflights to mux. For an issuer with a path
// the document is served at the RFC 8414 §3.1 path-inserted and the OIDC
// path-appended well-known URLs.
func (d *discovery) routes(mux *http.ServeMux) {
	paths := []string{WellKnownAuthorizationServer + d.iss.path, WellKnownOpenIDConfiguration + d.iss.path}
	if d.iss.path != "" {
		paths = append(paths, d.iss.path+WellKnownOpenIDConfiguration)
	}
	for _, p := range paths {
		mux.Handle("GET "+p, d)
		mux.HandleFunc("OPTIONS "+p, preflight("GET, HEAD, OPTIONS"))
	}
}

// buildASMetadata renders the document for issuer (already validated by New: no trailing
// slash, so every endpoint is issuer + path and issuer itself is echoed byte for byte, as
// MCP clients compare it with the PRM's authorization_servers entry). scopes already
// include offline_access. subject_types_supported and
// id_token_signing_alg_values_supported are required by OIDC Discovery §3.
func buildASMetadata(issuer string, scopes []string) ([]byte, error) {
	authMethods := []string{authMethodNone, authMethodSecretBasic, authMethodSecretPost}
	return json.Marshal(asMetadata{
		Issuer:                                     issuer,
		AuthorizationEndpoint:                      issuer + "/authorize",
		TokenEndpoint:                              issuer + "/token",
		RegistrationEndpoint:                       issuer + "/register",
		RevocationEndpoint:                         issuer + "/revoke",
		JWKSURI:                                    issuer + "/jwks",
		ScopesSupported:                            scopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{grantAuthorizationCode, grantRefreshToken},
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          authMethods,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		AuthorizationResponseISSParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{"ES256"},
	})
}

// ServeHTTP serves the document to GET and HEAD, readable from any origin.
func (d *discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(d.body)
	}
}
