package oauth

import (
	"encoding/json"
	"net/http"
)

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
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: code, Description: description})
}
