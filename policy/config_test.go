package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// mustNew compiles c or fails the test.
func mustNew(tb testing.TB, c policy.Config) *policy.Policy {
	tb.Helper()
	p, err := policy.New(c)
	if err != nil {
		tb.Fatalf("New() = %v, want no error", err)
	}
	return p
}

// one is a Config with a single resource.
func one(rc policy.ResourceConfig) policy.Config {
	return policy.Config{Resources: []policy.ResourceConfig{rc}}
}

func TestNewErrors(t *testing.T) {
	const u = "https://mcp.example.com/mcp"
	ok := policy.ResourceConfig{URL: "https://ok.example.com/mcp"}
	tests := []struct {
		name string
		cfg  policy.Config
		want []string // substrings of the error, in order
	}{
		{"no resources", policy.Config{}, []string{"policy: no resources configured"}},
		{"url missing", one(policy.ResourceConfig{}), []string{"policy: resources[0]: url: required"}},
		{"url scheme", one(policy.ResourceConfig{URL: "ftp://mcp.example.com/mcp"}), []string{"resources[0] (ftp://mcp.example.com/mcp)", "url:", "scheme must be http or https"}},
		{"url relative", one(policy.ResourceConfig{URL: "/mcp"}), []string{"resources[0] (/mcp)", "url:"}},
		{"url no host", one(policy.ResourceConfig{URL: "https:///mcp"}), []string{"url:", "host is missing"}},
		{"url opaque", one(policy.ResourceConfig{URL: "https:mcp.example.com"}), []string{"url:", "host is missing"}},
		{"url userinfo", one(policy.ResourceConfig{URL: "https://user:pw@mcp.example.com/mcp"}), []string{"url:", "userinfo"}},
		{"url query", one(policy.ResourceConfig{URL: u + "?a=1"}), []string{"url:", "query"}},
		{"url empty query", one(policy.ResourceConfig{URL: u + "?"}), []string{"url:", "query"}},
		{"url fragment", one(policy.ResourceConfig{URL: u + "#top"}), []string{"url:", "fragment"}},
		{"url empty fragment", one(policy.ResourceConfig{URL: u + "#"}), []string{"url:", "fragment"}},
		{"url bad host", one(policy.ResourceConfig{URL: "https://mcp_server.example.com/mcp"}), []string{"url:", "is not a host name"}},
		{"url unclean path", one(policy.ResourceConfig{URL: "https://mcp.example.com/a/../mcp"}), []string{"url:", "not a clean path"}},
		{"url unparsable", one(policy.ResourceConfig{URL: "https://mcp.example.com:port/mcp"}), []string{"url:", "is not a URL"}},
		{"duplicate url", policy.Config{Resources: []policy.ResourceConfig{{URL: u}, {URL: "https://MCP.example.com:443/mcp/"}}},
			[]string{"resources[1] (https://MCP.example.com:443/mcp/): url: duplicate of resources[0]"}},
		{"duplicate origin", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://mcp.example.com"}, {URL: "https://mcp.example.com/"}}},
			[]string{"resources[1] (https://mcp.example.com/): url: duplicate of resources[0]"}},
		{"host kelvin sign", one(policy.ResourceConfig{URL: u, Hosts: []string{"\u212Aey.example.com"}}), []string{"hosts:"}},
		{"host empty", one(policy.ResourceConfig{URL: u, Hosts: []string{""}}), []string{"hosts:", `"" is not a host name`}},
		{"host with path", one(policy.ResourceConfig{URL: u, Hosts: []string{"a.example.com/x"}}), []string{"hosts:", `"a.example.com/x"`}},
		{"host with space", one(policy.ResourceConfig{URL: u, Hosts: []string{"a example.com"}}), []string{"hosts:"}},
		{"host bad port", one(policy.ResourceConfig{URL: u, Hosts: []string{"a.example.com:99999"}}), []string{"hosts:"}},
		{"host wildcard label", one(policy.ResourceConfig{URL: u, Hosts: []string{"*.example.com"}}), []string{"hosts:"}},
		{"host ipv6 zone", one(policy.ResourceConfig{URL: u, Hosts: []string{"[fe80::1%25eth0]"}}), []string{"hosts:"}},
		{"host ipv4 in brackets", one(policy.ResourceConfig{URL: u, Hosts: []string{"[127.0.0.1]"}}), []string{"hosts:"}},
		{"host unclosed bracket", one(policy.ResourceConfig{URL: u, Hosts: []string{"[::1"}}), []string{"hosts:"}},
		{"host bad ipv6", one(policy.ResourceConfig{URL: u, Hosts: []string{"[zz]:80"}}), []string{"hosts:"}},
		{"path relative", one(policy.ResourceConfig{URL: u, Paths: []string{"mcp"}}), []string{"paths:", `"mcp" must start with "/"`}},
		{"path query", one(policy.ResourceConfig{URL: u, Paths: []string{"/mcp?x"}}), []string{"paths:", "query"}},
		{"path control char", one(policy.ResourceConfig{URL: u, Paths: []string{"/a\nb"}}), []string{"paths:", "control characters"}},
		{"path dot segment", one(policy.ResourceConfig{URL: u, Paths: []string{"/a/./b"}}), []string{"paths:", "clean"}},
		{"public path relative", one(policy.ResourceConfig{URL: u, PublicPaths: []string{""}}), []string{"public_paths:", `must start with "/"`}},
		{"public path dotdot", one(policy.ResourceConfig{URL: u, PublicPaths: []string{"/public/.."}}), []string{"public_paths:", "clean"}},
		{"credential anonymous", one(policy.ResourceConfig{URL: u, Credentials: []policy.Source{policy.SourceAnonymous}}),
			[]string{"credentials:", `"anonymous" is not a credential kind: use anonymous: true`}},
		{"credential unknown", one(policy.ResourceConfig{URL: u, Credentials: []policy.Source{"cookie"}}), []string{"credentials:", `unknown credential kind "cookie"`}},
		{"scope with space", one(policy.ResourceConfig{URL: u, RequiredScopes: []string{"mcp:read mcp:write"}}), []string{"required_scopes:", "scope token"}},
		{"scope empty", one(policy.ResourceConfig{URL: u, RequiredScopes: []string{""}}), []string{"required_scopes:"}},
		{"scope quote", one(policy.ResourceConfig{URL: u, ScopesSupported: []string{`"x"`}}), []string{"scopes_supported:"}},
		{"scope backslash", one(policy.ResourceConfig{URL: u, ScopesSupported: []string{`a\b`}}), []string{"scopes_supported:"}},
		{"scope non-ascii", one(policy.ResourceConfig{URL: u, RequiredScopes: []string{"lесen"}}), []string{"required_scopes:"}},
		{"email multi at", policy.Config{Resources: []policy.ResourceConfig{ok, {URL: "https://x/mcp", AllowedEmails: []string{"a@b@c"}}}},
			[]string{`policy: resources[1] (https://x/mcp): allowed_emails: "a@b@c" is not an email address`}},
		{"email no at", one(policy.ResourceConfig{URL: u, AllowedEmails: []string{"alice"}}), []string{"allowed_emails:", `"alice"`}},
		{"domain look-alike", one(policy.ResourceConfig{URL: u, AllowedDomains: []string{"exаmple.com"}}), []string{"allowed_domains:", "is not a domain name"}},
		{"domain with at", one(policy.ResourceConfig{URL: u, AllowedDomains: []string{"@example.com"}}), []string{"allowed_domains:"}},
		{"domain trailing dot", one(policy.ResourceConfig{URL: u, AllowedDomains: []string{"example.com."}}), []string{"allowed_domains:"}},
		{"group empty", one(policy.ResourceConfig{URL: u, AllowedGroups: []string{""}}), []string{"allowed_groups:", "empty"}},
		{"rule bad pattern", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{}, {Name: "del", Tools: []string{"delete_["}}}}),
			[]string{"resources[0] (" + u + "): rules[1] (del): tools:", `"delete_[" is not a valid pattern`, "syntax error"}},
		{"rule empty pattern", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{Tools: []string{""}}}}), []string{"rules[0]: tools: empty pattern"}},
		{"rule empty method", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{Methods: []string{""}}}}), []string{"rules[0]: methods:"}},
		{"rule bad scope", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{Name: "w", RequiredScopes: []string{"a b"}}}}), []string{"rules[0] (w): required_scopes:"}},
		{"rule bad email", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{AllowedEmails: []string{"a@evil.com@allowed.com"}}}}), []string{"rules[0]: allowed_emails:"}},
		{"rule bad domain", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{AllowedDomains: []string{"a..b"}}}}), []string{"rules[0]: allowed_domains:"}},
		{"rule empty group", one(policy.ResourceConfig{URL: u, Rules: []policy.RuleConfig{{AllowedGroups: []string{""}}}}), []string{"rules[0]: allowed_groups:"}},
		{"strict and insecure untrusted headers", one(policy.ResourceConfig{URL: u, StrictMCPHeaders: true, InsecureSkipRulesForUntrustedMCPHeaders: true}),
			[]string{"insecure_skip_rules_for_untrusted_mcp_headers:", "contradicts strict_mcp_headers"}},
		{"implication bad key", policy.Config{Resources: []policy.ResourceConfig{ok}, ScopeImplications: map[string][]string{"a b": {"c"}}},
			[]string{`policy: scope_implications: "a b" is not an RFC 6749 scope token`}},
		{"implication bad value", policy.Config{Resources: []policy.ResourceConfig{ok}, ScopeImplications: map[string][]string{"a": {""}}},
			[]string{`policy: scope_implications: a: "" is not`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New(tt.cfg)
			if err == nil {
				t.Fatalf("New(%+v) = %v, nil, want an error containing %q", tt.cfg, p, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "policy: ") {
				t.Errorf("New() error = %q, want the prefix %q", msg, "policy: ")
			}
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("New() error = %q, want it to contain %q (in order of %q)", msg, w, tt.want)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		cfg  policy.Config
	}{
		{"minimal", one(policy.ResourceConfig{URL: "https://mcp.example.com/mcp"})},
		{"http localhost", one(policy.ResourceConfig{URL: "http://localhost:8080/mcp"})},
		{"ipv6", one(policy.ResourceConfig{URL: "https://[::1]:8443/mcp", Hosts: []string{"[::1]", "127.0.0.1:8443"}})},
		{"everything", one(policy.ResourceConfig{
			URL: "https://mcp.example.com/mcp", Hosts: []string{"*", "Alias.Example.com.", "alias.example.com:443"},
			Paths: []string{"/mcp/", "/sse"}, PublicPaths: []string{"/mcp/health"},
			Credentials: []policy.Source{policy.SourceOAuth, policy.SourceJWT, policy.SourceAPIKey, policy.SourceProxy, policy.SourceSession},
			Anonymous:   true, RequiredScopes: []string{"mcp:read", "mcp:read"}, ScopesSupported: []string{"offline_access", "x!#[]~"},
			AllowedEmails: []string{"Alice@Example.COM"}, AllowedDomains: []string{"Example.COM"}, AllowedGroups: []string{"Admins"},
			StrictMCPHeaders: true, PreflightRequiresAuth: true,
			Rules:    []policy.RuleConfig{{Methods: []string{"tools/call"}, Tools: []string{"delete_*", "x[a-c]?", `lit\*`}, Deny: true}},
			Metadata: map[string]any{"resource_name": "Example"},
		})},
		{"empty implications", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp"}}, ScopeImplications: map[string][]string{}}},
		{"implication cycle", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp"}}, ScopeImplications: map[string][]string{"a": {"b"}, "b": {"a"}}}},
		{"same path two hosts", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp"}, {URL: "https://b.example/mcp"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := policy.New(tt.cfg); err != nil {
				t.Errorf("New(%+v) = %v, want no error", tt.cfg, err)
			}
		})
	}
}

func TestResourceURLs(t *testing.T) {
	tests := []struct {
		url                         string
		wantURL, wantHost, wantPath string
		wantMetadataURL             string
	}{
		{"https://MCP.Example.COM/mcp", "https://mcp.example.com/mcp", "mcp.example.com", "/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"},
		{"HTTPS://mcp.example.com/mcp/", "https://mcp.example.com/mcp", "mcp.example.com", "/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"},
		{"https://mcp.example.com/a/b", "https://mcp.example.com/a/b", "mcp.example.com", "/a/b", "https://mcp.example.com/.well-known/oauth-protected-resource/a/b"},
		{"https://mcp.example.com", "https://mcp.example.com", "mcp.example.com", "/", "https://mcp.example.com/.well-known/oauth-protected-resource"},
		{"https://mcp.example.com/", "https://mcp.example.com/", "mcp.example.com", "/", "https://mcp.example.com/.well-known/oauth-protected-resource"},
		{"https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp", "mcp.example.com", "/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"},
		{"https://mcp.example.com.:8443/mcp", "https://mcp.example.com:8443/mcp", "mcp.example.com:8443", "/mcp", "https://mcp.example.com:8443/.well-known/oauth-protected-resource/mcp"},
		{"http://localhost:80/mcp", "http://localhost/mcp", "localhost", "/mcp", "http://localhost/.well-known/oauth-protected-resource/mcp"},
		{"http://localhost:443/mcp", "http://localhost:443/mcp", "localhost:443", "/mcp", "http://localhost:443/.well-known/oauth-protected-resource/mcp"},
		{"https://[::1]:8443/mcp", "https://[::1]:8443/mcp", "[::1]:8443", "/mcp", "https://[::1]:8443/.well-known/oauth-protected-resource/mcp"},
		{"https://mcp.example.com/my%20server", "https://mcp.example.com/my%20server", "mcp.example.com", "/my server", "https://mcp.example.com/.well-known/oauth-protected-resource/my%20server"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r := mustNew(t, one(policy.ResourceConfig{URL: tt.url})).Resources()[0]
			if got := r.URL(); got != tt.wantURL {
				t.Errorf("URL() = %q, want %q", got, tt.wantURL)
			}
			if got := r.Host(); got != tt.wantHost {
				t.Errorf("Host() = %q, want %q", got, tt.wantHost)
			}
			if got := r.Path(); got != tt.wantPath {
				t.Errorf("Path() = %q, want %q", got, tt.wantPath)
			}
			if got := r.MetadataURL(); got != tt.wantMetadataURL {
				t.Errorf("MetadataURL() = %q, want %q", got, tt.wantMetadataURL)
			}
		})
	}
}

func TestScopesSupported(t *testing.T) {
	tests := []struct {
		name string
		rc   policy.ResourceConfig
		want []string
	}{
		{"none", policy.ResourceConfig{}, nil},
		{"only offline_access", policy.ResourceConfig{ScopesSupported: []string{"offline_access"}}, nil},
		{"order and dedupe", policy.ResourceConfig{
			RequiredScopes:  []string{"a", "offline_access", "a"},
			Rules:           []policy.RuleConfig{{RequiredScopes: []string{"b", "a"}}, {RequiredScopes: []string{"offline_access", "d"}}},
			ScopesSupported: []string{"c", "offline_access", "b"},
		}, []string{"a", "b", "d", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rc.URL = "https://mcp.example.com/mcp"
			r := mustNew(t, one(tt.rc)).Resources()[0]
			got := r.ScopesSupported()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ScopesSupported() = %q, want %q", got, tt.want)
			}
			if len(got) > 0 {
				got[0] = "mutated"
				if again := r.ScopesSupported(); !slices.Equal(again, tt.want) {
					t.Errorf("ScopesSupported() after mutating a result = %q, want %q", again, tt.want)
				}
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	all := []policy.Source{policy.SourceOAuth, policy.SourceJWT, policy.SourceAPIKey, policy.SourceProxy, policy.SourceSession}
	tests := []struct {
		name        string
		credentials []policy.Source
		want        []policy.Source
	}{
		{"default is every kind", nil, all},
		{"api keys only", []policy.Source{policy.SourceAPIKey}, []policy.Source{policy.SourceAPIKey}},
		{"oauth and jwt", []policy.Source{policy.SourceJWT, policy.SourceOAuth}, []policy.Source{policy.SourceOAuth, policy.SourceJWT}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, one(policy.ResourceConfig{URL: "https://a.example/mcp", Credentials: tt.credentials})).Resources()[0]
			for _, s := range append(all, policy.SourceAnonymous, "", "OAUTH") {
				want := slices.Contains(tt.want, s)
				if got := r.Accepts(s); got != want {
					t.Errorf("Accepts(%q) = %v, want %v", s, got, want)
				}
			}
		})
	}
}

func TestResourcesAndConfig(t *testing.T) {
	emails := []string{"alice@example.com"}
	meta := map[string]any{"resource_name": "Docs"}
	cfg := policy.Config{Resources: []policy.ResourceConfig{
		{URL: "https://b.example/mcp", AllowedEmails: emails, Metadata: meta},
		{URL: "https://a.example/mcp"},
	}}
	p := mustNew(t, cfg)
	emails[0] = "mallory@example.com" // the policy must not see later changes
	meta["resource_name"] = "Changed"

	rs := p.Resources()
	var urls []string
	for _, r := range rs {
		urls = append(urls, r.URL())
	}
	if want := []string{"https://b.example/mcp", "https://a.example/mcp"}; !slices.Equal(urls, want) {
		t.Fatalf("Resources() URLs = %q, want %q (configuration order)", urls, want)
	}
	rs[0] = nil
	if p.Resources()[0] == nil {
		t.Errorf("Resources() returned the policy's own slice")
	}
	c := p.Resources()[0].Config()
	if got, want := c.AllowedEmails, []string{"alice@example.com"}; !slices.Equal(got, want) {
		t.Errorf("Config().AllowedEmails = %q, want %q", got, want)
	}
	if got := p.Resources()[0].Metadata()["resource_name"]; got != "Docs" {
		t.Errorf(`Metadata()["resource_name"] = %v, want "Docs"`, got)
	}
	c.AllowedEmails[0] = "eve@example.com"
	if got := p.Resources()[0].Config().AllowedEmails[0]; got != "alice@example.com" {
		t.Errorf("Config().AllowedEmails[0] after mutating a copy = %q, want %q", got, "alice@example.com")
	}
}

func TestDefaultScopeImplications(t *testing.T) {
	d := policy.DefaultScopeImplications()
	if got, want := d["mcp:write"], []string{"mcp:read"}; !slices.Equal(got, want) {
		t.Fatalf(`DefaultScopeImplications()["mcp:write"] = %q, want %q`, got, want)
	}
	d["mcp:write"] = nil
	if got := policy.DefaultScopeImplications()["mcp:write"]; len(got) != 1 {
		t.Errorf("DefaultScopeImplications() shares its map between calls")
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		in   policy.Result
		want string
	}{
		{policy.Allow, "allow"}, {policy.Challenge, "challenge"}, {policy.Deny, "deny"}, {policy.Result(7), "Result(7)"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Result(%d).String() = %q, want %q", int(tt.in), got, tt.want)
		}
	}
}

func TestNewFieldError(t *testing.T) {
	tests := []struct {
		name      string
		c         policy.Config
		wantIndex int
		wantField string
	}{
		{"email", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp"}, {URL: "https://b.example/mcp", AllowedEmails: []string{"a@b@c.com"}}}}, 1, "allowed_emails"},
		{"rule tool", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp", Rules: []policy.RuleConfig{{}, {Tools: []string{"x["}}}}}}, 0, "rules[1].tools"},
		{"duplicate", policy.Config{Resources: []policy.ResourceConfig{{URL: "https://a.example/mcp"}, {URL: "https://a.example/mcp"}}}, 1, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.New(tt.c)
			var fe *policy.FieldError
			if !errors.As(err, &fe) || fe.Resource != tt.wantIndex || fe.Field != tt.wantField {
				t.Fatalf("New() = %v (%+v), want a FieldError for resources[%d].%s", err, fe, tt.wantIndex, tt.wantField)
			}
		})
	}
}
