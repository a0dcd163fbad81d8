package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

// audienceConfig has resources that tokens minted for one another must not open.
func audienceConfig() policy.Config {
	return policy.Config{Resources: []policy.ResourceConfig{
		{URL: "https://a.test/mcp"},
		{URL: "https://b.test/mcp"},
		{URL: "https://c.test/mcp", Audiences: []string{"https://a.test/mcp", "api://shared"}},
		{URL: "https://D.test:443/mcp/"}, // canonical https://d.test/mcp
		{URL: "https://e.test/mcp", JWTIssuers: []string{"https://idp.test"}},
	}}
}

func TestTokenAudiences(t *testing.T) {
	p := mustNew(t, audienceConfig())
	token := func(src policy.Source, aud ...string) *policy.Identity {
		return &policy.Identity{Subject: "u", Source: src, Issuer: "https://idp.test", Audiences: aud}
	}
	const (
		a = "https://a.test/mcp"
		b = "https://b.test/mcp"
	)
	type row struct {
		name   string
		host   string
		id     *policy.Identity
		result policy.Result
		reason policy.Reason
	}
	classes := []struct {
		class string
		rows  []row
	}{
		{"mcpguard's own tokens", []row{
			{"minted for this resource", "a.test", token(policy.SourceOAuth, a), policy.Allow, policy.ReasonAllowed},
			{"minted for another resource", "b.test", token(policy.SourceOAuth, a), policy.Challenge, policy.ReasonAudienceMismatch},
			{"another resource listed in audiences", "c.test", token(policy.SourceOAuth, a), policy.Allow, policy.ReasonAllowed},
			{"one audience of several", "a.test", token(policy.SourceOAuth, b, a), policy.Allow, policy.ReasonAllowed},
			{"no audience", "a.test", token(policy.SourceOAuth), policy.Challenge, policy.ReasonAudienceMismatch},
			{"canonical URL of a resource configured otherwise", "d.test", token(policy.SourceOAuth, "https://d.test/mcp"), policy.Allow, policy.ReasonAllowed},
		}},
		{"external JWTs", []row{
			{"aud is the resource URL", "a.test", token(policy.SourceJWT, a), policy.Allow, policy.ReasonAllowed},
			{"aud is another resource", "b.test", token(policy.SourceJWT, a), policy.Challenge, policy.ReasonAudienceMismatch},
			{"aud listed in audiences", "c.test", token(policy.SourceJWT, "api://shared"), policy.Allow, policy.ReasonAllowed},
			{"aud listed by another resource only", "a.test", token(policy.SourceJWT, "api://shared"), policy.Challenge, policy.ReasonAudienceMismatch},
			{"aud is the URL as configured", "d.test", token(policy.SourceJWT, "https://D.test:443/mcp/"), policy.Allow, policy.ReasonAllowed},
			{"aud compared exactly", "d.test", token(policy.SourceJWT, "https://d.test/mcp/"), policy.Challenge, policy.ReasonAudienceMismatch},
			{"aud is the origin only", "a.test", token(policy.SourceJWT, "https://a.test"), policy.Challenge, policy.ReasonAudienceMismatch},
			{"aud is below the resource", "a.test", token(policy.SourceJWT, a+"/x"), policy.Challenge, policy.ReasonAudienceMismatch},
			{"no audience", "a.test", token(policy.SourceJWT), policy.Challenge, policy.ReasonAudienceMismatch},
			{"accepted issuer, another resource", "e.test", token(policy.SourceJWT, a), policy.Challenge, policy.ReasonAudienceMismatch},
			{"issuer checked first", "e.test", &policy.Identity{Source: policy.SourceJWT, Issuer: "https://other.test", Audiences: []string{"https://e.test/mcp"}},
				policy.Challenge, policy.ReasonCredentialNotAccepted},
		}},
		{"credentials that are not tokens", []row{
			{"api key", "b.test", &policy.Identity{Subject: "k", Source: policy.SourceAPIKey}, policy.Allow, policy.ReasonAllowed},
			{"proxy identity", "b.test", &policy.Identity{Subject: "p", Source: policy.SourceProxy}, policy.Allow, policy.ReasonAllowed},
			{"session", "b.test", &policy.Identity{Subject: "s", Source: policy.SourceSession, Audiences: []string{a}}, policy.Allow, policy.ReasonAllowed},
		}},
	}
	for _, c := range classes {
		t.Run(c.class, func(t *testing.T) {
			for _, tt := range c.rows {
				t.Run(tt.name, func(t *testing.T) {
					in := policy.Input{Request: policy.Request{Method: "POST", Host: tt.host, Path: "/mcp"}, Identity: tt.id}
					d := p.Decide(in)
					if d.Result != tt.result || d.Reason != tt.reason {
						t.Fatalf("Decide(%s, aud %q) = %v/%v, want %v/%v", tt.host, tt.id.Audiences, d.Result, d.Reason, tt.result, tt.reason)
					}
					if got, want := d.InvalidToken(), tt.result == policy.Challenge; got != want {
						t.Errorf("Decide(%s, aud %q).InvalidToken() = %v, want %v", tt.host, tt.id.Audiences, got, want)
					}
					if tt.reason == policy.ReasonAudienceMismatch && d.Message != "token audience is not this resource" {
						t.Errorf("Decide(%s, aud %q).Message = %q, want %q", tt.host, tt.id.Audiences, d.Message, "token audience is not this resource")
					}
				})
			}
		})
	}
}

func TestDecisionInvalidToken(t *testing.T) {
	tests := []struct {
		d    policy.Decision
		want bool
	}{
		{policy.Decision{Result: policy.Challenge, Reason: policy.ReasonInvalidCredential}, true},
		{policy.Decision{Result: policy.Challenge, Reason: policy.ReasonCredentialNotAccepted}, true},
		{policy.Decision{Result: policy.Challenge, Reason: policy.ReasonAudienceMismatch}, true},
		{policy.Decision{Result: policy.Challenge, Reason: policy.ReasonNoCredential}, false},
		{policy.Decision{Result: policy.Deny, Reason: policy.ReasonInsufficientScope}, false},
		{policy.Decision{Result: policy.Deny, Reason: policy.ReasonAudienceMismatch}, false},
		{policy.Decision{Result: policy.Allow, Reason: policy.ReasonAllowed}, false},
	}
	for _, tt := range tests {
		if got := tt.d.InvalidToken(); got != tt.want {
			t.Errorf("Decision{%v, %v}.InvalidToken() = %v, want %v", tt.d.Result, tt.d.Reason, got, tt.want)
		}
	}
}

func TestIssuerAudiences(t *testing.T) {
	const (
		idp   = "https://idp.example.com"
		other = "https://other.example.com"
		b     = "https://b.test/mcp"
	)
	res := func(rc policy.ResourceConfig) policy.ResourceConfig {
		if rc.URL == "" {
			rc.URL = b
		}
		return rc
	}
	cfg := func(issuers map[string][]string, rcs ...policy.ResourceConfig) policy.Config {
		c := policy.Config{IssuerAudiences: issuers}
		for _, rc := range rcs {
			c.Resources = append(c.Resources, res(rc))
		}
		return c
	}
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name      string
			cfg       policy.Config
			wantIndex int
			wantField string
			want      string // the whole message, or its start when it ends in "..."
		}{
			{"named issuer verifies another audience", cfg(map[string][]string{idp: {"x"}}, policy.ResourceConfig{JWTIssuers: []string{idp}}), 0, "audiences",
				`policy: resources[0] (https://b.test/mcp): audiences: issuer "https://idp.example.com" verifies audiences ["x"] and none is the resource URL or in its audiences`},
			{"named issuer not configured", cfg(map[string][]string{idp: {b}}, policy.ResourceConfig{JWTIssuers: []string{idp, other}}), 0, "jwt_issuers",
				`policy: resources[0] (https://b.test/mcp): jwt_issuers: "https://other.example.com" is not a configured issuer`},
			{"named issuer, no issuer configured", cfg(map[string][]string{}, policy.ResourceConfig{JWTIssuers: []string{idp}}), 0, "jwt_issuers",
				`policy: resources[0] (https://b.test/mcp): jwt_issuers: "https://idp.example.com" is not a configured issuer`},
			{"one of two named issuers", cfg(map[string][]string{idp: {b}, other: {"https://a.test/mcp"}}, policy.ResourceConfig{JWTIssuers: []string{idp, other}}), 0, "audiences",
				`policy: resources[0] (https://b.test/mcp): audiences: issuer "https://other.example.com" verifies audiences ["https://a.test/mcp"] and none is...`},
			{"the only issuer, implicitly", cfg(map[string][]string{idp: {"api://a", "api://b"}}, policy.ResourceConfig{}), 0, "audiences",
				`policy: resources[0] (https://b.test/mcp): audiences: issuer "https://idp.example.com" verifies audiences ["api://a" "api://b"] and none is the resource URL or in its audiences (add one to audiences, or leave jwt out of credentials)`},
			{"every issuer, implicitly", cfg(map[string][]string{other: {"x"}, idp: {"y"}}, policy.ResourceConfig{}), 0, "audiences",
				`policy: resources[0] (https://b.test/mcp): audiences: none of the issuers ["https://idp.example.com" "https://other.example.com"] verifies an audience that is the resource URL or in its audiences...`},
			{"the second resource", cfg(map[string][]string{idp: {"https://a.test/mcp"}}, policy.ResourceConfig{URL: "https://a.test/mcp"}, policy.ResourceConfig{JWTIssuers: []string{idp}}), 1, "audiences",
				`policy: resources[1] (https://b.test/mcp): audiences: issuer "https://idp.example.com"...`},
			{"jwt among several credentials", cfg(map[string][]string{idp: {"x"}}, policy.ResourceConfig{Credentials: []policy.Source{policy.SourceOAuth, policy.SourceJWT}}), 0, "audiences",
				`policy: resources[0] (https://b.test/mcp): audiences: issuer...`},
			{"audience of another resource", cfg(map[string][]string{idp: {"https://a.test/mcp"}}, policy.ResourceConfig{URL: "https://a.test/mcp", JWTIssuers: []string{idp}}, policy.ResourceConfig{JWTIssuers: []string{idp}}), 1, "audiences",
				`policy: resources[1] (https://b.test/mcp): audiences: issuer "https://idp.example.com" verifies audiences ["https://a.test/mcp"] and none is...`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := policy.New(tt.cfg)
				var fe *policy.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("New() = %v, %v, want a FieldError", p, err)
				}
				if fe.Resource != tt.wantIndex || fe.Field != tt.wantField {
					t.Errorf("New() error names resources[%d].%s, want resources[%d].%s", fe.Resource, fe.Field, tt.wantIndex, tt.wantField)
				}
				msg := err.Error()
				if prefix, ok := strings.CutSuffix(tt.want, "..."); ok {
					if !strings.HasPrefix(msg, prefix) {
						t.Errorf("New() error = %q, want it to start with %q", msg, prefix)
					}
				} else if msg != tt.want {
					t.Errorf("New() error = %q, want %q", msg, tt.want)
				}
			})
		}
	})
	t.Run("accepted", func(t *testing.T) {
		tests := []struct {
			name string
			cfg  policy.Config
		}{
			{"no issuers given: nothing checked", cfg(nil, policy.ResourceConfig{JWTIssuers: []string{idp}})},
			{"no issuers configured", cfg(map[string][]string{}, policy.ResourceConfig{})},
			{"aud is the resource URL", cfg(map[string][]string{idp: {"x", b}}, policy.ResourceConfig{JWTIssuers: []string{idp}})},
			{"aud is the URL as configured", cfg(map[string][]string{idp: {"https://B.test:443/mcp/"}}, policy.ResourceConfig{URL: "https://B.test:443/mcp/"})},
			{"aud in audiences", cfg(map[string][]string{idp: {"api://mcp"}}, policy.ResourceConfig{Audiences: []string{"api://mcp"}})},
			{"one issuer of two, implicitly", cfg(map[string][]string{idp: {b}, other: {"x"}}, policy.ResourceConfig{})},
			{"jwt not accepted", cfg(map[string][]string{idp: {"x"}}, policy.ResourceConfig{Credentials: []policy.Source{policy.SourceOAuth, policy.SourceAPIKey}})},
			{"an issuer per resource", cfg(map[string][]string{idp: {"https://a.test/mcp"}, other: {b}},
				policy.ResourceConfig{URL: "https://a.test/mcp", JWTIssuers: []string{idp}}, policy.ResourceConfig{JWTIssuers: []string{other}})},
			{"one issuer, two resources", cfg(map[string][]string{idp: {"https://a.test/mcp", b}}, policy.ResourceConfig{URL: "https://a.test/mcp"}, policy.ResourceConfig{})},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := policy.New(tt.cfg); err != nil {
					t.Errorf("New() = %v, want no error", err)
				}
			})
		}
	})
}
