package oauth_test

import (
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/mcpguard/mcpguard/oauth"
)

func ExampleChallenge() {
	c := oauth.Challenge{
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scope:            []string{"mcp:read"},
	}
	fmt.Println(c)
	// Output: Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"
}

func ExampleNewMetadataHandler() {
	h, err := oauth.NewMetadataHandler([]oauth.ProtectedResource{{
		Resource:             "https://mcp.example.com/mcp",
		Hosts:                []string{"mcp.example.com"},
		Path:                 "/mcp",
		AuthorizationServers: []string{"https://auth.example.com"},
		ScopesSupported:      []string{"mcp:read", "mcp:write"},
	}})
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", nil))
	body, _ := io.ReadAll(w.Result().Body)
	fmt.Println(w.Code, string(body))
	// Output: 200 {"authorization_servers":["https://auth.example.com"],"bearer_methods_supported":["header"],"resource":"https://mcp.example.com/mcp","scopes_supported":["mcp:read","mcp:write"]}
}
