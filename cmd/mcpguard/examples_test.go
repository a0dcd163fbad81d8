package main

import (
	"net/http/httptest"
	"os"
	"testing"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/policy"
)

// TestExamples loads the example files users copy, so they never rot.
func TestExamples(t *testing.T) {
	data, err := os.ReadFile("../../examples/policy.yaml")
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
	keys, err := os.ReadFile("../../examples/api-keys.yaml")
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
	h, _ := testServer(t, map[string]string{"POLICY_FILE": "../../examples/policy.yaml", "API_KEYS_FILE": botKeys})
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
