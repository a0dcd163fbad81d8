// Package oauth is how an MCP client obtains credentials for a protected resource: the
// RFC 9728 protected-resource metadata, the RFC 6750 bearer challenges that point clients
// at it, and mcpguard's own OAuth 2.1 authorization server.
package oauth

import "strings"

// Challenge is the value of a WWW-Authenticate response header for the Bearer scheme
// (RFC 6750 §3) with the RFC 9728 §5.1 resource_metadata parameter.
type Challenge struct {
	// ResourceMetadata is the absolute URL of the protected-resource metadata document.
	ResourceMetadata string
	// Scope lists the scopes the request needs (RFC 6750 §3 "scope"); empty omits the parameter.
	Scope []string
	// Error is "", ErrorInvalidToken or ErrorInsufficientScope.
	Error string
	// Description is a human-readable error_description; characters RFC 6750 §3 does not
	// allow there are dropped. Without Error it is still written: RFC 6750 §3.1 advises
	// no error information for a request without a credential, but where no
	// authorization server runs a client has no other way to learn where the credential
	// goes.
	Description string
}

// String renders the challenge. An insufficient_scope challenge starts with the error,
// as clients performing step-up authorization look for it first; every other challenge
// starts with resource_metadata.
func (c Challenge) String() string {
	var b strings.Builder
	b.Grow(64 + len(c.ResourceMetadata) + 16*len(c.Scope) + len(c.Description))
	b.WriteString("Bearer ")
	first := true
	param := func(name, value string) {
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(name)
		b.WriteString(`="`)
		writeQuoted(&b, value)
		b.WriteByte('"')
	}
	scope := strings.Join(c.Scope, " ")
	if c.Error == ErrorInsufficientScope {
		param("error", c.Error)
		if scope != "" {
			param("scope", scope)
		}
		if c.ResourceMetadata != "" {
			param("resource_metadata", c.ResourceMetadata)
		}
		if c.Description != "" {
			param("error_description", c.Description)
		}
		return b.String()
	}
	if c.ResourceMetadata != "" {
		param("resource_metadata", c.ResourceMetadata)
	}
	if scope != "" {
		param("scope", scope)
	}
	if c.Error != "" {
		param("error", c.Error)
	}
	if c.Description != "" {
		param("error_description", c.Description)
	}
	return b.String()
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string, keeping only the
// characters RFC 6750 §3 allows in its parameters (%x20-21 / %x23-5B / %x5D-7E).
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			continue
		}
		b.WriteByte(c)
	}
}
