package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeDeployment is an MCP deployment as doctor sees it from outside: the MCP endpoint,
// its protected resource metadata and its authorization server on one httptest server,
// written with plain handlers (not mcpguard's) so that each part can be broken.
type fakeDeployment struct {
	url, mcpURL string // the server's origin (also the issuer) and the MCP URL

	status          int    // the answer to a request without credentials
	challenge       string // its WWW-Authenticate; "" sends none
	exposeHeaders   bool   // CORS headers on that answer to a request with an Origin
	preflightStatus int
	prmResource     string
	prmServers      []string
	prmScopes       []string
	prmPathMissing  bool // 404 at the path-inserted form
	issuer          string
	pkce            []string
	registration    bool
	cimd            bool
	refuse          string // /register refuses redirect URIs with this prefix

	mu         sync.Mutex
	registered []string // client_name of each registration
}

// startFakeDeployment serves a deployment every check passes, until a test breaks it.
func startFakeDeployment(t *testing.T) *fakeDeployment {
	t.Helper()
	f := &fakeDeployment{}
	srv := httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(srv.Close)
	f.url, f.mcpURL = srv.URL, srv.URL+"/mcp"
	f.status = http.StatusUnauthorized
	f.challenge = fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`, srv.URL)
	f.exposeHeaders = true
	f.preflightStatus = http.StatusNoContent
	f.prmResource, f.prmServers, f.prmScopes = f.mcpURL, []string{srv.URL}, []string{"mcp:read", "mcp:write"}
	f.issuer, f.pkce, f.registration, f.cimd = srv.URL, []string{"S256"}, true, true
	return f
}

func (f *fakeDeployment) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	writeJSON := func(status int, v any) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodOptions && r.URL.Path == "/mcp":
		h.Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(f.preflightStatus)
	case r.Method == http.MethodPost && r.URL.Path == "/mcp":
		if r.Header.Get("Origin") != "" {
			h.Set("Access-Control-Allow-Origin", "*")
			if f.exposeHeaders {
				h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
			}
		}
		if f.challenge != "" {
			h.Set("WWW-Authenticate", f.challenge)
		}
		if f.status >= 300 && f.status < 400 {
			h.Set("Location", "/login")
		}
		w.WriteHeader(f.status)
	case r.URL.Path == wellKnownPRMPath+"/mcp" && f.prmPathMissing:
		http.NotFound(w, r)
	case r.URL.Path == wellKnownPRMPath+"/mcp" || r.URL.Path == wellKnownPRMPath:
		h.Set("Access-Control-Allow-Origin", "*")
		writeJSON(http.StatusOK, map[string]any{
			"resource": f.prmResource, "authorization_servers": f.prmServers, "scopes_supported": f.prmScopes,
		})
	case r.URL.Path == "/.well-known/oauth-authorization-server":
		h.Set("Access-Control-Allow-Origin", "*")
		m := map[string]any{
			"issuer":                                f.issuer,
			"authorization_endpoint":                f.url + "/authorize",
			"token_endpoint":                        f.url + "/token",
			"client_id_metadata_document_supported": f.cimd,
		}
		if f.pkce != nil {
			m["code_challenge_methods_supported"] = f.pkce
		}
		if f.registration {
			m["registration_endpoint"] = f.url + "/register"
		}
		writeJSON(http.StatusOK, m)
	case r.Method == http.MethodPost && r.URL.Path == "/register" && f.registration:
		var req struct {
			ClientName   string   `json:"client_name"`
			RedirectURIs []string `json:"redirect_uris"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_client_metadata"})
			return
		}
		for _, u := range req.RedirectURIs {
			if f.refuse != "" && strings.HasPrefix(u, f.refuse) {
				writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_redirect_uri", "error_description": "scheme not allowed"})
				return
			}
		}
		f.mu.Lock()
		f.registered = append(f.registered, req.ClientName)
		n := len(f.registered)
		f.mu.Unlock()
		writeJSON(http.StatusCreated, map[string]any{"client_id": fmt.Sprintf("client-%d", n), "redirect_uris": req.RedirectURIs})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeDeployment) registrations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.registered)
}

// runDoctorTest runs the doctor command through run, as main does, and returns its
// output and error.
func runDoctorTest(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"mcpguard", "doctor"}, args...), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

// parseDoctorJSON parses the --json output.
func parseDoctorJSON(t testing.TB, out string) []checkResult {
	t.Helper()
	var results []checkResult
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return results
}

// failedChecks are the names of the checks that failed (not skipped).
func failedChecks(results []checkResult) []string {
	var out []string
	for _, r := range results {
		if !r.OK && !r.Skipped {
			out = append(out, r.Name)
		}
	}
	return out
}

func TestDoctorGoodDeployment(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runDoctorTest(t, f.mcpURL)
	if err != nil {
		t.Fatalf("doctor %s = %v, want nil\n%s", f.mcpURL, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	wantNames := []string{"challenge", "prm-path", "prm-root", "as-metadata", "issuer", "pkce-s256", "registration", "endpoints",
		"cors-preflight", "cors-challenge", "cors-metadata", "redirect-uris/claude", "redirect-uris/chatgpt",
		"redirect-uris/vscode", "redirect-uris/cursor", "redirect-uris/inspector"}
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
	want := []string{"mcpguard doctor (Claude)", "mcpguard doctor (ChatGPT)", "mcpguard doctor (VS Code)", "mcpguard doctor (Cursor)", "mcpguard doctor (MCP Inspector)"}
	if got := f.registrations(); !reflect.DeepEqual(got, want) {
		t.Errorf("registrations = %q, want %q", got, want)
	}
}

func TestDoctorNoRegister(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runDoctorTest(t, "--no-register", f.mcpURL)
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

// TestDoctorBrokenDeployments breaks one thing at a time; each must fail the right
// checks, name the fix, and make doctor exit with an error.
func TestDoctorBrokenDeployments(t *testing.T) {
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
			out, err := runDoctorTest(t, "--json", f.mcpURL)
			if err == nil {
				t.Errorf("doctor = nil error, want one")
			}
			results := parseDoctorJSON(t, out)
			if got := failedChecks(results); !slices.Equal(got, tt.wantFailed) {
				t.Fatalf("failed checks = %q, want %q\n%s", got, tt.wantFailed, out)
			}
			for _, r := range results {
				if r.Name == tt.wantFailed[0] && !strings.Contains(r.Fix, tt.wantFix) {
					t.Errorf("%s fix = %q, want it to contain %q", r.Name, r.Fix, tt.wantFix)
				}
			}
			text, _ := runDoctorTest(t, f.mcpURL)
			if want := "FAIL " + tt.wantFailed[0] + ": "; !strings.Contains(text, want) || !strings.Contains(text, " — ") {
				t.Errorf("text output lacks %q with a fix after \" — \":\n%s", want, text)
			}
		})
	}
}

// TestDoctorSkips: checks an earlier failure makes impossible are skipped, not failed.
func TestDoctorSkips(t *testing.T) {
	f := startFakeDeployment(t)
	f.registration, f.cimd = false, false
	out, _ := runDoctorTest(t, "--json", f.mcpURL)
	for _, r := range parseDoctorJSON(t, out) {
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
	out, err = runDoctorTest(t, "--timeout", "2s", dead)
	if err == nil || !strings.HasPrefix(out, "FAIL challenge: ") || strings.Count(out, "SKIP ") != 15 {
		t.Errorf("doctor %s = %v, want a failed challenge and 15 skipped checks:\n%s", dead, err, out)
	}
}

func TestDoctorJSONOutput(t *testing.T) {
	f := startFakeDeployment(t)
	out, err := runDoctorTest(t, f.mcpURL, "--json", "--no-register") // flags after the URL too
	if err != nil {
		t.Fatalf("doctor --json = %v\n%s", err, out)
	}
	results := parseDoctorJSON(t, out)
	if len(results) != 16 || results[0].Name != "challenge" || !results[0].OK {
		t.Fatalf("--json results = %+v, want 16 starting with a passed challenge", results)
	}
	var raw []map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"name", "ok", "detail"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("--json object %v lacks %q", raw[0], k)
		}
	}
}

func TestDoctorArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"https://a.example/mcp", "https://b.example/mcp"},
		{"mcp.example.com/mcp"},
		{"ftp://mcp.example.com/mcp"},
		{"--timeout", "0s", "https://mcp.example.com/mcp"},
		{"--bogus", "https://mcp.example.com/mcp"},
	} {
		if out, err := runDoctorTest(t, args...); err == nil {
			t.Errorf("doctor %q = nil error, want one\n%s", args, out)
		}
	}
	if _, err := runDoctorTest(t, "-h"); err != nil {
		t.Errorf("doctor -h = %v, want nil", err)
	}
}

// challengeCases are parseChallenges' table, and the fuzz seeds.
var challengeCases = []struct {
	in      string
	want    []authChallenge // nil: an error
	comment string
}{
	{`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "scope": "mcp:read"}}}, "mcpguard's"},
	{`Bearer realm=example,error="invalid_token"`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"realm": "example", "error": "invalid_token"}}}, "token value, no space after the comma"},
	{`Basic realm="a, b", Bearer resource_metadata="https://x/y"`,
		[]authChallenge{{scheme: "Basic", params: map[string]string{"realm": "a, b"}}, {scheme: "Bearer", params: map[string]string{"resource_metadata": "https://x/y"}}}, "two challenges"},
	{`Negotiate abc+/==, Bearer`,
		[]authChallenge{{scheme: "Negotiate", token68: "abc+/==", params: map[string]string{}}, {scheme: "Bearer", params: map[string]string{}}}, "token68 and a bare scheme"},
	{`Bearer error_description="say \"hi\""`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"error_description": `say "hi"`}}}, "quoted-pair"},
	{`Bearer  ,, Scope = "a b" ,`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"scope": "a b"}}}, "empty list elements, BWS, name case"},
	{`Bearer resource_metadata="https://x`, nil, "unterminated quoted string"},
	{`Bearer scope="a", scope="b"`, nil, "repeated parameter"},
	{`Bearer scope="a" error="b"`, nil, "missing comma"},
	{`Bearer resource_metadata=https://x/y`, nil, "URL not quoted"},
	{`="x"`, nil, "no scheme"},
	{``, nil, "empty"},
	{"Bearer scope=\"a\x01\"", nil, "control character"},
}

func TestParseChallenges(t *testing.T) {
	for _, tt := range challengeCases {
		got, err := parseChallenges([]string{tt.in})
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseChallenges(%q) = %+v, want an error (%s)", tt.in, got, tt.comment)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q) = %+v, %v, want %+v (%s)", tt.in, got, err, tt.want, tt.comment)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, tt := range challengeCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseChallenges([]string{in})
		if err != nil {
			return
		}
		for _, c := range got {
			if c.scheme == "" || strings.IndexFunc(c.scheme, func(r rune) bool { return r > 0x7e || !isTchar(byte(r)) }) >= 0 {
				t.Errorf("parseChallenges(%q): scheme %q is not a token", in, c.scheme)
			}
			for k := range c.params {
				if k != strings.ToLower(k) || k == "" {
					t.Errorf("parseChallenges(%q): parameter name %q", in, k)
				}
			}
		}
	})
}
