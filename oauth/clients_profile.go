package oauth

// The known MCP clients: how each gets a client_id, which redirect URIs it sends, how it
// sends resource and scope, and what it checks of an authorization server. Every row
// names its sources; oauth's tests replay each row's requests against the real handler.

// Gate is one check a client makes of the authorization server, which fails the
// client's whole flow when the server gets it wrong.
type Gate string

// The gates of the known clients.
const (
	// GatePKCE: code_challenge_methods_supported lists S256 (MCP 2025-11-25: a client
	// MUST refuse to proceed without it).
	GatePKCE Gate = "pkce-s256"
	// GateIssuerExact: the metadata's issuer is byte-equal to the issuer the client
	// discovered it from, authorization_servers[0] (RFC 8414 §3.3).
	GateIssuerExact Gate = "issuer-exact"
	// GateISS: the authorization response carries iss, byte-equal to the issuer,
	// whenever authorization_response_iss_parameter_supported is true (RFC 9207 §2.4).
	GateISS Gate = "iss-present"
	// GateNoneWithCIMD: token_endpoint_auth_methods_supported lists none whenever
	// client_id_metadata_document_supported is true; otherwise the client registers by
	// DCR instead of using its metadata document.
	GateNoneWithCIMD Gate = "none-with-cimd"
	// GateLoopbackAnyPort: a loopback redirect URI is accepted with any port (RFC 8252
	// §7.3), the document or registration listing it with another port or none.
	GateLoopbackAnyPort Gate = "loopback-any-port"
	// GateSameOrigin: the authorization endpoint has the issuer's origin.
	GateSameOrigin Gate = "endpoints-same-origin"
	// GateCORS: every metadata, registration and token endpoint allows cross-origin
	// calls (a browser client).
	GateCORS Gate = "cors"
)

// Registration is one way a client gets its client_id.
type Registration struct {
	// CIMD is the client's Client ID Metadata Document URL (its client_id); empty for
	// Dynamic Client Registration.
	CIMD string
	// Body is the metadata document the CIMD URL serves, or the RFC 7591 request the
	// client posts to the registration endpoint: reconstructed from the row's sources
	// (the fields they report, stand-in values for a connector id, port or callback id),
	// not captured from the client.
	Body string
	// RedirectURIs are the redirect_uri values it then sends at /authorize, ports as seen.
	RedirectURIs []string
}

// ClientProfile is what one known MCP client sends and checks, as its sources record it.
type ClientProfile struct {
	// Name is the client's name; doctor's --client takes it in lower case.
	Name string
	// Sources are where the facts of the row come from: issue threads as owner/repo#N,
	// documentation by address.
	Sources []string
	// Registrations are the ways it gets a client_id, preferred first.
	Registrations []Registration
	// Resource reports whether it sends resource (RFC 8707) at /authorize and /token;
	// false for a client some of whose versions omit it.
	Resource bool
	// Scope is the scope it sends at /authorize: the challenge's or the metadata's
	// scopes, or "" when it sends none.
	Scope string
	// RefreshScope reports whether it sends scope with a refresh.
	RefreshScope bool
	// Gates are the checks it makes of the authorization server.
	Gates []Gate
	// Absorbed are its quirks that mcpguard absorbs, and how.
	Absorbed []string
	// NotAbsorbed are its quirks that mcpguard cannot absorb without weakening a check.
	NotAbsorbed []string
}

// The registration requests and documents of the known clients.
const (
	claudeDCR = `{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post","scope":"claudeai"}`
	// The CIMD of claude.ai lists both hosted callbacks.
	claudeCIMD     = `{"client_id":"https://claude.ai/oauth/mcp-oauth-client-metadata","client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback","https://claude.com/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	claudeCodeCIMD = `{"client_id":"https://claude.ai/oauth/claude-code-client-metadata","client_name":"Claude Code","redirect_uris":["http://localhost/callback","http://127.0.0.1/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	claudeCodeDCR  = `{"client_name":"Claude Code","redirect_uris":["http://localhost:3118/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","application_type":"native"}`
	chatGPTCIMD    = `{"client_id":"https://chatgpt.com/oauth/c_5f2a9e0d1b/client.json","client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector/oauth/c_5f2a9e0d1b"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	chatGPTDCR     = `{"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector/oauth/c_5f2a9e0d1b","https://chatgpt.com/connector_platform_oauth_redirect"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:read offline_access"}`
	// Codex registers without a scope.
	codexDCR       = `{"client_name":"Codex","redirect_uris":["http://127.0.0.1:33418/callback/Xq3vT9kLmA2p"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	vsCodeCIMD     = `{"client_id":"https://vscode.dev/oauth/client-metadata.json","client_name":"Visual Studio Code","redirect_uris":["https://insiders.vscode.dev/redirect","https://vscode.dev/redirect","http://127.0.0.1/","http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	vsCodeDCR      = `{"client_name":"Visual Studio Code","redirect_uris":["https://insiders.vscode.dev/redirect","https://vscode.dev/redirect","http://127.0.0.1/","http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	cursorDCR      = `{"client_name":"Cursor","application_type":"web","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback","https://www.cursor.com/agents/mcp/oauth/callback","http://localhost:8787/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	geminiDCR      = `{"client_name":"Gemini CLI MCP Client","redirect_uris":["http://localhost:7777/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	copilotCIMD    = `{"client_id":"https://github.com/copilot/cli/client-metadata.json","client_name":"GitHub Copilot CLI","application_type":"native","redirect_uris":["http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	copilotDCR     = `{"client_name":"GitHub Copilot CLI","application_type":"native","redirect_uris":["http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	inspectorDCR   = `{"client_name":"MCP Inspector","client_uri":"https://github.com/modelcontextprotocol/inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:read"}`
	inspectorCLI   = `{"client_name":"MCP Inspector","redirect_uris":["http://127.0.0.1:6276/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	mcpRemoteDCR   = `{"client_name":"MCP CLI Proxy","client_uri":"https://github.com/modelcontextprotocol/mcp-cli","redirect_uris":["http://localhost:3334/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","software_id":"2e6dc280-f3c3-4e01-99a7-8181dbd1d23d"}`
	gooseCIMD      = `{"client_id":"https://goose-docs.ai/oauth/client-metadata.json","client_name":"goose","redirect_uris":["http://127.0.0.1/oauth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","application_type":"native"}`
	opencodeDCR    = `{"client_name":"OpenCode","client_uri":"https://opencode.ai","redirect_uris":["http://127.0.0.1:19876/mcp/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	challengeScope = "mcp:read"
)

// gates are the gates every client following MCP 2025-11-25 makes (S256 advertised,
// the issuer exact), and extra.
func gates(extra ...Gate) []Gate {
	return append([]Gate{GatePKCE, GateIssuerExact}, extra...)
}

// KnownClients returns the profile of every known MCP client, a fresh copy each call.
//
// Where a row's quirk is marked absorbed, mcpguard handles it without weakening a check:
// a missing resource gets the one resource the server issues for (the first configured,
// Config.Resources); a refresh without scope keeps the granted scope; a loopback
// redirect URI matches with any port and any loopback host form, path and query exact;
// none is always in token_endpoint_auth_methods_supported; iss is on every
// authorization response.
func KnownClients() []ClientProfile {
	return []ClientProfile{
		{
			Name: "Claude.ai",
			Sources: []string{
				"https://claude.com/docs/connectors/building/authentication (DCR and CIMD)",
				"wp-media/wp-rocket#8619 (CIMD client_id)",
				"anthropics/claude-ai-mcp#1043, #124 (DCR body: client_secret_post, scope claudeai)",
				"anthropics/claude-ai-mcp#840 (scope from WWW-Authenticate)",
				"anthropics/claude-ai-mcp#228 (refresh without scope)",
				"anthropics/claude-ai-mcp#786, #946 (stops without code_challenge_methods_supported)",
				"not verified: that its metadata document lists both hosted callbacks",
			},
			Registrations: []Registration{
				{CIMD: "https://claude.ai/oauth/mcp-oauth-client-metadata", Body: claudeCIMD, RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"}},
				{Body: claudeDCR, RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(GateNoneWithCIMD),
			Absorbed: []string{
				"uses its metadata document only when none is advertised with CIMD: always advertised",
				"DCR asks for scope claudeai: an unknown requested scope is dropped, not refused",
				"refreshes without scope: the granted scope is kept",
				"registers anew on every fresh connection: DCR clients expire unused",
			},
		},
		{
			Name: "Claude Desktop",
			Sources: []string{
				"https://claude.com/docs/connectors/building/authentication (connectors of claude.ai, Desktop, mobile)",
				"agencyenterprise/draft-detective#775, anthropics/claude-code#93327 (aborts on an RFC 8414 §3.3 issuer mismatch)",
			},
			Registrations: []Registration{
				{CIMD: "https://claude.ai/oauth/mcp-oauth-client-metadata", Body: claudeCIMD, RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}},
				{Body: claudeDCR, RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}},
			},
			Resource:    true,
			Scope:       challengeScope,
			Gates:       gates(GateNoneWithCIMD),
			Absorbed:    []string{"issuer compared byte for byte: mcpguard derives the issuer and authorization_servers from ISSUER_URL alone"},
			NotAbsorbed: []string{"local servers configured through mcp-remote in claude_desktop_config.json behave as the mcp-remote row"},
		},
		{
			Name: "Claude Code",
			Sources: []string{
				"anthropics/claude-code#42301, #90370, #44429 (CIMD lists http://localhost/callback and http://127.0.0.1/callback, sends http://localhost:<port>/callback)",
				"anthropics/claude-code#37747 (CIMD since 2.1.80; default callback port 3118)",
				"anthropics/claude-code#90497, #10572 (no resource in some versions)",
				"anthropics/claude-code#89862 (refresh without scope)",
				"anthropics/claude-code#13275 (refuses an AS without code_challenge_methods_supported)",
			},
			Registrations: []Registration{
				{CIMD: "https://claude.ai/oauth/claude-code-client-metadata", Body: claudeCodeCIMD, RedirectURIs: []string{"http://localhost:3118/callback", "http://localhost:49152/callback"}},
				{Body: claudeCodeDCR, RedirectURIs: []string{"http://localhost:3118/callback"}},
			},
			Resource: false,
			Scope:    challengeScope,
			Gates:    gates(GateISS, GateNoneWithCIMD, GateLoopbackAnyPort),
			Absorbed: []string{
				"its document lists portless loopback URIs and it sends a port: any port is accepted for loopback",
				"it sends localhost while publishing 127.0.0.1 too: loopback host forms are equivalent",
				"some versions send no resource: the default resource is used at /authorize and kept at /token",
				"refreshes without scope: the granted scope is kept",
			},
			NotAbsorbed: []string{"reuses a refresh token days after rotation (anthropics/claude-code#66210): past the grace window that revokes the family, by design"},
		},
		{
			Name: "ChatGPT",
			Sources: []string{
				"https://developers.openai.com/apps-sdk/build/auth (CIMD, DCR, PKCE; echo resource)",
				"BasedHardware/omi#8824, kunickiaj/codemem#1286 (per-connector callback; CORS from https://chatgpt.com)",
				"danielealbano/android-remote-control-mcp#166 (legacy callback; offline_access in AS metadata)",
				"not verified: the contents of its per-connector metadata document",
			},
			Registrations: []Registration{
				{CIMD: "https://chatgpt.com/oauth/c_5f2a9e0d1b/client.json", Body: chatGPTCIMD, RedirectURIs: []string{"https://chatgpt.com/connector/oauth/c_5f2a9e0d1b"}},
				{Body: chatGPTDCR, RedirectURIs: []string{"https://chatgpt.com/connector/oauth/c_5f2a9e0d1b", "https://chatgpt.com/connector_platform_oauth_redirect"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(GateCORS),
			Absorbed: []string{
				"a callback per connector: each registration or document lists its own, matched exactly",
				"reads the root protected-resource metadata first: served for the host's resource",
			},
		},
		{
			Name: "Codex",
			Sources: []string{
				"anomalyco/opencode#47737 (CIMD chatgpt.com/oauth/codex/client.json)",
				"openai/codex#30460 (redirect http://127.0.0.1:<port>/callback/<callback_id>)",
				"openai/codex#38944 (authorization endpoint must share the issuer's origin)",
				"user reports, not verified against Codex's source: omits resource in some versions, ignores scopes_supported, no scope at DCR, compares iss as a string",
			},
			Registrations: []Registration{
				{Body: codexDCR, RedirectURIs: []string{"http://127.0.0.1:33418/callback/Xq3vT9kLmA2p"}},
			},
			Resource: false,
			Scope:    "",
			Gates:    gates(GateISS, GateSameOrigin),
			Absorbed: []string{
				"no resource at /authorize and /token: the default resource",
				"no scope at DCR or /authorize: every allowed scope (RFC 6749 §3.3 default)",
			},
			NotAbsorbed: []string{
				"its metadata document (https://chatgpt.com/oauth/codex/client.json) is not replayed: its redirect_uris are unverified, and a listed path without the /<callback_id> suffix would not match (only the port varies)",
				"with several resources configured, a request without resource gets the first: give Codex its own mcpguard or one resource",
			},
		},
		{
			Name: "VS Code",
			Sources: []string{
				"microsoft/vscode PR #271403, #298300 (CIMD https://vscode.dev/oauth/client-metadata.json)",
				"microsoft/vscode#278512 (33418, a random port when busy)",
				"modelcontextprotocol/python-sdk#1264, #1400 (PRM resource must equal the server URL)",
				"not verified: that its metadata document lists the redirect URIs of its DCR request",
			},
			Registrations: []Registration{
				{CIMD: "https://vscode.dev/oauth/client-metadata.json", Body: vsCodeCIMD, RedirectURIs: []string{"http://127.0.0.1:33418/", "http://127.0.0.1:61234/", "https://vscode.dev/redirect"}},
				{Body: vsCodeDCR, RedirectURIs: []string{"http://127.0.0.1:33418/", "http://127.0.0.1:61234/", "https://insiders.vscode.dev/redirect"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(GateLoopbackAnyPort),
			Absorbed: []string{"a random port when 33418 is busy: any port for loopback"},
		},
		{
			Name: "Cursor",
			Sources: []string{
				"erp-mafia/accounted#2225 (three callbacks in one DCR request)",
				"better-auth/better-auth#10946, PR #10956 (application_type web, or none)",
				"sprawz/gtm-mcp-server#38 (the callback must be a plain 302 to cursor://)",
			},
			Registrations: []Registration{
				{Body: cursorDCR, RedirectURIs: []string{"cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost:8787/callback"}},
			},
			Resource:    true,
			Scope:       challengeScope,
			Gates:       gates(),
			Absorbed:    []string{"a private-use cursor:// callback registered as application_type web: accepted"},
			NotAbsorbed: []string{"has changed its callbacks before: a new one needs a new registration, which Cursor makes itself"},
		},
		{
			Name: "Gemini CLI",
			Sources: []string{
				"google-gemini/gemini-cli PR #7465 (http://localhost:7777/oauth/callback)",
				"google-gemini/gemini-cli#14419 (a random port in 0.19.0)",
				"google-gemini/gemini-cli PR #17167 (DCR from the metadata's issuer)",
			},
			Registrations: []Registration{
				{Body: geminiDCR, RedirectURIs: []string{"http://localhost:7777/oauth/callback", "http://localhost:50123/oauth/callback"}},
			},
			Resource: false,
			Scope:    challengeScope,
			Gates:    gates(),
			Absorbed: []string{"a random port in some versions: any port for loopback", "resource not verified: replayed without it, the default resource"},
		},
		{
			Name: "Copilot CLI",
			Sources: []string{
				"github/copilot-cli#4793, #4926 (CIMD https://github.com/copilot/cli/client-metadata.json lists http://127.0.0.1:33418/, sends an ephemeral port)",
				"github/copilot-cli#4439, #4769 (RFC 8414 §3.3 issuer enforced strictly)",
				"github/copilot-cli#1951 (DCR with a loopback port that changes)",
			},
			Registrations: []Registration{
				{CIMD: "https://github.com/copilot/cli/client-metadata.json", Body: copilotCIMD, RedirectURIs: []string{"http://127.0.0.1:60005/", "http://127.0.0.1:33418/"}},
				{Body: copilotDCR, RedirectURIs: []string{"http://127.0.0.1:55319/"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(GateLoopbackAnyPort),
			Absorbed: []string{"its document lists port 33418 and it sends another: any port for loopback", "the issuer is byte-identical in metadata and PRM, and metadata is never behind a redirect"},
		},
		{
			Name: "MCP Inspector",
			Sources: []string{
				"modelcontextprotocol docs 2026-07-28 tools/inspector/authorization.mdx (static, CIMD, DCR; web http://localhost:6274/oauth/callback, CLI http://127.0.0.1:6276/oauth/callback)",
				"modelcontextprotocol/inspector#675 (PRM path form first, then root)",
				"modelcontextprotocol/typescript-sdk#715 (CORS and OPTIONS on every endpoint)",
			},
			Registrations: []Registration{
				{Body: inspectorDCR, RedirectURIs: []string{"http://localhost:6274/oauth/callback", "http://127.0.0.1:6274/oauth/callback"}},
				{Body: inspectorCLI, RedirectURIs: []string{"http://127.0.0.1:6276/oauth/callback"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(GateCORS),
			Absorbed: []string{"web and CLI write localhost and 127.0.0.1: loopback host forms are equivalent"},
		},
		{
			Name: "mcp-remote",
			Sources: []string{
				"geelen/mcp-remote src/lib/node-oauth-client-provider.ts (client_name MCP CLI Proxy, http://localhost:<port>/oauth/callback, default port 3334)",
				"typescript-sdk packages/client/src/client/auth.ts (resource and scope from the PRM; offline_access when advertised)",
			},
			Registrations: []Registration{
				{Body: mcpRemoteDCR, RedirectURIs: []string{"http://localhost:3334/oauth/callback"}},
			},
			Resource:    true,
			Scope:       "mcp:read offline_access",
			Gates:       gates(),
			NotAbsorbed: []string{"refreshes before every request when ACCESS_TOKEN_TTL is under its 60 s margin: keep the TTL above a minute"},
		},
		{
			Name: "Goose",
			Sources: []string{
				"aaif-goose/goose#9670 (CIMD only: https://goose-docs.ai/oauth/client-metadata.json, no DCR fallback)",
				"aaif-goose/goose#7058 (rmcp 1.6.0 sends resource)",
				"aaif-goose/goose#8918 (loopback callback path /oauth_callback)",
			},
			Registrations: []Registration{
				{CIMD: "https://goose-docs.ai/oauth/client-metadata.json", Body: gooseCIMD, RedirectURIs: []string{"http://127.0.0.1:3334/oauth_callback"}},
			},
			Resource:    true,
			Scope:       challengeScope,
			Gates:       gates(GateNoneWithCIMD),
			NotAbsorbed: []string{"needs CIMD: with CIMD_ALLOWED_DOMAINS set, goose-docs.ai must be listed; its document's redirect_uris are unverified (the replay assumes the /oauth_callback path)"},
		},
		{
			Name: "opencode",
			Sources: []string{
				"anomalyco/opencode#7377, PR #21385 (http://127.0.0.1:19876/mcp/oauth/callback, redirectUri configurable)",
				"anomalyco/opencode#18955 (a random port)",
				"anomalyco/opencode PR #5940 (the TypeScript SDK's auth flow)",
			},
			Registrations: []Registration{
				{Body: opencodeDCR, RedirectURIs: []string{"http://127.0.0.1:19876/mcp/oauth/callback", "http://127.0.0.1:41234/mcp/oauth/callback"}},
			},
			Resource: true,
			Scope:    challengeScope,
			Gates:    gates(),
		},
	}
}
