package policy_test

import (
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

func TestModesAndTokenBinding(t *testing.T) {
	p := mustNew(t, policy.Config{Resources: []policy.ResourceConfig{
		{URL: "https://strict.example/mcp"},
		{URL: "https://optional.example/mcp", Mode: policy.ModeOptional},
		{URL: "https://permissive.example/mcp", Mode: policy.ModePermissive},
		{URL: "https://scoped.example/mcp", Mode: policy.ModeOptional, RequiredScopes: []string{"mcp:read"}},
		{URL: "https://kc.example/mcp", JWTIssuers: []string{"https://kc.example/realms/a"}},
		{URL: "https://aud.example/mcp", Audiences: []string{"https://aud.example/mcp"}},
	}})
	jwt := func(iss string, aud ...string) *policy.Identity {
		return &policy.Identity{Subject: "u", Source: policy.SourceJWT, Issuer: iss, Audiences: aud}
	}
	tests := []struct {
		name       string
		host       string
		id         *policy.Identity
		invalid    bool
		wantResult policy.Result
		wantReason policy.Reason
	}{
		{"strict, no credential", "strict.example", nil, false, policy.Challenge, policy.ReasonNoCredential},
		{"strict, invalid", "strict.example", nil, true, policy.Challenge, policy.ReasonInvalidCredential},
		{"optional, no credential", "optional.example", nil, false, policy.Allow, policy.ReasonAnonymous},
		{"optional, invalid", "optional.example", nil, true, policy.Challenge, policy.ReasonInvalidCredential},
		{"optional, valid", "optional.example", jwt("https://any", "https://optional.example/mcp"), false, policy.Allow, policy.ReasonAllowed},
		{"permissive, no credential", "permissive.example", nil, false, policy.Allow, policy.ReasonAnonymous},
		{"permissive, invalid is absent", "permissive.example", nil, true, policy.Allow, policy.ReasonAnonymous},
		{"optional, but a scope is required", "scoped.example", nil, false, policy.Challenge, policy.ReasonNoCredential},
		{"issuer of this resource", "kc.example", jwt("https://kc.example/realms/a", "https://kc.example/mcp"), false, policy.Allow, policy.ReasonAllowed},
		{"issuer configured for another resource", "kc.example", jwt("https://kc.example/realms/b", "https://kc.example/mcp"), false, policy.Challenge, policy.ReasonCredentialNotAccepted},
		{"api key ignores the issuer list", "kc.example", &policy.Identity{Subject: "k", Source: policy.SourceAPIKey}, false, policy.Allow, policy.ReasonAllowed},
		{"audience of this resource", "aud.example", jwt("https://x", "other", "https://aud.example/mcp"), false, policy.Allow, policy.ReasonAllowed},
		// RFC 8707: a token minted for another resource is refused.
		{"audience of another resource", "aud.example", jwt("https://x", "https://strict.example/mcp"), false, policy.Challenge, policy.ReasonAudienceMismatch},
		{"no audience", "aud.example", jwt("https://x"), false, policy.Challenge, policy.ReasonAudienceMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(policy.Input{Request: policy.Request{Method: "POST", Host: tt.host, Path: "/mcp"}, Identity: tt.id, CredentialInvalid: tt.invalid})
			if d.Result != tt.wantResult || d.Reason != tt.wantReason {
				t.Fatalf("Decide(%s) = %v/%v, want %v/%v", tt.host, d.Result, d.Reason, tt.wantResult, tt.wantReason)
			}
		})
	}
}

func TestModeValidation(t *testing.T) {
	for _, rc := range []policy.ResourceConfig{
		{URL: "https://a.example/mcp", Mode: "lenient"},
		{URL: "https://a.example/mcp", JWTIssuers: []string{"not a url"}},
		{URL: "https://a.example/mcp", Audiences: []string{""}},
	} {
		if _, err := policy.New(policy.Config{Resources: []policy.ResourceConfig{rc}}); err == nil {
			t.Errorf("New(%+v) = nil error, want one", rc)
		}
	}
}
