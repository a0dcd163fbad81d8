package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// WellKnownAuthorizationServer is the RFC 8414 §3 well-known path of the authorization
// server's metadata, the first URL MCP clients try (MCP 2025-11-25, "Authorization Server
// Metadata Discovery").
//
// mcpguard is not an OpenID provider: it issues no ID token, refuses scope=openid and
// has no userinfo endpoint, and no MCP client asks it for one (they send the scopes of
// the challenge or of the protected-resource metadata). So it serves no
// /.well-known/openid-configuration, whose OIDC Discovery §3 fields it could only
// advertise falsely; clients fall back to that URL only when this one fails.
const WellKnownAuthorizationServer = "/.well-known/oauth-authorization-server"

// asMetadata is the RFC 8414 §2 document, advertising exactly what mcpguard implements.
// Field order is the JSON order.
type asMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported"`
}

// discovery serves the authorization server metadata: one document, rendered once, at
// the RFC 8414 §3 well-known URL of the issuer.
type discovery struct {
	iss  issuer
	body []byte
}

// newDiscovery renders the document for iss. scopes_supported lists every allowed
// scope, offline_access included; the grants and methods include what the configured
// clients use.
func newDiscovery(iss issuer, scopes scopeSet, o offers) (*discovery, error) {
	body, err := buildASMetadata(iss.url, scopes.supported, o)
	if err != nil {
		return nil, fmt.Errorf("oauth: authorization server metadata: %w", err)
	}
	return &discovery{iss: iss, body: body}, nil
}

// routes adds the metadata and its CORS preflight to mux, for an issuer with a path at
// the RFC 8414 §3.1 path-inserted URL.
func (d *discovery) routes(mux routeSet) {
	p := WellKnownAuthorizationServer + d.iss.path
	mux.Handle("GET "+p, d)
	mux.HandleFunc("OPTIONS "+p, preflight("GET, HEAD, OPTIONS"))
}

// buildASMetadata renders the document for issuer (already validated by New: no trailing
// slash, so every endpoint is issuer + path and issuer itself is echoed byte for byte, as
// MCP clients compare it with the PRM's authorization_servers entry). scopes already
// include offline_access.
func buildASMetadata(issuer string, scopes []string, o offers) ([]byte, error) {
	// none: public clients and CIMD are always on (claude.ai uses CIMD only then).
	authMethods := []string{authMethodNone, authMethodSecretBasic, authMethodSecretPost}
	grants := []string{grantAuthorizationCode, grantRefreshToken}
	var algs []string
	if o.clientCredentials {
		grants = append(grants, grantClientCredentials)
	}
	if o.jwtBearer {
		grants = append(grants, grantJWTBearer)
	}
	if o.privateKeyJWT {
		authMethods = append(authMethods, authMethodPrivateKeyJWT)
		for _, a := range assertionAlgs {
			algs = append(algs, string(a))
		}
	}
	registration := issuer + "/register"
	if o.noRegistration {
		registration = ""
	}
	var introspection string
	var introspectionMethods []string
	if o.introspection {
		// Resource servers are confidential clients: never none.
		introspection = issuer + "/introspect"
		introspectionMethods = []string{authMethodSecretBasic, authMethodSecretPost}
		if o.introspectionPrivateKeyJWT {
			introspectionMethods = append(introspectionMethods, authMethodPrivateKeyJWT)
		}
	}
	return json.Marshal(asMetadata{
		Issuer:                                     issuer,
		AuthorizationEndpoint:                      issuer + "/authorize",
		TokenEndpoint:                              issuer + "/token",
		RegistrationEndpoint:                       registration,
		RevocationEndpoint:                         issuer + "/revoke",
		JWKSURI:                                    issuer + "/jwks",
		ScopesSupported:                            scopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        grants,
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          authMethods,
		TokenEndpointAuthSigningAlgValuesSupported: algs,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		IntrospectionEndpoint:                      introspection,
		IntrospectionEndpointAuthMethodsSupported:  introspectionMethods,
		AuthorizationResponseISSParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
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

// offers is what the configured clients add to the metadata.
type offers struct {
	clientCredentials bool // a client may use the client_credentials grant
	privateKeyJWT     bool // a client authenticates with private_key_jwt
	introspection     bool // a resource server may use /introspect
	jwtBearer         bool // a client may use the jwt-bearer grant (ID-JAG)
	// introspectionPrivateKeyJWT: a resource server authenticates with private_key_jwt.
	introspectionPrivateKeyJWT bool
	noRegistration             bool // Config.DisableDynamicRegistration
}

// offers reports what the configured clients use.
func (reg *registry) offers() offers {
	var o offers
	for _, ca := range reg.auth {
		o.clientCredentials = o.clientCredentials || ca.credentials
		o.privateKeyJWT = o.privateKeyJWT || ca.method == authMethodPrivateKeyJWT
		o.introspection = o.introspection || ca.introspect
		o.jwtBearer = o.jwtBearer || ca.jwtBearer
		o.introspectionPrivateKeyJWT = o.introspectionPrivateKeyJWT || (ca.introspect && ca.method == authMethodPrivateKeyJWT)
	}
	return o
}
