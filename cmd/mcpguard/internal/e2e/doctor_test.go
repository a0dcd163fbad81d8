package e2e

// mcpguard doctor against the real stacks of the MCP end-to-end tests: the deploy/ recipe
// of nginx, Caddy or Traefik, mcpguard as the auth service and the authorization server
// (PROVIDER=local), the example MCP server behind. doctor reaches the stack as the SDK
// client does, through loadBalancer: it stands in for DNS and for the TLS-terminating load
// balancer, so doctor checks the https URLs clients are given
// (https://mcp.example.com/mcp, issuer https://auth.example.com) and nothing is relaxed
// for loopback.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/doctor"
)

// TestDoctor runs doctor against the good stack of each proxy's recipe.
func TestDoctor(t *testing.T) {
	for _, p := range []struct {
		name  string
		start func(*testing.T, string, *mcpUpstream) edgeProxy
	}{{"nginx", startNginx}, {"caddy", startCaddy}, {"traefik", startTraefik}} {
		t.Run(p.name, func(t *testing.T) { runDoctor(t, p.start) })
	}
}

// runDoctor runs doctor against a good stack: every check passes, and it registered
// each known client once.
func runDoctor(t *testing.T, start func(*testing.T, string, *mcpUpstream) edgeProxy) {
	s := startMCPStack(t, start, oauthEnv(t, "memory://"))
	hops := s.edge.mark()
	out, err := runDoctorCommand(t, s.edge, mcpURL)
	t.Logf("mcpguard doctor %s:\n%s", mcpURL, out)
	if err != nil {
		t.Fatalf("doctor = %v, want nil; requests:\n%s", err, s.edge.since(hops))
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 21 {
		t.Errorf("doctor printed %d lines, want 21", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "PASS ") {
			t.Errorf("doctor: %s", l)
		}
	}
	known := strings.Count(out, "PASS redirect-uris/") // one line per known client
	if n := s.edge.count(hops, http.MethodPost, authHost, urlPath(t, s.asm.RegistrationEndpoint)); n != known {
		t.Errorf("doctor registered %d clients, want %d (one per known client)", n, known)
	}
}

// TestDoctorURLMismatch runs doctor against the nginx stack with the URL a user
// might hand a client, one trailing slash away from RESOURCE_URL: VS Code and RFC 9728
// §3.3 refuse the metadata then, and doctor must say which URL to give clients.
func TestDoctorURLMismatch(t *testing.T) {
	s := startMCPStack(t, startNginx, oauthEnv(t, "memory://"))
	url := mcpURL + "/"
	out, err := runDoctorCommand(t, s.edge, "--no-register", url)
	t.Logf("mcpguard doctor --no-register %s:\n%s", url, out)
	if err == nil {
		t.Errorf("doctor = nil error, want one")
	}
	for _, want := range []string{
		`FAIL prm-path: https://mcp.example.com/.well-known/oauth-protected-resource/mcp: the MCP URL "https://mcp.example.com/mcp/" has a trailing slash the resource "https://mcp.example.com/mcp" lacks — give clients the URL the metadata names, "https://mcp.example.com/mcp"`,
		"FAIL prm-root: ",
		"PASS issuer: https://auth.example.com\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	if n := strings.Count(out, "FAIL "); n != 2 {
		t.Errorf("doctor failed %d checks, want 2 (prm-path, prm-root)", n)
	}
}

// runDoctorCommand runs mcpguard doctor args with its requests going through edge.
func runDoctorCommand(t *testing.T, edge *loadBalancer, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := doctor.Run(t.Context(), args, doctor.Options{Version: "e2e", Transport: edge}, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("doctor stderr: %s", stderr.String())
	}
	return stdout.String(), err
}
