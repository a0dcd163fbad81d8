package policy_test

import (
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// TestClientCredentialKind: the client kind (a machine's client_credentials token) is
// accepted by default, as oauth is, can be named in credentials or left out of it, and
// its token must be for the resource like any token of mcpguard's.
func TestClientCredentialKind(t *testing.T) {
	const url = "https://mcp.example.com/mcp"
	machine := func(aud string) *policy.Identity {
		return &policy.Identity{Subject: "ci-bot", ClientID: "ci-bot", Source: policy.SourceClient, Scopes: []string{"mcp:read"}, Audiences: []string{aud}}
	}
	tests := []struct {
		name        string
		credentials []policy.Source
		id          *policy.Identity
		want        policy.Result
		reason      policy.Reason
	}{
		{"default credentials", nil, machine(url), policy.Allow, policy.ReasonAllowed},
		{"named", []policy.Source{policy.SourceClient}, machine(url), policy.Allow, policy.ReasonAllowed},
		{"not named", []policy.Source{policy.SourceOAuth}, machine(url), policy.Challenge, policy.ReasonCredentialNotAccepted},
		{"token for another resource", nil, machine("https://mcp.example.com/other"), policy.Challenge, policy.ReasonAudienceMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New(policy.Config{Resources: []policy.ResourceConfig{{URL: url, Credentials: tt.credentials}}})
			if err != nil {
				t.Fatal(err)
			}
			d := p.Decide(policy.Input{Request: policy.Request{Method: "POST", Host: "mcp.example.com", Path: "/mcp"}, Identity: tt.id})
			if d.Result != tt.want || d.Reason != tt.reason {
				t.Errorf("Decide() = %v %v, want %v %v", d.Result, d.Reason, tt.want, tt.reason)
			}
		})
	}
}
