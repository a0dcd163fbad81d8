package policy_test

import (
	pathpkg "path"
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// underAnyPrefix reports, independently of the package's matcher, whether p is under one
// of the configured Paths (or the URL path by default) or PublicPaths of any resource.
func underAnyPrefix(pol *policy.Policy, p string) bool {
	for _, r := range pol.Resources() {
		c := r.Config()
		paths := c.Paths
		if len(paths) == 0 {
			paths = []string{r.Path()}
		}
		for _, pre := range append(paths, c.PublicPaths...) {
			if pre != "/" {
				pre = strings.TrimSuffix(pre, "/")
			}
			if pre == "/" || p == pre || strings.HasPrefix(p, pre+"/") {
				return true
			}
		}
	}
	return false
}

// underPublicPrefix reports whether p is under one of r's PublicPaths.
func underPublicPrefix(r *policy.Resource, p string) bool {
	for _, pre := range r.Config().PublicPaths {
		if pre != "/" {
			pre = strings.TrimSuffix(pre, "/")
		}
		if pre == "/" || p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

func FuzzDecide(f *testing.F) {
	pol := mustNew(f, decideConfig())
	join := func(id *policy.Identity) (scopes, email, groups string, ok bool) {
		if id == nil {
			return "", "", "", false
		}
		return strings.Join(id.Scopes, " "), id.Email, strings.Join(id.Groups, " "), true
	}
	for _, tt := range decideCases {
		scopes, email, groups, hasID := join(tt.in.Identity)
		r := tt.in.Request
		f.Add(r.Host, r.Path, r.Method, r.MCPProtocolVersion, r.MCPMethod, r.MCPName, scopes, email, groups, hasID, r.Preflight, tt.in.CredentialInvalid)
	}
	f.Fuzz(func(t *testing.T, host, path, method, version, mcpMethod, name, scopes, email, groups string, hasID, preflight, invalid bool) {
		in := policy.Input{
			Request: policy.Request{
				Method: method, Host: host, Path: path, Preflight: preflight,
				MCPProtocolVersion: version, MCPMethod: mcpMethod, MCPName: name,
			},
			CredentialInvalid: invalid && !hasID,
		}
		if hasID {
			in.Identity = &policy.Identity{
				Subject: "fuzz", Email: email, EmailVerified: true, Source: policy.SourceOAuth,
				Scopes: strings.Fields(scopes), Groups: strings.Fields(groups), Audiences: everyResource,
			}
		}
		d := pol.Decide(in)
		if d2 := pol.Decide(in); d2.Result != d.Result || d2.Reason != d.Reason {
			t.Fatalf("Decide(%+v) is not deterministic: %v/%v then %v/%v", in.Request, d.Result, d.Reason, d2.Result, d2.Reason)
		}
		if (d.Resource == nil) != (d.Reason == policy.ReasonNoResource) {
			t.Fatalf("Decide(%+v) = %v/%v with resource %v, want a resource exactly when one matched", in.Request, d.Result, d.Reason, d.Resource)
		}
		if d.Message == "" {
			t.Fatalf("Decide(%+v).Message is empty", in.Request)
		}
		switch d.Result {
		case policy.Allow:
			if !underAnyPrefix(pol, path) {
				t.Fatalf("Decide(%+v) = allow/%v for a path outside every resource's paths", in.Request, d.Reason)
			}
			public := underPublicPrefix(d.Resource, path)
			if in.Identity == nil && !d.Resource.Config().Anonymous && !public && !preflight {
				t.Fatalf("Decide(%+v) = allow/%v without an identity on a non-anonymous resource", in.Request, d.Reason)
			}
			if in.CredentialInvalid && !public && !preflight {
				t.Fatalf("Decide(%+v) = allow/%v with a failed credential", in.Request, d.Reason)
			}
			if d.Reason == policy.ReasonAllowed && in.Identity == nil {
				t.Fatalf("Decide(%+v) = allow/allowed without an identity", in.Request)
			}
			if d.Reason == policy.ReasonPublicPath && !public {
				t.Fatalf("Decide(%+v) = allow/public_path outside the resource's public paths", in.Request)
			}
		case policy.Challenge:
			switch d.Reason {
			case policy.ReasonNoCredential, policy.ReasonInvalidCredential, policy.ReasonCredentialNotAccepted, policy.ReasonAudienceMismatch:
			default:
				t.Fatalf("Decide(%+v) = challenge/%v, want a credential reason", in.Request, d.Reason)
			}
		case policy.Deny:
		default:
			t.Fatalf("Decide(%+v).Result = %v, want allow, challenge or deny", in.Request, d.Result)
		}
		// Downgrading the protocol version never widens access: untrusted headers are
		// judged as every rule at once. (A trusted request that omits a required header is
		// malformed, not narrower; the insecure opt-out gives this up by name.)
		if d.Result != policy.Allow && d.Reason != policy.ReasonMissingMCPHeader && d.Resource != nil &&
			!d.Resource.Config().InsecureSkipRulesForUntrustedMCPHeaders {
			old := in
			old.MCPProtocolVersion = "2025-11-25"
			if od := pol.Decide(old); od.Result == policy.Allow {
				t.Fatalf("Decide(%+v) = %v/%v, but allow/%v with MCP-Protocol-Version 2025-11-25", in.Request, d.Result, d.Reason, od.Reason)
			}
		}
		if (len(d.Missing) > 0) != (d.Reason == policy.ReasonInsufficientScope) {
			t.Fatalf("Decide(%+v) = %v/%v with Missing %q", in.Request, d.Result, d.Reason, d.Missing)
		}
		for _, m := range d.Missing {
			if !slices.Contains(d.Scopes, m) {
				t.Fatalf("Decide(%+v).Missing = %q, not a subset of Scopes %q", in.Request, d.Missing, d.Scopes)
			}
			if in.Identity != nil && slices.Contains(in.Identity.Scopes, m) {
				t.Fatalf("Decide(%+v).Missing = %q includes a granted scope", in.Request, d.Missing)
			}
		}
	})
}

// toolPatternCases pair Mcp-Name patterns with names; a rule applies exactly when
// path.Match says so and the name is not empty.
var toolPatternCases = []struct{ pattern, name string }{
	{"delete_*", "delete_repo"}, {"delete_*", "delete_"}, {"delete_*", "delete"}, {"delete_*", "undelete_repo"},
	{"delete_*", "delete_a/b"}, {"delete_*", "DELETE_repo"}, {"*", ""}, {"*", "x"}, {"*", "a/b"},
	{"report", "report"}, {"report", "reports"}, {"re?ort", "report"}, {"[a-c]*", "beta"}, {"[!a-c]*", "beta"},
	{`lit\*`, "lit*"}, {`lit\*`, "litx"}, {"a*b*", "axxbyy"}, {"*_admin", "super_admin"},
}

func toolPolicy(tb testing.TB, pattern string) *policy.Policy {
	tb.Helper()
	return mustNew(tb, one(policy.ResourceConfig{URL: "https://mcp.example.com/mcp", Rules: []policy.RuleConfig{{Tools: []string{pattern}, Deny: true}}}))
}

func checkToolPattern(tb testing.TB, p *policy.Policy, pattern, name string) {
	tb.Helper()
	want, _ := pathpkg.Match(pattern, name)
	want = want && name != ""
	d := p.Decide(policy.Input{Request: call("mcp.example.com", "2026-07-28", name), Identity: reader})
	if got := d.Reason == policy.ReasonDeniedByRule; got != want {
		tb.Errorf("rule Tools [%q] applies to Mcp-Name %q = %v, want %v", pattern, name, got, want)
	}
}

func TestToolPatterns(t *testing.T) {
	for _, tt := range toolPatternCases {
		t.Run(tt.pattern+" "+tt.name, func(t *testing.T) {
			checkToolPattern(t, toolPolicy(t, tt.pattern), tt.pattern, tt.name)
		})
	}
}

func FuzzToolPattern(f *testing.F) {
	for _, tt := range toolPatternCases {
		f.Add(tt.pattern, tt.name)
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if _, err := pathpkg.Match(pattern, ""); err != nil || pattern == "" {
			return // New refuses it
		}
		checkToolPattern(t, toolPolicy(t, pattern), pattern, name)
	})
}
