package doctor

import (
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestGoodDeployment(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runTest(t, f.mcpURL)
	if err != nil {
		t.Fatalf("doctor %s = %v, want nil\n%s", f.mcpURL, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	wantNames := []string{"challenge", "prm-path", "prm-root", "as-metadata", "issuer", "pkce-s256", "registration", "endpoints",
		"none-with-cimd", "endpoints-same-origin", "cors-preflight", "cors-challenge", "cors-metadata", "redirect-uris/claude", "redirect-uris/chatgpt",
		"redirect-uris/vscode", "redirect-uris/cursor", "redirect-uris/inspector", "redirect-uris/loopback", "loopback-any-port", "iss"}
	if len(lines) != len(wantNames) {
		t.Fatalf("doctor printed %d lines, want %d:\n%s", len(lines), len(wantNames), out)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "PASS "+wantNames[i]) {
			t.Errorf("line %d = %q, want PASS %s", i+1, l, wantNames[i])
		}
	}
	if !strings.Contains(lines[0], `scope="mcp:read"`) {
		t.Errorf("the challenge line %q does not note the scope parameter", lines[0])
	}
	want := []string{"mcpguard doctor (Claude)", "mcpguard doctor (ChatGPT)", "mcpguard doctor (VS Code)", "mcpguard doctor (Cursor)", "mcpguard doctor (MCP Inspector)",
		"mcpguard doctor (Claude Code, Codex, Gemini CLI, Copilot CLI, mcp-remote, Goose, opencode)"}
	if got := f.registrations(); !reflect.DeepEqual(got, want) {
		t.Errorf("registrations = %q, want %q", got, want)
	}
}

func TestNoRegister(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runTest(t, "--no-register", f.mcpURL)
	if err != nil {
		t.Fatalf("doctor --no-register = %v\n%s", err, out)
	}
	if got := f.registrations(); len(got) != 0 {
		t.Errorf("doctor --no-register registered %q", got)
	}
	if n := strings.Count(out, "SKIP redirect-uris/"); n != len(knownClients) {
		t.Errorf("doctor --no-register printed %d SKIP redirect-uris lines, want %d:\n%s", n, len(knownClients), out)
	}
}

// TestBrokenDeployments breaks one thing at a time; each must fail the right
// checks, name the fix, and make doctor exit with an error.
func TestBrokenDeployments(t *testing.T) {
	tests := []struct {
		name       string
		breakIt    func(f *fakeDeployment)
		wantFailed []string
		wantFix    string // in the fix of the first failed check
	}{
		{
			name:       "trailing slash on the issuer",
			breakIt:    func(f *fakeDeployment) { f.issuer = f.url + "/" },
			wantFailed: []string{"issuer"},
			wantFix:    "set ISSUER_URL without a trailing slash",
		},
		{
			name:       "trailing slash in authorization_servers",
			breakIt:    func(f *fakeDeployment) { f.prmServers = []string{f.url + "/"} },
			wantFailed: []string{"issuer"},
			wantFix:    "without the trailing slash",
		},
		{
			name:       "PRM resource without the path",
			breakIt:    func(f *fakeDeployment) { f.prmResource = f.url },
			wantFailed: []string{"prm-path", "prm-root"},
			wantFix:    "RESOURCE_URL must be the exact URL clients use, path included",
		},
		{
			name:       "PRM resource with a trailing slash",
			breakIt:    func(f *fakeDeployment) { f.prmResource = f.mcpURL + "/" },
			wantFailed: []string{"prm-path", "prm-root"},
			wantFix:    "RESOURCE_URL must be the exact URL clients use",
		},
		{
			name: "resource_metadata pointing at no document",
			breakIt: func(f *fakeDeployment) {
				f.challenge = `Bearer resource_metadata="` + f.url + `/.well-known/oauth-protected-resource/elsewhere"`
			},
			wantFailed: []string{"prm-resource-metadata"},
			wantFix:    "serve the document at the URL the challenge names",
		},
		{
			name:       "PRM missing at the path form",
			breakIt:    func(f *fakeDeployment) { f.prmPathMissing = true },
			wantFailed: []string{"prm-path"},
			wantFix:    "route /.well-known/oauth-protected-resource/*",
		},
		{
			name:       "offline_access in PRM scopes_supported",
			breakIt:    func(f *fakeDeployment) { f.prmScopes = append(f.prmScopes, "offline_access") },
			wantFailed: []string{"prm-path", "prm-root"},
			wantFix:    "list offline_access only in the authorization server metadata",
		},
		{
			name:       "401 without a challenge",
			breakIt:    func(f *fakeDeployment) { f.challenge = "" },
			wantFailed: []string{"challenge"},
			wantFix:    "the proxy must forward WWW-Authenticate",
		},
		{
			name:       "challenge that does not parse",
			breakIt:    func(f *fakeDeployment) { f.challenge = `Bearer resource_metadata="` + f.url },
			wantFailed: []string{"challenge"},
			wantFix:    "send RFC 9110",
		},
		{
			name:       "challenge sent twice",
			breakIt:    func(f *fakeDeployment) { f.challenge += ", " + f.challenge },
			wantFailed: []string{"challenge"},
			wantFix:    "do not add_header WWW-Authenticate",
		},
		{
			name:       "missing CORS expose header",
			breakIt:    func(f *fakeDeployment) { f.exposeHeaders = false },
			wantFailed: []string{"cors-challenge"},
			wantFix:    "add Access-Control-Expose-Headers: WWW-Authenticate",
		},
		{
			name: "403 instead of 401",
			breakIt: func(f *fakeDeployment) {
				f.status = http.StatusForbidden
				f.challenge = `Bearer error="insufficient_scope"`
			},
			wantFailed: []string{"challenge"},
			wantFix:    "MCP clients start authorization only on 401",
		},
		{
			name:       "redirect to a login page",
			breakIt:    func(f *fakeDeployment) { f.status, f.challenge = http.StatusFound, "" },
			wantFailed: []string{"challenge"},
			wantFix:    "never redirect to a login page",
		},
		{
			name: "relative resource_metadata",
			breakIt: func(f *fakeDeployment) {
				f.challenge = `Bearer resource_metadata="/.well-known/oauth-protected-resource/mcp"`
			},
			wantFailed: []string{"challenge"},
			wantFix:    "resource_metadata must be an absolute https URL",
		},
		{
			name:       "no authorization server metadata",
			breakIt:    func(f *fakeDeployment) { f.prmServers = []string{f.url + "/tenant"} },
			wantFailed: []string{"as-metadata"},
			wantFix:    "/.well-known/oauth-authorization-server/tenant",
		},
		{
			name:       "no S256",
			breakIt:    func(f *fakeDeployment) { f.pkce = nil },
			wantFailed: []string{"pkce-s256"},
			wantFix:    `advertise "code_challenge_methods_supported": ["S256"]`,
		},
		{
			name:       "plain PKCE only",
			breakIt:    func(f *fakeDeployment) { f.pkce = []string{"plain"} },
			wantFailed: []string{"pkce-s256"},
			wantFix:    "support S256 PKCE",
		},
		{
			name:       "no registration and no CIMD",
			breakIt:    func(f *fakeDeployment) { f.registration, f.cimd = false, false },
			wantFailed: []string{"registration"},
			wantFix:    "enable Dynamic Client Registration or Client ID Metadata Documents",
		},
		{
			name:       "preflight denied",
			breakIt:    func(f *fakeDeployment) { f.preflightStatus = http.StatusUnauthorized },
			wantFailed: []string{"cors-preflight"},
			wantFix:    "let preflights through without credentials",
		},
		{
			name:       "CIMD without none",
			breakIt:    func(f *fakeDeployment) { f.authMethods = []string{"client_secret_basic"} },
			wantFailed: []string{"none-with-cimd"},
			wantFix:    "claude.ai uses its metadata document only then",
		},
		{
			name:       "authorization endpoint on another origin",
			breakIt:    func(f *fakeDeployment) { f.authorizeOrigin = "https://login.example" },
			wantFailed: []string{"endpoints-same-origin", "loopback-any-port"},
			wantFix:    "Codex refuses",
		},
		{
			name:       "iss advertised, not sent",
			breakIt:    func(f *fakeDeployment) { f.iss = "-" },
			wantFailed: []string{"iss"},
			wantFix:    "Claude Code and Codex reject the response otherwise",
		},
		{
			name:       "iss of another issuer",
			breakIt:    func(f *fakeDeployment) { f.iss = "https://accounts.google.com" },
			wantFailed: []string{"iss"},
			wantFix:    "byte for byte",
		},
		{
			name:       "loopback port exact",
			breakIt:    func(f *fakeDeployment) { f.exactPort = true },
			wantFailed: []string{"loopback-any-port"},
			wantFix:    "RFC 8252 §7.3",
		},
		{
			name:       "cursor redirect URI refused",
			breakIt:    func(f *fakeDeployment) { f.refuse = "cursor:" },
			wantFailed: []string{"redirect-uris/cursor"},
			wantFix:    "cursor://",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeDeployment(t)
			tt.breakIt(f)
			out, err := runTest(t, "--json", f.mcpURL)
			if err == nil {
				t.Errorf("doctor = nil error, want one")
			}
			results := parseJSON(t, out)
			if got := failedChecks(results); !slices.Equal(got, tt.wantFailed) {
				t.Fatalf("failed checks = %q, want %q\n%s", got, tt.wantFailed, out)
			}
			for _, r := range results {
				if r.Name == tt.wantFailed[0] && !strings.Contains(r.Fix, tt.wantFix) {
					t.Errorf("%s fix = %q, want it to contain %q", r.Name, r.Fix, tt.wantFix)
				}
			}
			text, _ := runTest(t, f.mcpURL)
			if want := "FAIL " + tt.wantFailed[0] + ": "; !strings.Contains(text, want) || !strings.Contains(text, " — ") {
				t.Errorf("text output lacks %q with a fix after \" — \":\n%s", want, text)
			}
		})
	}
}

// TestSkips: checks an earlier failure makes impossible are skipped, not failed.
func TestSkips(t *testing.T) {
	f := startFakeDeployment(t)
	f.registration, f.cimd = false, false
	out, _ := runTest(t, "--json", f.mcpURL)
	for _, r := range parseJSON(t, out) {
		if strings.HasPrefix(r.Name, "redirect-uris/") && (!r.Skipped || r.OK) {
			t.Errorf("%+v, want skipped and not ok", r)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/mcp"
	ln.Close()
	out, err = runTest(t, "--timeout", "2s", dead)
	if err == nil || !strings.HasPrefix(out, "FAIL challenge: ") || strings.Count(out, "SKIP ") != 20 {
		t.Errorf("doctor %s = %v, want a failed challenge and 20 skipped checks:\n%s", dead, err, out)
	}
}

func TestJSONOutput(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runTest(t, f.mcpURL, "--json", "--no-register") // flags after the URL too
	if err != nil {
		t.Fatalf("doctor --json = %v\n%s", err, out)
	}
	results := parseJSON(t, out)
	if len(results) != 21 || results[0].Name != "challenge" || !results[0].OK {
		t.Fatalf("--json results = %+v, want 21 starting with a passed challenge", results)
	}
	var raw []map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"name", "ok", "detail"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("--json object %v lacks %q", raw[0], k)
		}
	}
}

func TestArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"https://a.example/mcp", "https://b.example/mcp"},
		{"mcp.example.com/mcp"},
		{"ftp://mcp.example.com/mcp"},
		{"--timeout", "0s", "https://mcp.example.com/mcp"},
		{"--bogus", "https://mcp.example.com/mcp"},
	} {
		if out, err := runTest(t, args...); err == nil {
			t.Errorf("doctor %q = nil error, want one\n%s", args, out)
		}
	}
	if _, err := runTest(t, "-h"); err != nil {
		t.Errorf("doctor -h = %v, want nil", err)
	}
}

// TestIsLoopback pins the same hosts as auth's TestIsLoopbackHost: the two copies agree.
func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"": false, "localhost.": false, "app.localhost": false, "localhost.evil.com": false, "::ffff:127.0.0.1": false,
		"[127.0.0.1]": false, "::1%lo": false, "0.0.0.0": false, "127.000.000.001": false, "example.com": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestClientFlag: --client runs the prerequisites and that client's gates only, and
// registers only the client its redirect-uris check covers.
func TestClientFlag(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runTest(t, "--client", "Codex", f.mcpURL)
	if err != nil {
		t.Fatalf("doctor --client Codex = %v\n%s", err, out)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(l, "PASS "), ":")
		names = append(names, name)
	}
	want := []string{"challenge", "prm-path", "prm-root", "as-metadata", "issuer", "pkce-s256", "registration", "endpoints",
		"endpoints-same-origin", "redirect-uris/loopback", "iss"}
	if !slices.Equal(names, want) {
		t.Errorf("doctor --client codex ran %q, want %q", names, want)
	}
	if got := f.registrations(); len(got) != 1 {
		t.Errorf("registrations = %q, want the loopback one only", got)
	}
	if _, err := runTest(t, "--client", "nope", f.mcpURL); err == nil || !strings.Contains(err.Error(), "claude-code") {
		t.Errorf("doctor --client nope = %v, want an error listing the clients", err)
	}
}
