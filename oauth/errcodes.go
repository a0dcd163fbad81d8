package oauth

// OAuth error codes, the value of "error" in error responses, by the specification that
// defines them. Only the two a Challenge carries are exported.

// RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2 (token endpoint).
const (
	codeInvalidRequest          = "invalid_request"
	codeInvalidClient           = "invalid_client" // §5.2 only
	codeInvalidGrant            = "invalid_grant"  // §5.2 only
	codeUnauthorizedClient      = "unauthorized_client"
	codeUnsupportedGrantType    = "unsupported_grant_type" // §5.2 only
	codeUnsupportedResponseType = "unsupported_response_type"
	codeInvalidScope            = "invalid_scope"
	codeAccessDenied            = "access_denied"
	// codeServerError and codeTemporarilyUnavailable are defined for the authorization
	// endpoint (§4.1.2.1); mcpguard also answers them at /token, /revoke and /register,
	// where §5.2 has no code for a failure of the server itself.
	codeServerError            = "server_error"
	codeTemporarilyUnavailable = "temporarily_unavailable"
)

// RFC 7009 §2.2.1 (revocation endpoint).
const codeUnsupportedTokenType = "unsupported_token_type"

// RFC 7591 §3.2.2 (dynamic client registration).
const (
	codeInvalidRedirectURI    = "invalid_redirect_uri"
	codeInvalidClientMetadata = "invalid_client_metadata"
)

// RFC 8707 §2 (resource indicators).
const codeInvalidTarget = "invalid_target"

// OpenID Connect Core 1.0 §3.1.2.6 (authentication error responses).
const (
	codeLoginRequired          = "login_required"
	codeConsentRequired        = "consent_required"
	codeRequestNotSupported    = "request_not_supported"
	codeRequestURINotSupported = "request_uri_not_supported"
)

// RFC 6750 §3.1 (bearer token use): the error codes a Challenge may carry.
const (
	ErrorInvalidToken      = "invalid_token"
	ErrorInsufficientScope = "insufficient_scope"
)

// codeNotFound is mcpguard's own code, in the RFC 6749 §5.2 error shape, for a
// protected-resource metadata path that names no configured resource; no
// specification defines one.
const codeNotFound = "not_found"
