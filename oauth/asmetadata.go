package oauth

import (
	"encoding/json"
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
		GrantTypesSupported:                        []string{"authorization_code", "refresh_token"},
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          authMethods,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		AuthorizationResponseISSParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{"ES256"},
	})
}

// handleASMetadata serves the authorization server metadata document (rendered once)
// to GET and HEAD, readable from any origin.
func (s *Server) handleASMetadata() http.Handler {
	body := s.asMetadata
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}
