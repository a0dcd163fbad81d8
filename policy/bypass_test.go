package policy_test

import (
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// bypassConfig protects one resource with a domain allowlist and a group-gated rule,
// next to a catch-all "*" resource whose every path is public: a request that fails to
// match the protected resource lands on the public one, which is how several of the
// advisories below turned into bypasses.
func bypassConfig() policy.Config {
	return policy.Config{Resources: []policy.ResourceConfig{
		{
			URL: "https://mcp.company.com/mcp", PublicPaths: []string{"/mcp/public"}, AllowedDomains: []string{"Company.COM"},
			Rules: []policy.RuleConfig{{Name: "admin", Tools: []string{"admin_*"}, AllowedGroups: []string{"admins"}}},
		},
		{URL: "https://www.company.com/", Hosts: []string{"*"}, PublicPaths: []string{"/"}},
		{URL: "https://anon.company.com/mcp", Anonymous: true},
		{URL: "https://strict.company.com/mcp", StrictMCPHeaders: true, Rules: []policy.RuleConfig{{Tools: []string{"drop_*"}, Deny: true}}},
	}}
}

func TestBypasses(t *testing.T) {
	p := mustNew(t, bypassConfig())
	const host = "mcp.company.com"
	aud := []string{"https://" + host + "/mcp"}
	user := func(email string) *policy.Identity {
		return &policy.Identity{Subject: "u", Email: email, EmailVerified: true, Source: policy.SourceOAuth, Audiences: aud}
	}
	// req is a trusted request that the admin rule does not match.
	req := func(host, path string) policy.Request {
		return policy.Request{Method: "POST", Host: host, Path: path, MCPProtocolVersion: "2026-07-28", MCPMethod: "tools/list"}
	}
	tests := []struct {
		name   string
		in     policy.Input
		want   policy.Result
		reason policy.Reason
	}{
		// GHSA-c5c4-8r6x-56w3 (oauth2-proxy): attacker@evil.com@company.com passed email_domain=company.com.
		{"multi-@ email", policy.Input{Request: req(host, "/mcp"), Identity: user("attacker@evil.com@company.com")}, policy.Deny, policy.ReasonNotAllowed},
		{"multi-@ email reversed", policy.Input{Request: req(host, "/mcp"), Identity: user("attacker@company.com@evil.com")}, policy.Deny, policy.ReasonNotAllowed},
		// GHSA-j748-h363-wqj8 (Authelia): case-sensitive domain matching. Domains are case-folded on both sides...
		{"upper-case email domain", policy.Input{Request: req(host, "/mcp"), Identity: user("alice@COMPANY.com")}, policy.Allow, policy.ReasonAllowed},
		// ...and an upper-case Host must not miss its resource and fall through to the public "*" one.
		{"upper-case host", policy.Input{Request: req("MCP.Company.COM", "/mcp")}, policy.Challenge, policy.ReasonNoCredential},
		{"trailing-dot host", policy.Input{Request: req("mcp.company.com.", "/mcp")}, policy.Challenge, policy.ReasonNoCredential},
		// GHSA-4mf2-f3wh-gvf2 (oauth2-proxy): a similar or nested domain passed a domain check. Domains match exactly.
		{"similar domain", policy.Input{Request: req(host, "/mcp"), Identity: user("bob@evilcompany.com")}, policy.Deny, policy.ReasonNotAllowed},
		{"nested domain", policy.Input{Request: req(host, "/mcp"), Identity: user("bob@company.com.evil.net")}, policy.Deny, policy.ReasonNotAllowed},
		{"trailing-dot domain", policy.Input{Request: req(host, "/mcp"), Identity: user("bob@company.com.")}, policy.Deny, policy.ReasonNotAllowed},
		// Homograph: a Cyrillic "а" (U+0430) must not pass for "a"; non-ASCII addresses never parse.
		{"look-alike domain", policy.Input{Request: req(host, "/mcp"), Identity: user("bob@compаny.com")}, policy.Deny, policy.ReasonNotAllowed},
		// An IdP that does not verify email ownership must not satisfy an email allowlist (email_verified).
		{"unverified email", policy.Input{Request: req(host, "/mcp"), Identity: &policy.Identity{Email: "alice@company.com", Source: policy.SourceOAuth, Audiences: aud}}, policy.Deny, policy.ReasonNotAllowed},
		// GHSA-7rh7-c77v-6434 (oauth2-proxy): skip-auth rules matched the query too. Request.Path never
		// holds a query (the caller strips it); even if one slipped through, a prefix is anchored
		// at the start and at a segment boundary, so a "public" suffix cannot widen it.
		{"query-like suffix", policy.Input{Request: req(host, "/mcp/private?path=/mcp/public")}, policy.Challenge, policy.ReasonNoCredential},
		// GHSA-pxq7-h93f-9jrg (oauth2-proxy): "#" widened a route match. "#" is not a segment boundary.
		{"fragment after public prefix", policy.Input{Request: req(host, "/mcp/public#/../admin")}, policy.Deny, policy.ReasonNoResource},
		{"fragment-like public prefix", policy.Input{Request: req(host, "/mcp/public#x")}, policy.Challenge, policy.ReasonNoCredential},
		// GHSA-3q34-rx83-r6mq (heimdall): rules matched the raw path and /public/../admin passed.
		// A path with dot segments matches no resource at all.
		{"dot-dot out of a public path", policy.Input{Request: req(host, "/mcp/public/../admin")}, policy.Deny, policy.ReasonNoResource},
		{"trailing dot-dot", policy.Input{Request: req(host, "/mcp/public/..")}, policy.Deny, policy.ReasonNoResource},
		// Segment boundaries: /mcp/public covers /mcp/public/x, never /mcp/publicity.
		{"prefix without boundary", policy.Input{Request: req(host, "/mcp/publicity")}, policy.Challenge, policy.ReasonNoCredential},
		// GHSA-fj56-5763-j8pp (authentik): a malformed credential gave 200. A failed credential is
		// challenged even on an anonymous resource, never downgraded to anonymous.
		{"invalid credential on anonymous resource", policy.Input{Request: req("anon.company.com", "/mcp"), CredentialInvalid: true}, policy.Challenge, policy.ReasonInvalidCredential},
		// GHSA-652x-m2gr-hppm (oauth2-proxy): a group restriction silently stopped enforcing.
		{"group gate enforced", policy.Input{Request: policy.Request{Host: host, Path: "/mcp", MCPProtocolVersion: "2026-07-28", MCPMethod: "tools/call", MCPName: "admin_drop"},
			Identity: user("alice@company.com")}, policy.Deny, policy.ReasonNotAllowed},
		// A rule keyed on Mcp-Name must not be skipped by leaving the header out...
		{"omitted Mcp-Name", policy.Input{Request: policy.Request{Host: host, Path: "/mcp", MCPProtocolVersion: "2026-07-28", MCPMethod: "tools/call"},
			Identity: user("alice@company.com")}, policy.Deny, policy.ReasonMissingMCPHeader},
		{"omitted Mcp-Method", policy.Input{Request: policy.Request{Host: host, Path: "/mcp", MCPProtocolVersion: "2026-07-28", MCPName: "admin_drop"},
			Identity: user("alice@company.com")}, policy.Deny, policy.ReasonMissingMCPHeader},
		// ...nor by claiming an older protocol version, or none: every rule applies then.
		{"downgraded version", policy.Input{Request: policy.Request{Host: host, Path: "/mcp", MCPProtocolVersion: "2025-06-18", MCPMethod: "tools/call", MCPName: "read_only"},
			Identity: user("alice@company.com")}, policy.Deny, policy.ReasonNotAllowed},
		{"dropped version", policy.Input{Request: policy.Request{Host: host, Path: "/mcp"}, Identity: user("alice@company.com")}, policy.Deny, policy.ReasonNotAllowed},
		// A port no resource names must not fall through to the public "*" resource.
		{"unnamed port", policy.Input{Request: req(host+":8443", "/mcp")}, policy.Challenge, policy.ReasonNoCredential},
		{"unnamed port with trailing dot", policy.Input{Request: req("MCP.company.com.:8443", "/mcp")}, policy.Challenge, policy.ReasonNoCredential},
		// RFC 8707 / MCP authorization: a token minted for another resource is refused
		// (agentic-community/mcp-gateway-registry PR #1583: aud=account replayed across a realm).
		{"token for another resource", policy.Input{Request: req(host, "/mcp"),
			Identity: &policy.Identity{Email: "alice@company.com", EmailVerified: true, Source: policy.SourceJWT, Audiences: []string{"https://www.company.com/"}}},
			policy.Challenge, policy.ReasonAudienceMismatch},
		{"token without audience", policy.Input{Request: req(host, "/mcp"),
			Identity: &policy.Identity{Email: "alice@company.com", EmailVerified: true, Source: policy.SourceOAuth}}, policy.Challenge, policy.ReasonAudienceMismatch},
		// MCP 2026-07-28 streamable HTTP: intermediaries SHOULD reject rather than trust Mcp-Name
		// from older protocol versions (servers before it do not check headers against the body).
		{"spoofed Mcp-Name old version strict", policy.Input{Request: policy.Request{Host: "strict.company.com", Path: "/mcp", MCPProtocolVersion: "2025-06-18", MCPName: "read_only"},
			Identity: &policy.Identity{AllScopes: true, Source: policy.SourceAPIKey}}, policy.Deny, policy.ReasonMCPHeadersUntrusted},
		// A Preflight flag is honoured only on OPTIONS, so a mislabelled GET is not waved through.
		{"preflight flag on POST", policy.Input{Request: policy.Request{Method: "POST", Host: host, Path: "/mcp", Preflight: true}}, policy.Challenge, policy.ReasonNoCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.in)
			if d.Result != tt.want || d.Reason != tt.reason {
				t.Errorf("Decide(%+v) = %v/%v, want %v/%v", tt.in.Request, d.Result, d.Reason, tt.want, tt.reason)
			}
		})
	}
}
