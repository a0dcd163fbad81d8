package auth

import "strings"

// The prefixes of the secrets mcpguard makes, so that secret scanners (GitHub secret
// scanning, gitleaks, trufflehog) can recognise a leaked one by its first bytes. Each is
// followed by base64url text (an access token: by a JWS compact serialization). Secrets
// made before these prefixes existed stay valid until they expire; docs/security.md
// has the scanner patterns.
const (
	PrefixAccessToken  = "mcpg_at_" // mcpguard's own access tokens
	PrefixRefreshToken = "mcpg_rt_" // refresh tokens
	PrefixAPIKey       = "mcpg_ak_" // API keys made by GenerateKey (mcpguard's embedded default)
	PrefixClientSecret = "mcpg_cs_" // client secrets of dynamically registered clients
)

// OwnAccessToken returns the JWS of one of mcpguard's own access tokens: token without
// PrefixAccessToken, and whether it looks like one. A token without the prefix is
// accepted as well, as tokens minted before the prefix existed are.
func OwnAccessToken(token string) (jws string, ok bool) {
	jws = strings.TrimPrefix(token, PrefixAccessToken)
	return jws, LooksLikeJWT(jws)
}
