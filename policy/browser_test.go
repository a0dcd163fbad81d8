package policy_test

import (
	"errors"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

func TestIdentityAssertionHeader(t *testing.T) {
	tests := []struct {
		name    string
		ia      *policy.IdentityAssertionConfig
		want    string // "" with ok false: no assertion
		wantErr bool
	}{
		{"not set", nil, "", false},
		{"default header", &policy.IdentityAssertionConfig{}, "X-Mcpguard-Assertion", false},
		{"canonicalized", &policy.IdentityAssertionConfig{Header: "x-upstream-identity"}, "X-Upstream-Identity", false},
		{"Authorization", &policy.IdentityAssertionConfig{Header: "authorization"}, "Authorization", false},
		{"underscore", &policy.IdentityAssertionConfig{Header: "X_Identity"}, "", true},
		{"space", &policy.IdentityAssertionConfig{Header: "X Identity"}, "", true},
		{"colon", &policy.IdentityAssertionConfig{Header: "X-Identity:"}, "", true},
		{"an identity header", &policy.IdentityAssertionConfig{Header: "x-forwarded-user"}, "", true},
		{"the upstream credential header", &policy.IdentityAssertionConfig{Header: "X-Upstream-Authorization"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New(one(policy.ResourceConfig{URL: "https://a.example/mcp", IdentityAssertion: tt.ia}))
			if tt.wantErr {
				var fe *policy.FieldError
				if !errors.As(err, &fe) || fe.Field != "identity_assertion.header" {
					t.Fatalf("New(header %q) = %v, want a FieldError for identity_assertion.header", tt.ia.Header, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			got, ok := p.Resources()[0].AssertionHeader()
			if got != tt.want || ok != (tt.ia != nil) {
				t.Errorf("AssertionHeader() = %q, %v; want %q, %v", got, ok, tt.want, tt.ia != nil)
			}
		})
	}
}

func TestListsCredential(t *testing.T) {
	tests := []struct {
		name        string
		credentials []policy.Source
		session     bool
	}{
		{"empty list accepts session but does not list it", nil, false},
		{"session listed", []policy.Source{policy.SourceSession}, true},
		{"with others", []policy.Source{policy.SourceOAuth, policy.SourceSession}, true},
		{"others only", []policy.Source{policy.SourceOAuth, policy.SourceAPIKey}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, one(policy.ResourceConfig{URL: "https://a.example/mcp", Credentials: tt.credentials})).Resources()[0]
			if got := r.ListsCredential(policy.SourceSession); got != tt.session {
				t.Errorf("ListsCredential(session) = %v, want %v", got, tt.session)
			}
			if r.Accepts(policy.SourceSession) != (tt.credentials == nil || tt.session) {
				t.Errorf("Accepts(session) = %v with credentials %q", r.Accepts(policy.SourceSession), tt.credentials)
			}
		})
	}
}

// TestConfigCopiesAssertion: the compiled resource owns its identity_assertion.
func TestConfigCopiesAssertion(t *testing.T) {
	ia := &policy.IdentityAssertionConfig{Header: "X-Identity"}
	r := mustNew(t, one(policy.ResourceConfig{URL: "https://a.example/mcp", IdentityAssertion: ia})).Resources()[0]
	ia.Header = "X-Changed"
	r.Config().IdentityAssertion.Header = "X-Changed-Too"
	if got, _ := r.AssertionHeader(); got != "X-Identity" {
		t.Errorf("AssertionHeader() = %q after changing the config, want X-Identity", got)
	}
}
