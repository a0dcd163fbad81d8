package app

// What a client is told when mcpguard runs no authorization server.

import "strings"

// credentialHint is the error_description of a 401 for a request without a credential
// when mcpguard runs no authorization server (no PROVIDER) and takes API keys: which
// header takes the key. Empty otherwise: with an authorization server the challenge's
// resource_metadata leads to it, and with external JWT issuers only, the metadata lists
// them. The header name is API_KEY_HEADER, validated as a plain header name, so the hint
// holds nothing a challenge cannot quote.
func credentialHint(c config, s *setup) string {
	if s.as != nil || !c.ClientAuthEnabled || (c.APIKey == "" && c.APIKeysFile == "") {
		return ""
	}
	var b strings.Builder
	b.WriteString("this server takes an API key, not OAuth: send it in the ")
	b.WriteString(c.APIKeyHeader)
	b.WriteString(" header or as Authorization: Bearer <key>")
	if s.jwt != nil {
		b.WriteString(", or a token of an issuer the resource metadata lists")
	}
	return b.String()
}
