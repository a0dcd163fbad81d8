package doctor

import (
	"slices"
	"strings"
	"testing"
)

// TestStepUpCheck: the 403 to a token of the 401's scope must carry insufficient_scope,
// the whole scope set the operation needs and the 401's resource_metadata.
func TestStepUpCheck(t *testing.T) {
	const rm = `resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`
	tests := []struct {
		name      string
		challenge string // %s is the fake's origin
		noTool    bool
		two       bool // the 401 names mcp:read mcp:write
		ok, skip  bool
		want      string // a word of the detail and fix
	}{
		{name: "cumulative", challenge: `Bearer error="insufficient_scope", scope="mcp:read mcp:write", ` + rm, ok: true, want: `scope="mcp:read mcp:write"`},
		{name: "only the missing scope", challenge: `Bearer error="insufficient_scope", scope="mcp:write", ` + rm, want: "lacks"},
		{name: "no scope", challenge: `Bearer error="insufficient_scope", ` + rm, want: "no scope parameter"},
		{name: "the scope the token holds", challenge: `Bearer error="insufficient_scope", scope="mcp:read", ` + rm, want: "already holds"},
		{name: "another error", challenge: `Bearer error="invalid_token", scope="mcp:read mcp:write", ` + rm, want: "insufficient_scope"},
		{name: "no resource_metadata", challenge: `Bearer error="insufficient_scope", scope="mcp:read mcp:write"`, want: "resource_metadata"},
		{name: "another resource_metadata", challenge: `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="%s/.well-known/oauth-protected-resource/other"`, want: "the 401's"},
		{name: "no header", challenge: "-", want: "auth_request_set"},
		{name: "nothing refused", challenge: "", skip: true, want: "--tool"},
		{name: "the first of the 401's scopes", challenge: `Bearer error="insufficient_scope", scope="mcp:read mcp:write", ` + rm, two: true, ok: true, want: `token of scope "mcp:read" got 403`},
		{name: "tools/list not refused", challenge: `Bearer error="insufficient_scope", scope="mcp:read mcp:write", ` + rm, noTool: true, skip: true, want: "--tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeDeployment(t)
			f.machineID, f.machineSecret = "ci", "s3cret"
			f.stepUp = strings.ReplaceAll(tt.challenge, "%s", f.url)
			if tt.two {
				f.challenge = strings.Replace(f.challenge, `scope="mcp:read"`, `scope="mcp:read mcp:write"`, 1)
			}
			args := []string{"--json", "--no-register", "--client-id", "ci", "--client-secret", "s3cret"}
			if !tt.noTool {
				args = append(args, "--tool", "echo")
			}
			out, _ := runTest(t, append(args, f.mcpURL)...)
			got := resultOf(t, out, checkStepUp)
			if got.OK != tt.ok || got.Skipped != tt.skip || !strings.Contains(got.Detail+" "+got.Fix, tt.want) {
				t.Errorf("%s = %+v, want ok %v, skipped %v and %q", checkStepUp, got, tt.ok, tt.skip, tt.want)
			}
		})
	}
}

// TestClientFilterWithMachine: --client still runs only that client's gates and their
// prerequisites, plus the machine checks --client-id asks for.
func TestClientFilterWithMachine(t *testing.T) {
	f := startFakeDeployment(t)
	f.machineID, f.machineSecret = "ci", "s3cret"
	f.stepUp = `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="` + f.url + `/.well-known/oauth-protected-resource/mcp"`
	out, _ := runTest(t, "--json", "--client", "cursor", "--client-id", "ci", "--client-secret", "s3cret", "--tool", "echo", f.mcpURL)
	var names []string
	for _, r := range parseJSON(t, out) {
		names = append(names, r.Name)
	}
	must := []string{"issuer", "pkce-s256", "redirect-uris/cursor", checkClientCredentials, checkMCPTools, checkStepUp}
	allowed := append(slices.Clone(prerequisites), must...)
	for _, n := range must {
		if !slices.Contains(names, n) {
			t.Errorf("doctor --client cursor --client-id ci did not run %s: %q", n, names)
		}
	}
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			t.Errorf("doctor --client cursor --client-id ci ran %s, which is not one of cursor's gates, their prerequisites or a machine check", n)
		}
	}
}

// resultOf is the result of the check named name in doctor's JSON output.
func resultOf(t *testing.T, out, name string) checkResult {
	t.Helper()
	for _, r := range parseJSON(t, out) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("doctor printed no %s check:\n%s", name, out)
	return checkResult{}
}
