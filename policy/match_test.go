package policy_test

import (
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// matchConfig has resources that compete for the same requests.
func matchConfig() policy.Config {
	return policy.Config{Resources: []policy.ResourceConfig{
		{URL: "https://mcp.example.com/mcp"},
		{URL: "https://mcp.example.com/mcp/admin"},
		{URL: "https://wild.example.com/wild", Hosts: []string{"*"}, PublicPaths: []string{"/health/"}},
		{URL: "https://mcp.example.com/docs", Paths: []string{"/docs/private"}, PublicPaths: []string{"/docs"}},
		{URL: "https://other.example.com/mcp", Hosts: []string{"Alias.Example.COM."}},
		{URL: "https://tie.example.com/x", Paths: []string{"/shared"}},
		{URL: "https://tie.example.com/y", Paths: []string{"/shared/"}},
		{URL: "https://deep.example.com/mcp/special", Hosts: []string{"*"}},
		{URL: "http://localhost:8080/mcp"},
		{URL: "https://root.example.com"},
		{URL: "https://open.example.com/", PublicPaths: []string{"/"}},
		{URL: "https://trail.example.com/x", Paths: []string{"/trail/"}},
		{URL: "https://same.example.com/p", Paths: []string{"/p"}, PublicPaths: []string{"/p"}},
	}}
}

func TestMatch(t *testing.T) {
	p := mustNew(t, matchConfig())
	tests := []struct {
		name, host, path string
		wantURL          string // "" for no resource
		wantPublic       bool
	}{
		{"exact path", "mcp.example.com", "/mcp", "https://mcp.example.com/mcp", false},
		{"below prefix", "mcp.example.com", "/mcp/x", "https://mcp.example.com/mcp", false},
		{"trailing slash", "mcp.example.com", "/mcp/", "https://mcp.example.com/mcp", false},
		{"not a segment boundary", "mcp.example.com", "/mcpx", "", false},
		{"parent of prefix", "mcp.example.com", "/", "", false},
		{"longest prefix", "mcp.example.com", "/mcp/admin", "https://mcp.example.com/mcp/admin", false},
		{"longest prefix below", "mcp.example.com", "/mcp/admin/users", "https://mcp.example.com/mcp/admin", false},
		{"longest prefix boundary", "mcp.example.com", "/mcp/adminx", "https://mcp.example.com/mcp", false},
		{"upper-case host", "MCP.Example.COM", "/mcp", "https://mcp.example.com/mcp", false},
		{"trailing-dot host", "mcp.example.com.", "/mcp", "https://mcp.example.com/mcp", false},
		{"port not removed by caller", "mcp.example.com:443", "/mcp", "https://mcp.example.com/mcp", false}, // as any port no resource names
		{"unknown host", "evil.example.com", "/mcp", "", false},
		{"empty host", "", "/mcp", "", false},
		{"star any host", "anything.example.net", "/wild/x", "https://wild.example.com/wild", false},
		{"star empty host", "", "/wild", "https://wild.example.com/wild", false},
		{"star own host", "wild.example.com", "/wild", "https://wild.example.com/wild", false},
		{"star public path", "mcp.example.com", "/health", "https://wild.example.com/wild", true},
		{"star public path below", "x.example.org", "/health/live", "https://wild.example.com/wild", true},
		{"star public path boundary", "x.example.org", "/healthz", "", false},
		{"exact host beats longer star prefix", "mcp.example.com", "/mcp/special", "https://mcp.example.com/mcp", false},
		{"star longer prefix on other host", "x.example.org", "/mcp/special/y", "https://deep.example.com/mcp/special", false},
		{"public prefix", "mcp.example.com", "/docs", "https://mcp.example.com/docs", true},
		{"below public prefix", "mcp.example.com", "/docs/readme", "https://mcp.example.com/docs", true},
		{"protected inside public", "mcp.example.com", "/docs/private", "https://mcp.example.com/docs", false},
		{"below protected inside public", "mcp.example.com", "/docs/private/x", "https://mcp.example.com/docs", false},
		{"protected boundary inside public", "mcp.example.com", "/docs/privatex", "https://mcp.example.com/docs", true},
		{"same prefix protected and public", "same.example.com", "/p/x", "https://same.example.com/p", true},
		{"extra host", "alias.example.com", "/mcp", "https://other.example.com/mcp", false},
		{"own host with extra hosts", "other.example.com", "/mcp/x", "https://other.example.com/mcp", false},
		{"tie keeps configuration order", "tie.example.com", "/shared/a", "https://tie.example.com/x", false},
		{"url path not protected when paths given", "tie.example.com", "/x", "", false},
		{"port host", "localhost:8080", "/mcp", "http://localhost:8080/mcp", false},
		{"port host without port", "localhost", "/mcp", "", false},
		{"port host trailing dot", "LocalHost.:8080", "/mcp", "http://localhost:8080/mcp", false},
		{"root resource", "root.example.com", "/anything/at/all", "https://root.example.com", false},
		{"root resource root", "root.example.com", "/", "https://root.example.com", false},
		{"configured trailing slash trimmed", "trail.example.com", "/trail", "https://trail.example.com/x", false},
		{"configured trailing slash below", "trail.example.com", "/trail/y", "https://trail.example.com/x", false},
		{"dot-dot segment", "mcp.example.com", "/docs/../mcp", "", false},
		{"dot-dot escaping public", "root.example.com", "/a/..", "", false},
		{"dot segment", "root.example.com", "/./a", "", false},
		{"dots inside a name are fine", "root.example.com", "/a/..b/.c/...", "https://root.example.com", false},
		{"empty path", "root.example.com", "", "", false},
		{"public root overrides the default path", "open.example.com", "/x", "https://open.example.com/", true},
		{"relative path", "root.example.com", "mcp", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := policy.Input{Request: policy.Request{Method: "POST", Host: tt.host, Path: tt.path}}
			d := p.Decide(in)
			got := ""
			if d.Resource != nil {
				got = d.Resource.URL()
			}
			if got != tt.wantURL {
				t.Fatalf("Decide(%q %q).Resource = %q, want %q (decision %+v)", tt.host, tt.path, got, tt.wantURL, d)
			}
			switch {
			case tt.wantURL == "":
				if d.Result != policy.Deny || d.Reason != policy.ReasonNoResource {
					t.Errorf("Decide(%q %q) = %v/%v, want deny/no_resource", tt.host, tt.path, d.Result, d.Reason)
				}
			case tt.wantPublic:
				if d.Result != policy.Allow || d.Reason != policy.ReasonPublicPath {
					t.Errorf("Decide(%q %q) = %v/%v, want allow/public_path", tt.host, tt.path, d.Result, d.Reason)
				}
			default:
				if d.Result != policy.Challenge || d.Reason != policy.ReasonNoCredential {
					t.Errorf("Decide(%q %q) = %v/%v, want challenge/no_credential", tt.host, tt.path, d.Result, d.Reason)
				}
			}
		})
	}
}

// TestMatchPorts: a host with a port no resource names is looked up without the port
// before any "*" resource.
func TestMatchPorts(t *testing.T) {
	p := mustNew(t, policy.Config{Resources: []policy.ResourceConfig{
		{URL: "https://a.test/mcp"},
		{URL: "https://a.test:8443/admin"},
		{URL: "https://[::1]/mcp"},
		{URL: "http://b.test:80/mcp"}, // the default port: host b.test
		{URL: "https://c.test:8443/mcp"},
		{URL: "https://wild.test/", Hosts: []string{"*"}, PublicPaths: []string{"/"}},
	}})
	const wild = "https://wild.test/"
	tests := []struct {
		name, host, path string
		wantURL          string
	}{
		{"unnamed port", "a.test:8443", "/mcp", "https://a.test/mcp"},
		{"another unnamed port", "a.test:9000", "/mcp/x", "https://a.test/mcp"},
		{"named port wins", "a.test:8443", "/admin", "https://a.test:8443/admin"},
		{"named port never answers without it", "a.test", "/admin", wild},
		{"named port only on its own port", "a.test:9000", "/admin", wild},
		{"unknown host with a port", "unknown.test:8443", "/mcp", wild},
		{"unnamed port, path of no resource of the host", "a.test:8443", "/other", wild},
		{"ipv6 with a port", "[::1]:8443", "/mcp", "https://[::1]/mcp"},
		{"ipv6 without a port", "[::1]", "/mcp", "https://[::1]/mcp"},
		{"default port removed by the caller", "a.test", "/mcp", "https://a.test/mcp"},
		{"default port kept by the caller", "a.test:443", "/mcp", "https://a.test/mcp"},
		{"http default port removed by the caller", "b.test", "/mcp", "http://b.test/mcp"},
		{"http default port kept by the caller", "b.test:80", "/mcp", "http://b.test/mcp"},
		{"port resource, no port", "c.test", "/mcp", wild},
		{"port resource, its port", "c.test:8443", "/mcp", "https://c.test:8443/mcp"},
		{"port resource, another port", "c.test:9443", "/mcp", wild},
		{"upper case and trailing dot", "A.Test.:8443", "/mcp", "https://a.test/mcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(policy.Input{Request: policy.Request{Method: "POST", Host: tt.host, Path: tt.path}})
			got := ""
			if d.Resource != nil {
				got = d.Resource.URL()
			}
			if got != tt.wantURL {
				t.Errorf("Decide(%q %q).Resource = %q, want %q", tt.host, tt.path, got, tt.wantURL)
			}
		})
	}
}
