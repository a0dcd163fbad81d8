package oauth

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
)

// failure is what the log learns of an error answer besides its status and
// description: the OAuth error code, the client when known, and the internal cause,
// which the client never sees. Every error answer of the authorization server (a JSON
// error, an error redirect to the client, an error page) carries one, and logFailure
// writes it when the answer is written.
type failure struct {
	code     string // an OAuth error code (errcodes.go)
	clientID string // "" when not known
	cause    error  // why, with context; nil when the description says it all
	upstream bool   // the upstream identity provider failed
	replay   bool   // a code or refresh token was presented again
}

// Bounds of the logged values a request or a peer chose.
const (
	maxLoggedCause    = 1024
	maxLoggedClientID = 512
)

// level is the log level of an answer with status:
//
//   - error: status 500 and above, and every failure of the upstream identity provider
//     (unreachable, refusing mcpguard's client, an ID token that does not verify),
//     whatever the user was shown: only the operator can fix them;
//   - warn: 401 and 403 (failed client authentication, an identity the allowlists
//     refuse, an expired form) and replayed codes and refresh tokens, which may be
//     attacks;
//   - info: every other client mistake (malformed requests, unknown or expired codes,
//     scopes, metadata, rate limits), a login or consent that prompt=none could not
//     skip, and a user's own refusal at the consent page.
func (f failure) level(status int) zerolog.Level {
	switch {
	case status >= 500 || f.upstream:
		return zerolog.ErrorLevel
	case status == http.StatusUnauthorized || status == http.StatusForbidden || f.replay:
		return zerolog.WarnLevel
	}
	return zerolog.InfoLevel
}

// logFailure writes the log line of an error answer with the request's logger
// (zerolog.Ctx; cmd/mcpguard attaches it with hlog.NewHandler): endpoint, status, the
// OAuth error and its description, client_id when known, and the cause's chain. No
// cause may hold a secret, code, token, cookie, password or code_verifier: the ones
// that could (upstream answers, URLs) are stripped where they are made (upstreamCause).
func logFailure(r *http.Request, iss issuer, status int, description string, f failure) {
	e := zerolog.Ctx(r.Context()).WithLevel(f.level(status))
	if e == nil {
		return // the level is disabled
	}
	e.Str("endpoint", iss.endpoint(r)).Int("status", status).Str("error", f.code)
	if description != "" {
		e.Str("error_description", description)
	}
	if f.clientID != "" {
		e.Str("client_id", truncate(f.clientID, maxLoggedClientID))
	}
	if f.cause != nil {
		e.Str("cause", truncate(f.cause.Error(), maxLoggedCause))
	}
	e.Msg("authorization server error")
}

// errorText keeps the characters RFC 6749 §4.1.2.1 and §5.2 allow in error and
// error_description (%x20-21 / %x23-5B / %x5D-7E), at most 128 of them, so a value a
// request chose can be named in an error.
func errorText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 128; i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// truncate returns s cut to n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// corsAllowHeaders are the request headers browser-based MCP clients (MCP Inspector,
// ChatGPT, Claude on the web) send to metadata and authorization-server endpoints.
const corsAllowHeaders = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Method, Mcp-Name"

// writePreflight answers a CORS preflight for a public, credential-less endpoint:
// any origin, never together with Access-Control-Allow-Credentials.
func writePreflight(w http.ResponseWriter, methods string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// errorBody is the JSON error body of RFC 6749 §5.2, which MCP clients also parse on
// metadata and resource errors.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeJSONError writes an RFC 6749 §5.2 style error document.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	retryLater(w.Header(), status)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: code, Description: description})
}
