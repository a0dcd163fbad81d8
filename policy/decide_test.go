package policy_test

import (
	"slices"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

const (
	v2026  = "2026-07-28" // first revision whose Mcp-Method / Mcp-Name headers are trusted
	vLater = "2026-12-01"
	vOld   = "2025-11-25"
)

// decideConfig is the policy most Decide tests and FuzzDecide run against.
func decideConfig() policy.Config {
	return policy.Config{
		ScopeImplications: map[string][]string{
			"mcp:admin": {"mcp:write"}, // a custom chain: mcp:admin => mcp:write => mcp:read
			"mcp:write": {"mcp:read"},
		},
		Resources: []policy.ResourceConfig{
			{
				URL: "https://mcp.example.com/mcp", RequiredScopes: []string{"mcp:read"}, PublicPaths: []string{"/mcp/health"},
				Rules: []policy.RuleConfig{
					{Name: "delete", Methods: []string{"tools/call"}, Tools: []string{"delete_*"}, Deny: true},
					{Name: "write", Methods: []string{"tools/call"}, Tools: []string{"create_*", "update_*"}, RequiredScopes: []string{"mcp:write"}},
					{Name: "admin", Methods: []string{"tools/call"}, Tools: []string{"admin_*"}, RequiredScopes: []string{"mcp:admin"}, AllowedGroups: []string{"admins"}},
					{Name: "report", Tools: []string{"report"}, RequiredScopes: []string{"reports:read"}},
				},
			},
			{URL: "https://strict.example.com/mcp", StrictMCPHeaders: true, RequiredScopes: []string{"mcp:read"}},
			{
				URL: "https://allow.example.com/mcp", AllowedEmails: []string{"Boss@Example.com"}, AllowedDomains: []string{"Allowed.COM"}, AllowedGroups: []string{"staff"},
				Rules: []policy.RuleConfig{{Name: "secret", Tools: []string{"secret_*"}, AllowedGroups: []string{"ops"}, AllowedEmails: []string{"boss@example.com"}}},
			},
			{
				URL: "https://anon.example.com/mcp", Anonymous: true,
				Rules: []policy.RuleConfig{
					{Name: "write", Tools: []string{"write_*"}, RequiredScopes: []string{"mcp:write"}},
					{Name: "nuke", Tools: []string{"nuke"}, Deny: true},
					{Name: "vip", Tools: []string{"vip"}, AllowedGroups: []string{"vip"}},
				},
			},
			{URL: "https://keys.example.com/mcp", Credentials: []policy.Source{policy.SourceAPIKey}, AllowedGroups: []string{"bots"}, PreflightRequiresAuth: true},
			{
				URL: "https://multi.example.com/mcp", RequiredScopes: []string{"a"},
				Rules: []policy.RuleConfig{
					{Name: "r1", Methods: []string{"tools/call"}, RequiredScopes: []string{"b", "a"}},
					{Tools: []string{"x*"}, RequiredScopes: []string{"c"}},
				},
			},
			{
				URL: "https://legacy.example.com/mcp", RequiredScopes: []string{"a"}, InsecureSkipRulesForUntrustedMCPHeaders: true,
				Rules: []policy.RuleConfig{
					{Name: "drop", Tools: []string{"drop_*"}, Deny: true},
					{Name: "w", Tools: []string{"w_*"}, RequiredScopes: []string{"b"}},
				},
			},
		},
	}
}

// mcpRules are the names of the rules of the mcp.example.com resource.
var mcpRules = []string{"delete", "write", "admin", "report"}

// everyResource is the aud of the test tokens: every resource of decideConfig.
var everyResource = []string{mcpURL, strictURL, allowURL, anonURL, keysURL, multiURL, legacyURL}

var (
	reader = &policy.Identity{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Scopes: []string{"mcp:read"}, Source: policy.SourceOAuth, Audiences: everyResource}
	writer = &policy.Identity{Subject: "wes", Scopes: []string{"mcp:write"}, Source: policy.SourceJWT, Audiences: everyResource}
	admin  = &policy.Identity{Subject: "ada", Scopes: []string{"mcp:admin"}, Groups: []string{"admins"}, Source: policy.SourceSession}
	master = &policy.Identity{Subject: "api-key", AllScopes: true, Source: policy.SourceAPIKey}
)

// ident returns an OAuth identity with the given scopes.
func ident(scopes ...string) *policy.Identity {
	return &policy.Identity{Subject: "s", Scopes: scopes, Source: policy.SourceOAuth, Audiences: everyResource}
}

// who returns an identity with a verified (or not) email and groups.
func who(email string, verified bool, groups ...string) *policy.Identity {
	return &policy.Identity{Subject: "s", Email: email, EmailVerified: verified, Groups: groups, Source: policy.SourceOAuth, Audiences: everyResource}
}

// call is a tools/call request for tool name under protocol version v.
func call(host, v, name string) policy.Request {
	return policy.Request{Method: "POST", Host: host, Path: "/mcp", MCPProtocolVersion: v, MCPMethod: "tools/call", MCPName: name}
}

// get is a GET without MCP headers, so with untrusted ones.
func get(host, path string) policy.Request {
	return policy.Request{Method: "GET", Host: host, Path: path}
}

// list is a trusted request that no rule of decideConfig matches: tools/list under
// 2026-07-28.
func list(host, path string) policy.Request {
	return policy.Request{Method: "POST", Host: host, Path: path, MCPProtocolVersion: v2026, MCPMethod: "tools/list"}
}

// mcp is a request with the given protocol version, Mcp-Method and Mcp-Name.
func mcp(host, v, method, name string) policy.Request {
	return policy.Request{Method: "POST", Host: host, Path: "/mcp", MCPProtocolVersion: v, MCPMethod: method, MCPName: name}
}

type want struct {
	result  policy.Result
	reason  policy.Reason
	url     string // the matched resource; "" for none
	scopes  []string
	missing []string
	rules   []string
}

type decideCase struct {
	name string
	in   policy.Input
	want want
}

const (
	mcpHost    = "mcp.example.com"
	mcpURL     = "https://mcp.example.com/mcp"
	strictURL  = "https://strict.example.com/mcp"
	allowHost  = "allow.example.com"
	allowURL   = "https://allow.example.com/mcp"
	anonHost   = "anon.example.com"
	anonURL    = "https://anon.example.com/mcp"
	keysURL    = "https://keys.example.com/mcp"
	multiURL   = "https://multi.example.com/mcp"
	multiHost  = "multi.example.com"
	legacyURL  = "https://legacy.example.com/mcp"
	legacyHost = "legacy.example.com"
	readScope  = "mcp:read"
	writeScope = "mcp:write"
)

func in(r policy.Request, id *policy.Identity) policy.Input {
	return policy.Input{Request: r, Identity: id}
}

func invalid(r policy.Request) policy.Input { return policy.Input{Request: r, CredentialInvalid: true} }

func preflight(host string) policy.Request {
	return policy.Request{Method: "OPTIONS", Host: host, Path: "/mcp", Preflight: true}
}

var decideCases = []decideCase{
	// 1. resource matching
	{"no resource", in(get("evil.example.com", "/mcp"), reader), want{result: policy.Deny, reason: policy.ReasonNoResource}},
	// 2. public paths, whatever the identity and the headers
	{"public path", in(get(mcpHost, "/mcp/health"), nil), want{policy.Allow, policy.ReasonPublicPath, mcpURL, nil, nil, nil}},
	{"public path with failed credential", invalid(get(mcpHost, "/mcp/health/live")), want{policy.Allow, policy.ReasonPublicPath, mcpURL, nil, nil, nil}},
	// 3. CORS preflight
	{"preflight", in(preflight(mcpHost), nil), want{policy.Allow, policy.ReasonPreflight, mcpURL, nil, nil, nil}},
	{"preflight flag on a GET is ignored", in(policy.Request{Method: "GET", Host: mcpHost, Path: "/mcp", Preflight: true, MCPProtocolVersion: v2026, MCPMethod: "tools/list"}, nil),
		want{policy.Challenge, policy.ReasonNoCredential, mcpURL, []string{readScope}, nil, nil}},
	{"preflight requires auth", in(preflight("keys.example.com"), nil), want{policy.Challenge, policy.ReasonNoCredential, keysURL, nil, nil, nil}},
	{"preflight before strict headers", in(preflight("strict.example.com"), nil), want{policy.Allow, policy.ReasonPreflight, strictURL, nil, nil, nil}},
	// 4. MCP header trust
	{"strict refuses absent version", in(call("strict.example.com", "", "x"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, strictURL, nil, nil, nil}},
	{"strict refuses old version", in(call("strict.example.com", vOld, "x"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, strictURL, nil, nil, nil}},
	{"strict refuses before credentials", in(call("strict.example.com", "2026-7-28", "x"), nil), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, strictURL, nil, nil, nil}},
	{"strict accepts 2026-07-28", in(call("strict.example.com", v2026, "x"), reader), want{policy.Allow, policy.ReasonAllowed, strictURL, nil, nil, nil}},
	{"no rules: Mcp-Method not needed", in(mcp("strict.example.com", v2026, "", ""), reader), want{policy.Allow, policy.ReasonAllowed, strictURL, nil, nil, nil}},
	{"rule deny trusted 2026-07-28", in(call(mcpHost, v2026, "delete_repo"), reader), want{policy.Deny, policy.ReasonDeniedByRule, mcpURL, nil, nil, []string{"delete"}}},
	{"rule deny trusted 2026-12-01", in(call(mcpHost, vLater, "delete_repo"), reader), want{policy.Deny, policy.ReasonDeniedByRule, mcpURL, nil, nil, []string{"delete"}}},
	// A client cannot slip past a rule by omitting a header...
	{"trusted without Mcp-Method", in(mcp(mcpHost, v2026, "", "delete_repo"), reader), want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	// ...but a GET (the server's stream) or DELETE carries no message a rule describes.
	{"trusted GET without Mcp-Method", in(policy.Request{Method: "GET", Host: mcpHost, Path: "/mcp", MCPProtocolVersion: v2026}, reader),
		want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"trusted DELETE without Mcp-Method", in(policy.Request{Method: "DELETE", Host: mcpHost, Path: "/mcp", MCPProtocolVersion: v2026}, reader),
		want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"trusted PUT without Mcp-Method", in(policy.Request{Method: "PUT", Host: mcpHost, Path: "/mcp", MCPProtocolVersion: v2026}, reader),
		want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	{"tools/call without Mcp-Name", in(call(mcpHost, v2026, ""), reader), want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	{"prompts/get without Mcp-Name", in(mcp(mcpHost, vLater, "prompts/get", ""), reader), want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	{"resources/read without Mcp-Name", in(mcp(mcpHost, v2026, "resources/read", ""), reader), want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	{"missing header before credentials", in(mcp(mcpHost, v2026, "", ""), nil), want{policy.Deny, policy.ReasonMissingMCPHeader, mcpURL, nil, nil, nil}},
	{"other methods need no Mcp-Name", in(mcp(mcpHost, v2026, "tools/list", ""), reader), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	// ...nor by downgrading the version: untrusted headers are judged as every rule at once,
	// and a rule that denies refuses them.
	{"untrusted 2025-11-25 with a deny rule", in(call(mcpHost, vOld, "list_repos"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, mcpURL, nil, nil, mcpRules}},
	{"untrusted version absent with a deny rule", in(call(mcpHost, "", "delete_repo"), master), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, mcpURL, nil, nil, mcpRules}},
	{"untrusted garbage 2026-7-28 with a deny rule", in(call(mcpHost, "2026-7-28", "delete_repo"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, mcpURL, nil, nil, mcpRules}},
	{"untrusted impossible date with a deny rule", in(call(mcpHost, "2026-02-30", "delete_repo"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, mcpURL, nil, nil, mcpRules}},
	{"untrusted padded version with a deny rule", in(call(mcpHost, " 2026-07-28", "delete_repo"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, mcpURL, nil, nil, mcpRules}},
	// Without a credential the client is still challenged, so it can discover the resource.
	{"untrusted deny rule, no credential", in(get(mcpHost, "/mcp"), nil),
		want{policy.Challenge, policy.ReasonNoCredential, mcpURL, []string{readScope, writeScope, "mcp:admin", "reports:read"}, nil, mcpRules}},
	{"untrusted deny rule, invalid credential", invalid(get(mcpHost, "/mcp")),
		want{policy.Challenge, policy.ReasonInvalidCredential, mcpURL, []string{readScope, writeScope, "mcp:admin", "reports:read"}, nil, mcpRules}},
	{"untrusted deny rule, token for another resource", in(get(mcpHost, "/mcp"), &policy.Identity{Source: policy.SourceJWT, Audiences: []string{strictURL}}),
		want{policy.Challenge, policy.ReasonAudienceMismatch, mcpURL, []string{readScope, writeScope, "mcp:admin", "reports:read"}, nil, mcpRules}},
	{"untrusted needs every rule's scopes", in(call(multiHost, vOld, "yak"), ident("a")),
		want{policy.Deny, policy.ReasonInsufficientScope, multiURL, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"r1", "rules[1]"}}},
	{"untrusted challenge names every scope", in(get(multiHost, "/mcp"), nil),
		want{policy.Challenge, policy.ReasonNoCredential, multiURL, []string{"a", "b", "c"}, nil, []string{"r1", "rules[1]"}}},
	{"untrusted with every scope", in(call(multiHost, "", "yak"), ident("c", "b", "a")), want{policy.Allow, policy.ReasonAllowed, multiURL, nil, nil, []string{"r1", "rules[1]"}}},
	{"malformed version is untrusted", in(call(multiHost, "2026-07-28 ", "xray"), ident("a", "c")),
		want{policy.Deny, policy.ReasonInsufficientScope, multiURL, []string{"a", "b", "c"}, []string{"b"}, []string{"r1", "rules[1]"}}},
	{"untrusted spoofed Mcp-Name", in(policy.Request{Method: "POST", Host: multiHost, Path: "/mcp", MCPProtocolVersion: vOld, MCPMethod: "tools/list", MCPName: "harmless"}, ident("a")),
		want{policy.Deny, policy.ReasonInsufficientScope, multiURL, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"r1", "rules[1]"}}},
	// InsecureSkipRulesForUntrustedMCPHeaders: untrusted headers get the resource's rules alone.
	{"opt-out: untrusted skips a deny rule", in(call(legacyHost, vOld, "drop_table"), ident("a")), want{policy.Allow, policy.ReasonAllowed, legacyURL, nil, nil, nil}},
	{"opt-out: untrusted needs resource scopes only", in(call(legacyHost, "", "w_x"), ident()),
		want{policy.Deny, policy.ReasonInsufficientScope, legacyURL, []string{"a"}, []string{"a"}, nil}},
	{"opt-out: trusted rules still apply", in(call(legacyHost, v2026, "drop_table"), ident("a")), want{policy.Deny, policy.ReasonDeniedByRule, legacyURL, nil, nil, []string{"drop"}}},
	{"opt-out: trusted still needs Mcp-Name", in(call(legacyHost, v2026, ""), ident("a")), want{policy.Deny, policy.ReasonMissingMCPHeader, legacyURL, nil, nil, nil}},
	{"tool pattern mismatch", in(call(mcpHost, v2026, "list_repos"), reader), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"rule method mismatch", in(mcp(mcpHost, v2026, "resources/read", "delete_x"), reader), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"rule any method literal tool", in(mcp(mcpHost, v2026, "resources/read", "report"), reader),
		want{policy.Deny, policy.ReasonInsufficientScope, mcpURL, []string{readScope, "reports:read"}, []string{"reports:read"}, []string{"report"}}},
	// 5. no identity
	{"no credential", in(list(mcpHost, "/mcp"), nil), want{policy.Challenge, policy.ReasonNoCredential, mcpURL, []string{readScope}, nil, nil}},
	{"invalid credential", invalid(list(mcpHost, "/mcp/x")), want{policy.Challenge, policy.ReasonInvalidCredential, mcpURL, []string{readScope}, nil, nil}},
	{"no credential rule scopes", in(call(mcpHost, v2026, "create_issue"), nil), want{policy.Challenge, policy.ReasonNoCredential, mcpURL, []string{readScope, writeScope}, nil, []string{"write"}}},
	{"no credential denied by rule", in(call(mcpHost, v2026, "delete_repo"), nil), want{policy.Deny, policy.ReasonDeniedByRule, mcpURL, nil, nil, []string{"delete"}}},
	{"invalid credential before rule deny", invalid(call(mcpHost, v2026, "delete_repo")), want{policy.Challenge, policy.ReasonInvalidCredential, mcpURL, []string{readScope}, nil, []string{"delete"}}},
	{"anonymous", in(list(anonHost, "/mcp"), nil), want{policy.Allow, policy.ReasonAnonymous, anonURL, nil, nil, nil}},
	{"anonymous invalid credential", invalid(list(anonHost, "/mcp")), want{policy.Challenge, policy.ReasonInvalidCredential, anonURL, nil, nil, nil}},
	{"anonymous rule needs scope", in(call(anonHost, v2026, "write_file"), nil), want{policy.Challenge, policy.ReasonNoCredential, anonURL, []string{writeScope}, nil, []string{"write"}}},
	{"anonymous untrusted with a deny rule", in(call(anonHost, vOld, "write_file"), nil), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, anonURL, nil, nil, []string{"write", "nuke", "vip"}}},
	{"anonymous untrusted with a deny rule, identity", in(get(anonHost, "/mcp"), reader), want{policy.Deny, policy.ReasonMCPHeadersUntrusted, anonURL, nil, nil, []string{"write", "nuke", "vip"}}},
	{"anonymous rule deny", in(call(anonHost, v2026, "nuke"), nil), want{policy.Deny, policy.ReasonDeniedByRule, anonURL, nil, nil, []string{"nuke"}}},
	{"anonymous rule allowlist", in(call(anonHost, v2026, "vip"), nil), want{policy.Challenge, policy.ReasonNoCredential, anonURL, nil, nil, []string{"vip"}}},
	{"anonymous resource with identity", in(list(anonHost, "/mcp"), reader), want{policy.Allow, policy.ReasonAllowed, anonURL, nil, nil, nil}},
	// 6. credential kinds and token audiences
	{"credential not accepted", in(get("keys.example.com", "/mcp"), who("bot@example.com", true, "bots")),
		want{policy.Challenge, policy.ReasonCredentialNotAccepted, keysURL, nil, nil, nil}},
	{"anonymous source is not a credential", in(list(mcpHost, "/mcp"), &policy.Identity{Scopes: []string{readScope}, Source: policy.SourceAnonymous}),
		want{policy.Challenge, policy.ReasonCredentialNotAccepted, mcpURL, []string{readScope}, nil, nil}},
	{"unknown source", in(list(mcpHost, "/mcp"), &policy.Identity{Scopes: []string{readScope}, Source: "magic"}),
		want{policy.Challenge, policy.ReasonCredentialNotAccepted, mcpURL, []string{readScope}, nil, nil}},
	{"token for another resource", in(list(mcpHost, "/mcp"), &policy.Identity{Scopes: []string{readScope}, Source: policy.SourceOAuth, Audiences: []string{strictURL}}),
		want{policy.Challenge, policy.ReasonAudienceMismatch, mcpURL, []string{readScope}, nil, nil}},
	{"api key by group", in(get("keys.example.com", "/mcp"), &policy.Identity{Subject: "ci", Groups: []string{"bots"}, Source: policy.SourceAPIKey}),
		want{policy.Allow, policy.ReasonAllowed, keysURL, nil, nil, nil}},
	{"api key without group", in(get("keys.example.com", "/mcp"), master), want{policy.Deny, policy.ReasonNotAllowed, keysURL, nil, nil, nil}},
	// 7. rule deny with an identity
	{"rule deny beats AllScopes", in(call(mcpHost, v2026, "delete_repo"), master), want{policy.Deny, policy.ReasonDeniedByRule, mcpURL, nil, nil, []string{"delete"}}},
	// 8. allowlists
	{"email case-insensitive", in(list(allowHost, "/mcp"), who("boss@EXAMPLE.com", true)), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"email local part case-insensitive", in(list(allowHost, "/mcp"), who("BOSS@example.com", true)), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"unverified email does not count", in(list(allowHost, "/mcp"), who("boss@example.com", false)), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"domain", in(list(allowHost, "/mcp"), who("bob@allowed.com", true)), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"domain upper case", in(list(allowHost, "/mcp"), who("bob@ALLOWED.Com", true)), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"unverified domain", in(list(allowHost, "/mcp"), who("bob@allowed.com", false)), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"two @ rejected", in(list(allowHost, "/mcp"), who("a@evil.com@allowed.com", true)), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"subdomain is another domain", in(list(allowHost, "/mcp"), who("bob@sub.allowed.com", true)), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"group", in(list(allowHost, "/mcp"), who("", false, "staff")), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"group case-sensitive", in(list(allowHost, "/mcp"), who("", false, "Staff")), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"nobody", in(list(allowHost, "/mcp"), who("eve@example.org", true, "guests")), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, nil}},
	{"rule gate fails", in(call(allowHost, v2026, "secret_keys"), who("", false, "staff")), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"rule gate without resource gate", in(call(allowHost, v2026, "secret_keys"), who("", false, "ops")), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"both gates", in(call(allowHost, v2026, "secret_keys"), who("", false, "ops", "staff")), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"both gates by one email", in(call(allowHost, v2026, "secret_keys"), who("Boss@example.com", true)), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"untrusted: every rule's gate", in(call(allowHost, vOld, "list_keys"), who("", false, "staff")), want{policy.Deny, policy.ReasonNotAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"untrusted: every rule's gate passed", in(get(allowHost, "/mcp"), who("", false, "staff", "ops")), want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, []string{"secret"}}},
	{"allowlist no credential", in(list(allowHost, "/mcp"), nil), want{policy.Challenge, policy.ReasonNoCredential, allowURL, nil, nil, nil}},
	{"api key by email", in(list(allowHost, "/mcp"), &policy.Identity{Subject: "k", Email: "ci@allowed.com", EmailVerified: true, Source: policy.SourceAPIKey}),
		want{policy.Allow, policy.ReasonAllowed, allowURL, nil, nil, nil}},
	{"allowlist before scopes", in(call(mcpHost, v2026, "admin_reset"), writer), want{policy.Deny, policy.ReasonNotAllowed, mcpURL, nil, nil, []string{"admin"}}},
	// 9. scopes
	{"reader", in(list(mcpHost, "/mcp"), reader), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"write implies read", in(list(mcpHost, "/mcp"), writer), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"transitive chain", in(list(mcpHost, "/mcp"), ident("mcp:admin")), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, nil}},
	{"implication is one-way", in(call(mcpHost, v2026, "create_issue"), reader),
		want{policy.Deny, policy.ReasonInsufficientScope, mcpURL, []string{readScope, writeScope}, []string{writeScope}, []string{"write"}}},
	{"no scopes", in(list(mcpHost, "/mcp"), ident()), want{policy.Deny, policy.ReasonInsufficientScope, mcpURL, []string{readScope}, []string{readScope}, nil}},
	{"unrelated scopes", in(list(mcpHost, "/mcp"), ident("mcp:reader", "MCP:READ")), want{policy.Deny, policy.ReasonInsufficientScope, mcpURL, []string{readScope}, []string{readScope}, nil}},
	{"writer on write tool", in(call(mcpHost, vLater, "update_issue"), writer), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, []string{"write"}}},
	{"admin tool", in(call(mcpHost, v2026, "admin_reset"), admin), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, []string{"admin"}}},
	{"admin tool group without scope", in(call(mcpHost, v2026, "admin_reset"), &policy.Identity{Scopes: []string{writeScope}, Groups: []string{"admins"}, Source: policy.SourceOAuth, Audiences: []string{mcpURL}}),
		want{policy.Deny, policy.ReasonInsufficientScope, mcpURL, []string{readScope, "mcp:admin"}, []string{"mcp:admin"}, []string{"admin"}}},
	{"AllScopes", in(call(mcpHost, v2026, "create_issue"), master), want{policy.Allow, policy.ReasonAllowed, mcpURL, nil, nil, []string{"write"}}},
	{"several rules all scopes", in(call(multiHost, v2026, "xray"), ident("b")),
		want{policy.Deny, policy.ReasonInsufficientScope, multiURL, []string{"a", "b", "c"}, []string{"a", "c"}, []string{"r1", "rules[1]"}}},
	{"several rules no credential", in(call(multiHost, v2026, "xray"), nil),
		want{policy.Challenge, policy.ReasonNoCredential, multiURL, []string{"a", "b", "c"}, nil, []string{"r1", "rules[1]"}}},
	{"several rules granted", in(call(multiHost, v2026, "xray"), ident("c", "b", "a")), want{policy.Allow, policy.ReasonAllowed, multiURL, nil, nil, []string{"r1", "rules[1]"}}},
	{"one rule of two", in(call(multiHost, v2026, "yak"), ident("a")),
		want{policy.Deny, policy.ReasonInsufficientScope, multiURL, []string{"a", "b"}, []string{"b"}, []string{"r1"}}},
}

func checkDecision(tb testing.TB, in policy.Input, got policy.Decision, w want) {
	tb.Helper()
	url := ""
	if got.Resource != nil {
		url = got.Resource.URL()
	}
	if got.Result != w.result || got.Reason != w.reason || url != w.url {
		tb.Errorf("Decide(%+v) = %v/%v on %q, want %v/%v on %q", in.Request, got.Result, got.Reason, url, w.result, w.reason, w.url)
	}
	if !slices.Equal(got.Scopes, w.scopes) {
		tb.Errorf("Decide(%+v).Scopes = %q, want %q", in.Request, got.Scopes, w.scopes)
	}
	if !slices.Equal(got.Missing, w.missing) {
		tb.Errorf("Decide(%+v).Missing = %q, want %q", in.Request, got.Missing, w.missing)
	}
	if !slices.Equal(got.Rules, w.rules) {
		tb.Errorf("Decide(%+v).Rules = %q, want %q", in.Request, got.Rules, w.rules)
	}
	if got.Message == "" {
		tb.Errorf("Decide(%+v).Message is empty", in.Request)
	}
}

func TestDecide(t *testing.T) {
	p := mustNew(t, decideConfig())
	for _, tt := range decideCases {
		t.Run(tt.name, func(t *testing.T) {
			checkDecision(t, tt.in, p.Decide(tt.in), tt.want)
		})
	}
}

func TestDecideReasonsCovered(t *testing.T) {
	all := []policy.Reason{
		policy.ReasonAllowed, policy.ReasonPublicPath, policy.ReasonAnonymous, policy.ReasonPreflight, policy.ReasonNoResource,
		policy.ReasonNoCredential, policy.ReasonInvalidCredential, policy.ReasonCredentialNotAccepted, policy.ReasonInsufficientScope,
		policy.ReasonNotAllowed, policy.ReasonDeniedByRule, policy.ReasonMCPHeadersUntrusted, policy.ReasonMissingMCPHeader,
		policy.ReasonAudienceMismatch,
	}
	seen := map[policy.Reason]bool{}
	for _, tt := range decideCases {
		seen[tt.want.reason] = true
	}
	for _, r := range all {
		if !seen[r] {
			t.Errorf("no TestDecide case expects reason %q", r)
		}
	}
}

func TestMCPProtocolVersion(t *testing.T) {
	p := mustNew(t, one(policy.ResourceConfig{URL: strictURL, StrictMCPHeaders: true}))
	tests := []struct {
		version string
		trusted bool
	}{
		{"2026-07-28", true}, {"2026-07-29", true}, {"2026-12-01", true}, {"2027-01-01", true}, {"9999-12-31", true},
		{"2028-02-29", true}, {"2400-02-29", true}, {"2026-09-30", true},
		{"2026-07-27", false}, {"2025-11-25", false}, {"2025-06-18", false}, {"", false}, {"2026-7-28", false},
		{"2026-07-28 ", false}, {"2026/07/28", false}, {"2026-07-2x", false}, {"+026-07-28", false}, {"20260728", false},
		{"2027-02-29", false}, {"2100-02-29", false}, {"2026-09-31", false}, {"2026-13-01", false}, {"2026-00-10", false},
		{"2026-08-00", false}, {"2026-08-32", false}, {"2026-07-28T00:00:00Z", false}, {"latest", false},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			in := in(call("strict.example.com", tt.version, "x"), master)
			want := policy.ReasonMCPHeadersUntrusted
			if tt.trusted {
				want = policy.ReasonAllowed
			}
			if got := p.Decide(in); got.Reason != want {
				t.Errorf("Decide(MCP-Protocol-Version %q) = %v/%v, want %v", tt.version, got.Result, got.Reason, want)
			}
		})
	}
}

func TestDecideImplications(t *testing.T) {
	rc := policy.ResourceConfig{URL: mcpURL, RequiredScopes: []string{readScope}}
	tests := []struct {
		name string
		impl map[string][]string
		id   *policy.Identity
		want policy.Result
	}{
		{"nil means the default", nil, writer, policy.Allow},
		{"default is one-way", nil, ident("mcp:admin"), policy.Deny},
		{"empty means none", map[string][]string{}, writer, policy.Deny},
		{"cycle", map[string][]string{"x": {"y"}, "y": {"mcp:read", "x"}}, ident("x"), policy.Allow},
		{"custom replaces the default", map[string][]string{"all": {"mcp:read"}}, writer, policy.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, policy.Config{Resources: []policy.ResourceConfig{rc}, ScopeImplications: tt.impl})
			in := in(get(mcpHost, "/mcp"), tt.id)
			if got := p.Decide(in); got.Result != tt.want {
				t.Errorf("Decide(%+v) = %v/%v, want %v", in.Request, got.Result, got.Reason, tt.want)
			}
		})
	}
}

func TestDecideAllocs(t *testing.T) {
	p := mustNew(t, decideConfig())
	tests := []struct {
		name string
		in   policy.Input
	}{
		{"allow with a required scope", in(list(mcpHost, "/mcp"), reader)},
		{"allow through an implication", in(list(mcpHost, "/mcp"), writer)},
		{"allow with one rule", in(call(mcpHost, v2026, "update_issue"), writer)},
		{"allow by allowlist", in(list(allowHost, "/mcp"), who("bob@allowed.com", true))},
		{"allow untrusted by every rule", in(call(multiHost, vOld, "yak"), ident("a", "b", "c"))},
		{"allow on a port-less host", in(list(mcpHost+":8443", "/mcp"), reader)},
		{"challenge", in(list(mcpHost, "/mcp"), nil)},
		{"challenge untrusted", in(get(multiHost, "/mcp"), nil)},
		{"audience mismatch", in(list(mcpHost, "/mcp"), &policy.Identity{Source: policy.SourceJWT, Audiences: []string{"https://elsewhere/mcp"}})},
		{"missing header", in(call(mcpHost, v2026, ""), reader)},
		{"public path", in(get(mcpHost, "/mcp/health"), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { p.Decide(tt.in) }); n != 0 {
				t.Errorf("Decide(%+v) allocates %v times, want 0", tt.in.Request, n)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	p := mustNew(b, decideConfig())
	benches := []struct {
		name string
		in   policy.Input
	}{
		{"allow", in(list(mcpHost, "/mcp"), reader)},
		{"allow_rule", in(call(mcpHost, v2026, "update_issue"), writer)},
		{"allow_untrusted", in(call(multiHost, vOld, "yak"), ident("a", "b", "c"))},
		{"challenge", in(list(mcpHost, "/mcp"), nil)},
		{"insufficient_scope", in(call(mcpHost, v2026, "create_issue"), reader)},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide(bb.in)
			}
		})
	}
}
