package policy_test

import (
	"fmt"

	"github.com/mcpguard/mcpguard/policy"
)

func Example() {
	p, err := policy.New(policy.Config{Resources: []policy.ResourceConfig{{
		URL:            "https://mcp.example.com/mcp",
		RequiredScopes: []string{"mcp:read"},
		AllowedDomains: []string{"example.com"},
		Rules: []policy.RuleConfig{
			{Name: "writes", Methods: []string{"tools/call"}, Tools: []string{"create_*"}, RequiredScopes: []string{"mcp:write"}},
		},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := p.Resources()[0]
	fmt.Println(r.URL(), r.MetadataURL())

	alice := &policy.Identity{
		Email: "alice@example.com", EmailVerified: true, Scopes: []string{"mcp:read"}, Source: policy.SourceOAuth,
		Audiences: []string{"https://mcp.example.com/mcp"}, // the token was minted for this resource
	}
	list := policy.Request{
		Method: "POST", Host: "mcp.example.com", Path: "/mcp",
		MCPProtocolVersion: "2026-07-28", MCPMethod: "tools/list",
	}
	call := list
	call.MCPMethod, call.MCPName = "tools/call", "create_issue"

	d := p.Decide(policy.Input{Request: list})
	fmt.Println(d.Result, d.Reason, d.Scopes)

	d = p.Decide(policy.Input{Request: call, Identity: alice})
	fmt.Println(d.Result, d.Reason, d.Scopes, d.Missing, d.Rules)

	// A client older than MCP 2026-07-28: its headers cannot be trusted, so every rule applies.
	old := list
	old.MCPProtocolVersion = "2025-11-25"
	d = p.Decide(policy.Input{Request: old, Identity: alice})
	fmt.Println(d.Result, d.Reason, d.Scopes, d.Missing, d.Rules)

	alice.Scopes = []string{"mcp:write"} // mcp:write implies mcp:read
	d = p.Decide(policy.Input{Request: call, Identity: alice})
	fmt.Println(d.Result, d.Reason)
	// Output:
	// https://mcp.example.com/mcp https://mcp.example.com/.well-known/oauth-protected-resource/mcp
	// challenge no_credential [mcp:read]
	// deny insufficient_scope [mcp:read mcp:write] [mcp:write] [writes]
	// deny insufficient_scope [mcp:read mcp:write] [mcp:write] [writes]
	// allow allowed
}
