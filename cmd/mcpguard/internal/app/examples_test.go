package app

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/policy"
)

// TestExamples loads the example files users copy, so they never rot.
func TestExamples(t *testing.T) {
	examples := filepath.Join(repoRoot(t), "examples")
	data, err := os.ReadFile(filepath.Join(examples, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parsePolicyFile(data)
	if err != nil {
		t.Fatalf("examples/policy.yaml: %v", err)
	}
	p, err := policy.New(f.policyConfig())
	if err != nil {
		t.Fatalf("examples/policy.yaml: %v", err)
	}
	if n := len(p.Resources()); n != 2 {
		t.Fatalf("examples/policy.yaml has %d resources, want 2", n)
	}
	keys, err := os.ReadFile(filepath.Join(examples, "api-keys.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.ParseKeysFile(keys); err != nil {
		t.Fatalf("examples/api-keys.yaml: %v", err)
	}

	// The example's rules behave as its comments say, for a bot key of group "bots".
	botKeys := writeFile(t, "keys.yaml", `keys:
  - name: bot
    sha256: `+auth.HashKey("bot-key-0123456789abc")+`
    groups: [bots]
    scopes: [mcp:read]
`)
	h, _ := testServer(t, map[string]string{"POLICY_FILE": filepath.Join(examples, "policy.yaml"), "API_KEYS_FILE": botKeys})
	v := "2026-07-28"
	tests := []struct {
		name   string
		uri    string
		kv     []string
		status int
	}{
		{"read tool", "/mcp", []string{"X-Api-Key", "bot-key-0123456789abc", "Mcp-Protocol-Version", v, "Mcp-Method", "tools/call", "Mcp-Name", "search"}, 200},
		{"write tool needs mcp:write", "/mcp", []string{"X-Api-Key", "bot-key-0123456789abc", "Mcp-Protocol-Version", v, "Mcp-Method", "tools/call", "Mcp-Name", "delete_page"}, 403},
		{"shell tool denied", "/mcp", []string{"X-Api-Key", "bot-key-0123456789abc", "Mcp-Protocol-Version", v, "Mcp-Method", "tools/call", "Mcp-Name", "run_shell"}, 403},
		{"no key", "/mcp", nil, 401},
		{"health is public", "/mcp/health", nil, 200},
		{"admin host refuses the bot", "/mcp", []string{"X-Api-Key", "bot-key-0123456789abc", "X-Forwarded-Host", "admin.example.com"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fwd("POST", tt.uri, tt.kv...)
			if hh := r.Header.Values("X-Forwarded-Host"); len(hh) == 2 {
				r.Header.Set("X-Forwarded-Host", hh[1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
		})
	}
}

// examplePolicyCase is one /auth request against an example policy and its expected answer.
type examplePolicyCase struct {
	name   string
	kv     []string // request headers, as for fwd
	status int
	source string // X-Auth-Source on 200
}

// TestExamplePolicies loads each policy file of examples/policies the way POLICY_FILE
// does (parsePolicyFile, then policy.New) and checks that it decides as its comments say.
func TestExamplePolicies(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "policies")
	keyFor := func(name string) string { return name + "-key-0123456789abcdef" }
	keys := writeFile(t, "keys.yaml", `keys:
  - name: alice
    sha256: `+auth.HashKey(keyFor("alice"))+`
    email: alice@example.com
    scopes: [mcp:read]
  - name: mallory
    sha256: `+auth.HashKey(keyFor("mallory"))+`
    email: mallory@example.net
    scopes: [mcp:read, mcp:write]
  - name: platform-bot
    sha256: `+auth.HashKey(keyFor("platform-bot"))+`
    groups: [platform-team]
    scopes: [mcp:read]
  - name: reader
    sha256: `+auth.HashKey(keyFor("reader"))+`
    email: reader@example.com
    scopes: [mcp:read]
  - name: writer
    sha256: `+auth.HashKey(keyFor("writer"))+`
    email: writer@example.com
    scopes: [mcp:read, mcp:write]
  - name: ci-bot
    sha256: `+auth.HashKey(keyFor("ci-bot"))+`
    groups: [bots]
    scopes: [mcp:read, mcp:write]
  - name: stray-bot
    sha256: `+auth.HashKey(keyFor("stray-bot"))+`
    scopes: [mcp:read, mcp:write]
`)
	key := func(name string) []string { return []string{"X-Api-Key", keyFor(name)} }
	const v = "2026-07-28"
	call := func(tool string, kv ...string) []string {
		return append(kv, "Mcp-Protocol-Version", v, "Mcp-Method", "tools/call", "Mcp-Name", tool)
	}

	tests := []struct {
		file  string
		env   map[string]string
		cases []examplePolicyCase
	}{
		{"team-allowlist.yaml", map[string]string{"API_KEYS_FILE": keys}, []examplePolicyCase{
			{"listed email", key("alice"), 200, "apikey"},
			{"listed group", key("platform-bot"), 200, "apikey"},
			{"not listed", key("mallory"), 403, ""},
			{"no credential", nil, 401, ""},
		}},
		{"read-write-tools.yaml", map[string]string{"API_KEYS_FILE": keys}, []examplePolicyCase{
			{"read tool with mcp:read", call("search", key("reader")...), 200, "apikey"},
			{"write tool with mcp:read", call("delete_page", key("reader")...), 403, ""},
			{"write tool with mcp:write", call("delete_page", key("writer")...), 200, "apikey"},
			{"denied tool", call("run_shell", key("writer")...), 403, ""},
			{"client older than 2026-07-28", append(key("writer"), "Mcp-Protocol-Version", "2025-11-25"), 403, ""},
			{"other domain", call("search", key("mallory")...), 403, ""},
		}},
		{"ci-bots-and-users.yaml", map[string]string{"API_KEYS_FILE": keys}, []examplePolicyCase{
			{"bot in group", call("search", key("ci-bot")...), 200, "apikey"},
			{"bot on an admin tool", call("admin_reset", key("ci-bot")...), 403, ""},
			{"person on an admin tool", call("admin_reset", key("writer")...), 200, "apikey"},
			{"bot without the group", call("search", key("stray-bot")...), 403, ""},
			{"no credential", nil, 401, ""},
		}},
		{"sso-proxy.yaml", map[string]string{
			"MCP_CLIENT_AUTH_ENABLED":  "false",
			"TRUST_PROXY_AUTH":         "true",
			"PROXY_AUTH_TRUSTED_CIDRS": "198.51.100.0/24", // fwd's X-Forwarded-For is 198.51.100.7
		}, []examplePolicyCase{
			{"user from the SSO proxy", []string{"X-Authenticated-User", "alice@example.com"}, 200, "proxy"},
			{"other domain", []string{"X-Authenticated-User", "eve@example.net"}, 403, ""},
			{"no user header", nil, 401, ""},
			{"an API key is not accepted", key("alice"), 401, ""},
		}},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests) {
		t.Errorf("examples/policies has %d files, the test knows %d: add the new one here", len(entries), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parsePolicyFile(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := policy.New(f.policyConfig()); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"POLICY_FILE": path}
			for k, v := range tt.env {
				env[k] = v
			}
			h, _ := testServer(t, env)
			for _, c := range tt.cases {
				r := fwd("POST", "/mcp", c.kv...)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != c.status {
					t.Errorf("%s: status = %d, want %d: %s", c.name, w.Code, c.status, w.Body)
					continue
				}
				if c.source != "" && w.Header().Get("X-Auth-Source") != c.source {
					t.Errorf("%s: X-Auth-Source = %q, want %q", c.name, w.Header().Get("X-Auth-Source"), c.source)
				}
			}
		})
	}
}
