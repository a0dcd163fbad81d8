// Package whoami is an MCP server that tells its caller who mcpguard says they are: its
// whoami tool returns the identity headers the proxy set on the request.
//
// It is the MCP server of the end-to-end tests and of the deploy/ stacks. It trusts the
// identity headers because it is meant to be reached only through a proxy that asks
// mcpguard first and replaces every client-supplied copy of them; never expose it
// directly.
package whoami

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Path is where Handler serves the MCP endpoint (Streamable HTTP).
const Path = "/mcp"

// Identity is the result of the whoami tool: the identity headers of the tools/call
// request as the server received them. A header sent more than once is reported with
// its values joined by "; ", so a smuggled duplicate is visible.
type Identity struct {
	User       string `json:"user" jsonschema:"X-Forwarded-User: the caller's email, else its subject"`
	Email      string `json:"email" jsonschema:"X-Forwarded-Email"`
	Groups     string `json:"groups" jsonschema:"X-Forwarded-Groups, comma-joined"`
	Scopes     string `json:"scopes" jsonschema:"X-Forwarded-Scopes, space-joined"`
	AuthSource string `json:"auth_source" jsonschema:"X-Auth-Source: oauth, client, jwt, apikey, proxy, session or anonymous"`
	ClientID   string `json:"client_id" jsonschema:"X-Auth-Client-Id: the OAuth client the caller used"`
	// Authorization reports whether an Authorization header reached the server. Its
	// value is never returned: behind mcpguard the client's token must not get here.
	Authorization bool `json:"authorization_present" jsonschema:"whether an Authorization header reached the MCP server (its value is never shown)"`
	// VerifiedSubject is the subject of mcpguard's signed identity assertion, when the
	// server verifies one (Options.Assertions).
	VerifiedSubject string `json:"verified_subject,omitempty" jsonschema:"the sub of mcpguard's verified identity assertion, when the server requires one"`
}

// FromHeader reads the identity headers of h.
func FromHeader(h http.Header) Identity {
	get := func(name string) string { return strings.Join(h.Values(name), "; ") }
	return Identity{
		User:            get("X-Forwarded-User"),
		Email:           get("X-Forwarded-Email"),
		Groups:          get("X-Forwarded-Groups"),
		Scopes:          get("X-Forwarded-Scopes"),
		AuthSource:      get("X-Auth-Source"),
		ClientID:        get("X-Auth-Client-Id"),
		Authorization:   len(h.Values("Authorization")) > 0,
		VerifiedSubject: h.Get(VerifiedSubjectHeader),
	}
}

// EchoInput is the argument of the echo tool.
type EchoInput struct {
	Text string `json:"text" jsonschema:"the text to send back"`
}

// EchoOutput is the result of the echo tool.
type EchoOutput struct {
	Text string `json:"text"`
}

// NewServer returns the MCP server with the whoami and echo tools.
func NewServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mcpguard-whoami", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{
		Name:        "whoami",
		Description: "Returns the identity the proxy vouched for (the X-Forwarded-* and X-Auth-* headers) and whether an Authorization header reached the server.",
	}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, Identity, error) {
		return nil, FromHeader(req.Extra.Header), nil
	})
	mcp.AddTool(s, &mcp.Tool{
		Name:        "echo",
		Description: "Returns its text argument.",
	}, func(_ context.Context, _ *mcp.CallToolRequest, in EchoInput) (*mcp.CallToolResult, EchoOutput, error) {
		return nil, EchoOutput{Text: in.Text}, nil
	})
	return s
}

// Options configures Handler.
type Options struct {
	// AllowedHosts, when not empty, are the only Host names (without port, case
	// insensitive) the MCP endpoint answers; others get 403. Behind a proxy on the same
	// machine, list the public name of the MCP server here: the SDK's own DNS-rebinding
	// protection, which refuses every non-localhost Host on a loopback connection, is
	// then replaced by this list.
	AllowedHosts []string
	// Assertions, when set, makes the MCP endpoint require mcpguard's signed identity
	// assertion: a request without a valid one gets 401.
	Assertions *AssertionVerifier
}

// Handler serves the MCP endpoint at Path and a liveness check at /healthz.
func Handler(o Options) http.Handler {
	server := NewServer()
	var mcpHandler http.Handler = mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{DisableLocalhostProtection: len(o.AllowedHosts) > 0},
	)
	if o.Assertions != nil {
		mcpHandler = RequireAssertion(o.Assertions, mcpHandler)
	}
	if len(o.AllowedHosts) > 0 {
		mcpHandler = allowHosts(o.AllowedHosts, mcpHandler)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, cors(mcpHandler))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}

// cors lets browser-based MCP clients (MCP Inspector, ChatGPT and Claude on the web)
// call the server: it answers preflights itself and exposes the headers they read. The
// credential check stays mcpguard's: a preflight carries none.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowHosts answers 403 to a request whose Host is not one of hosts.
func allowHosts(hosts []string, next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !allowed[strings.ToLower(strings.TrimSuffix(host, "."))] {
			http.Error(w, "Forbidden: invalid Host header", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
