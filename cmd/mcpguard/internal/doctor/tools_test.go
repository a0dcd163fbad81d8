package doctor

import (
	"strings"
	"testing"
)

// TestToolsCheck: with the machine's token, the mcp-tools check lists the tools of the
// example MCP server or calls the one --tool names, and fails with a fix otherwise.
func TestToolsCheck(t *testing.T) {
	machine := []string{"--client-id", "ci", "--client-secret", "s3cret"}
	tests := []struct {
		name    string
		args    []string
		breakIt func(f *fakeDeployment)
		ok      bool
		skipped bool
		want    string // a word of the detail and fix
	}{
		{name: "tools/list", ok: true, want: "2 tools (echo, whoami)"},
		{name: "tools/call", args: []string{"--tool", "echo", "--tool-args", `{"text":"hi"}`}, ok: true, want: "tools/call echo with the token: 1 content blocks"},
		{name: "tools/call without arguments", args: []string{"--tool", "whoami"}, ok: true, want: "tools/call whoami"},
		{name: "unknown tool", args: []string{"--tool", "nope"}, want: "--tool"},
		{name: "tool refused for a scope", args: []string{"--tool", "echo"}, breakIt: func(f *fakeDeployment) { f.toolScope = "tools:echo" },
			want: `scope="mcp:read tools:echo"`},
		{name: "no token", breakIt: func(f *fakeDeployment) { f.refuseToken = true }, skipped: true, want: "client-credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeDeployment(t)
			f.machineID, f.machineSecret = "ci", "s3cret"
			if tt.breakIt != nil {
				tt.breakIt(f)
			}
			args := append(append([]string{"--json", "--no-register"}, machine...), tt.args...)
			out, _ := runTest(t, append(args, f.mcpURL)...)
			got := resultOf(t, out, checkMCPTools)
			if got.OK != tt.ok || got.Skipped != tt.skipped || !strings.Contains(got.Detail+" "+got.Fix, tt.want) {
				t.Errorf("%s = %+v, want ok %v, skipped %v and %q", checkMCPTools, got, tt.ok, tt.skipped, tt.want)
			}
		})
	}
	if out, _ := runTest(t, "--json", "--no-register", startFakeDeployment(t).mcpURL); strings.Contains(out, checkMCPTools) {
		t.Errorf("doctor without --client-id runs %s:\n%s", checkMCPTools, out)
	}
}

// TestToolFlags: --tool needs --client-id, --tool-args needs --tool and is a JSON object.
func TestToolFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--tool", "echo"},
		{"--client-id", "ci", "--client-secret", "s", "--tool-args", "{}"},
		{"--client-id", "ci", "--client-secret", "s", "--tool", "echo", "--tool-args", "[1]"},
		{"--client-id", "ci", "--client-secret", "s", "--tool", "echo", "--tool-args", "null"},
		{"--client-id", "ci", "--client-secret", "s", "--tool", "echo", "--tool-args", "{"},
	} {
		if _, err := runTest(t, append(args, "https://mcp.example.com/mcp")...); err == nil {
			t.Errorf("doctor %q = nil, want an error", args)
		}
	}
}
