package app

import (
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

var policyFileTests = []struct {
	name    string
	data    string
	wantErr string // substring; "" means the file is valid
}{
	{"minimal", "resources:\n  - url: https://mcp.example.com/mcp\n", ""},
	{"full", `resources:
  - url: https://mcp.example.com/mcp
    hosts: [mcp.internal]
    paths: [/mcp, /sse]
    public_paths: [/mcp/health]
    credentials: [apikey, proxy]
    required_scopes: [mcp:read]
    allowed_domains: [example.com]
    rules:
      - name: writes
        methods: [tools/call]
        tools: ["write_*"]
        required_scopes: [mcp:write]
    metadata:
      resource_name: Tools
scope_implications:
  mcp:write: [mcp:read]
`, ""},
	{"browser app with an identity assertion", "resources:\n  - url: https://apps.example.com/grafana\n    credentials: [session]\n    identity_assertion: {header: X-Identity}\n", ""},
	{"identity assertion, default header", "resources:\n  - url: https://a.example/mcp\n    identity_assertion: {}\n", ""},
	{"misspelled identity_assertion field", "resources:\n  - url: https://a.example/mcp\n    identity_assertion: {headr: X-Identity}\n", "headr"},
	{"identity_assertion not an object", "resources:\n  - url: https://a.example/mcp\n    identity_assertion: X-Identity\n", "policy file"},
	{"unknown top-level field", "resources:\n  - url: https://a.example/mcp\nresourcez: []\n", "resourcez"},
	{"unknown resource field", "resources:\n  - url: https://a.example/mcp\n    required_scope: [x]\n", "required_scope"},
	{"misspelled rule field", "resources:\n  - url: https://a.example/mcp\n    rules:\n      - tool: [x]\n", "tool"},
	{"duplicate key", "resources:\n  - url: https://a.example/mcp\n    url: https://b.example/mcp\n", "url"},
	{"no resources", "resources: []\n", "no resources"},
	{"empty file", "", "no resources"},
	{"not yaml", "resources: [\n", "policy file"},
	{"wrong type", "resources: https://a.example/mcp\n", "policy file"},
	{"scalar document", "just text\n", "policy file"},
	{"too large", "resources: []\n#" + strings.Repeat("x", maxPolicyFile), "larger than"},
}

func TestParsePolicyFile(t *testing.T) {
	for _, tt := range policyFileTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parsePolicyFile([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parsePolicyFile = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePolicyFile = %v, want nil", err)
			}
			if _, err := policy.New(f.policyConfig()); err != nil {
				t.Fatalf("policy.New = %v", err)
			}
		})
	}
}

// FuzzParsePolicyFile feeds arbitrary files through the parser and the policy compiler:
// neither may panic, and a policy that compiles must answer a decision.
func FuzzParsePolicyFile(f *testing.F) {
	for _, tt := range policyFileTests {
		if len(tt.data) < 4096 {
			f.Add([]byte(tt.data))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		f, err := parsePolicyFile(data)
		if err != nil {
			return
		}
		p, err := policy.New(f.policyConfig())
		if err != nil {
			return
		}
		if len(p.Resources()) == 0 {
			t.Fatal("a compiled policy without resources")
		}
		d := p.Decide(policy.Input{Request: policy.Request{Method: "POST", Host: "mcp.example.com", Path: "/mcp"}})
		if d.Result == policy.Allow && d.Reason != policy.ReasonPublicPath && d.Reason != policy.ReasonAnonymous {
			t.Fatalf("a request without identity was allowed for %q", d.Reason)
		}
	})
}
