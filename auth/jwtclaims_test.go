package auth

import (
	"reflect"
	"testing"

	"github.com/mcpguard/mcpguard/auth/authtest"
)

func TestClaimMapping(t *testing.T) {
	iss := authtest.NewIssuer(t)
	base := func(extra map[string]any) Principal {
		p := Principal{Subject: "alice", Source: SourceJWT, Issuer: iss.URL(), Audiences: []string{testAudience}}
		for k, v := range extra {
			switch k {
			case "Subject":
				p.Subject = v.(string)
			case "Email":
				p.Email = v.(string)
			case "EmailVerified":
				p.EmailVerified = v.(bool)
			case "Name":
				p.Name = v.(string)
			case "Groups":
				p.Groups = v.([]string)
			case "Scopes":
				p.Scopes = v.([]string)
			case "ClientID":
				p.ClientID = v.(string)
			case "Audiences":
				p.Audiences = v.([]string)
			default:
				t.Fatalf("unknown field %s", k)
			}
		}
		return p
	}
	tests := []struct {
		name   string
		config func(*IssuerConfig)
		claims map[string]any
		want   Principal
	}{
		{name: "minimal", claims: nil, want: base(nil)},
		{name: "scope string, deduplicated in order", claims: map[string]any{"scope": "mcp:read  mcp:write mcp:read"},
			want: base(map[string]any{"Scopes": []string{"mcp:read", "mcp:write"}})},
		{name: "scp array", claims: map[string]any{"scp": []string{"files.read", "mcp:read"}},
			want: base(map[string]any{"Scopes": []string{"files.read", "mcp:read"}})},
		{name: "scope then scp", claims: map[string]any{"scope": "a b", "scp": []string{"b", "c"}},
			want: base(map[string]any{"Scopes": []string{"a", "b", "c"}})},
		{name: "invalid scope values ignored", claims: map[string]any{"scp": []any{"ok", `bad"quote`, 7, map[string]any{"x": 1}, "caf\u00e9"}},
			want: base(map[string]any{"Scopes": []string{"ok"}})},
		{name: "roles via scope_claims (Entra ID)", config: func(c *IssuerConfig) { c.ScopeClaims = []string{"scp", "roles"} },
			claims: map[string]any{"scp": "mcp:read", "roles": []string{"Tools.Admin"}, "scope": "ignored"},
			want:   base(map[string]any{"Scopes": []string{"mcp:read", "Tools.Admin"}})},
		{name: "permissions via scope_claims (Auth0)", config: func(c *IssuerConfig) { c.ScopeClaims = []string{"permissions"} },
			claims: map[string]any{"permissions": []string{"read:tools", "write:tools"}},
			want:   base(map[string]any{"Scopes": []string{"read:tools", "write:tools"}})},
		{name: "groups list, deduplicated, commas and control characters dropped",
			claims: map[string]any{"groups": []any{"staff", "a,b", "staff", "bad\x00", "Domain Admins", 3}},
			want:   base(map[string]any{"Groups": []string{"staff", "Domain Admins"}})},
		{name: "groups single string", claims: map[string]any{"groups": "staff"},
			want: base(map[string]any{"Groups": []string{"staff"}})},
		{name: "namespaced groups claim (Auth0)", config: func(c *IssuerConfig) { c.GroupsClaim = "https://example.com/groups" },
			claims: map[string]any{"https://example.com/groups": []string{"admins"}},
			want:   base(map[string]any{"Groups": []string{"admins"}})},
		{name: "nested groups claim", config: func(c *IssuerConfig) { c.GroupsClaim = "org.teams" },
			claims: map[string]any{"org": map[string]any{"teams": []string{"blue"}}},
			want:   base(map[string]any{"Groups": []string{"blue"}})},
		{name: "keycloak preset", config: func(c *IssuerConfig) { c.Preset, c.ClientID = "keycloak", "mcp.server" },
			claims: map[string]any{
				"scope":           "openid email",
				"realm_access":    map[string]any{"roles": []string{"offline_access", "mcp-users"}},
				"resource_access": map[string]any{"mcp.server": map[string]any{"roles": []string{"tools:call"}}, "account": map[string]any{"roles": []string{"manage-account"}}},
				"groups":          []string{"not-read"},
				"azp":             "mcp-inspector",
			},
			want: base(map[string]any{"Groups": []string{"offline_access", "mcp-users"}, "Scopes": []string{"openid", "email", "tools:call"}, "ClientID": "mcp-inspector"})},
		{name: "keycloak preset without client_id", config: func(c *IssuerConfig) { c.Preset = "keycloak" },
			claims: map[string]any{"realm_access": map[string]any{"roles": []string{"mcp-users"}},
				"resource_access": map[string]any{"mcp": map[string]any{"roles": []string{"x"}}}},
			want: base(map[string]any{"Groups": []string{"mcp-users"}})},
		{name: "email_verified true", claims: map[string]any{"email": "a@example.com", "email_verified": true},
			want: base(map[string]any{"Email": "a@example.com", "EmailVerified": true})},
		{name: "email_verified false", claims: map[string]any{"email": "a@example.com", "email_verified": false},
			want: base(map[string]any{"Email": "a@example.com"})},
		{name: "email_verified absent", claims: map[string]any{"email": "a@example.com"},
			want: base(map[string]any{"Email": "a@example.com"})},
		{name: "email_verified as the string true (Cognito)", claims: map[string]any{"email": "a@example.com", "email_verified": "true"},
			want: base(map[string]any{"Email": "a@example.com", "EmailVerified": true})},
		{name: "emails_verified issuer, claim true", config: func(c *IssuerConfig) { c.EmailsVerified = true },
			claims: map[string]any{"email": "a@example.com", "email_verified": true},
			want:   base(map[string]any{"Email": "a@example.com", "EmailVerified": true})},
		{name: "emails_verified issuer, claim false", config: func(c *IssuerConfig) { c.EmailsVerified = true },
			claims: map[string]any{"email": "a@example.com", "email_verified": false},
			want:   base(map[string]any{"Email": "a@example.com"})},
		{name: "emails_verified issuer, claim absent", config: func(c *IssuerConfig) { c.EmailsVerified = true },
			claims: map[string]any{"email": "a@example.com"},
			want:   base(map[string]any{"Email": "a@example.com", "EmailVerified": true})},
		{name: "email claim not a string", claims: map[string]any{"email": []string{"a@example.com"}, "email_verified": true},
			want: base(nil)},
		{name: "custom email claim", config: func(c *IssuerConfig) { c.EmailClaim, c.EmailsVerified = "upn", true },
			claims: map[string]any{"upn": "a@corp.example.com", "email": "other@example.com"},
			want:   base(map[string]any{"Email": "a@corp.example.com", "EmailVerified": true})},
		{name: "azp", claims: map[string]any{"azp": "claude"}, want: base(map[string]any{"ClientID": "claude"})},
		{name: "client_id", claims: map[string]any{"client_id": "ci-bot"}, want: base(map[string]any{"ClientID": "ci-bot"})},
		{name: "azp wins over client_id", claims: map[string]any{"azp": "claude", "client_id": "ci-bot"},
			want: base(map[string]any{"ClientID": "claude"})},
		{name: "user claim", config: func(c *IssuerConfig) { c.UserClaim = "oid" },
			claims: map[string]any{"oid": "00000000-0000-0000-66f3-3332eca7ea81", "sub": "pairwise"},
			want:   base(map[string]any{"Subject": "00000000-0000-0000-66f3-3332eca7ea81"})},
		{name: "name", claims: map[string]any{"name": "Alice Liddell"}, want: base(map[string]any{"Name": "Alice Liddell"})},
		{name: "every audience reported", config: func(c *IssuerConfig) { c.Audiences = []string{"api://mcp", testAudience} },
			claims: map[string]any{"aud": []string{"account", testAudience}},
			want:   base(map[string]any{"Audiences": []string{"account", testAudience}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := issuerConfig(iss)
			if tt.config != nil {
				tt.config(&ic)
			}
			v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{ic}})
			got, err := v.Verify(t.Context(), iss.Token(t, claims(tt.claims)))
			if err != nil || !reflect.DeepEqual(unprepared(got), tt.want) {
				t.Errorf("Verify() = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestClientID(t *testing.T) {
	iss := authtest.NewIssuer(t)
	tests := []struct {
		name   string
		claim  string // IssuerConfig.ClientIDClaim
		claims map[string]any
		want   string
	}{
		{name: "azp", claims: map[string]any{"azp": "claude"}, want: "claude"},
		{name: "client_id (RFC 9068)", claims: map[string]any{"client_id": "ci-bot"}, want: "ci-bot"},
		{name: "cid (Okta)", claims: map[string]any{"cid": "0oa1b2c3d4"}, want: "0oa1b2c3d4"},
		{name: "appid (Entra ID v1)", claims: map[string]any{"appid": "7d5c1a5e-0000-4000-8000-000000000001"}, want: "7d5c1a5e-0000-4000-8000-000000000001"},
		{name: "azp first", claims: map[string]any{"azp": "claude", "client_id": "ci-bot", "cid": "okta", "appid": "entra"}, want: "claude"},
		{name: "client_id before cid", claims: map[string]any{"client_id": "ci-bot", "cid": "okta", "appid": "entra"}, want: "ci-bot"},
		{name: "cid before appid", claims: map[string]any{"cid": "okta", "appid": "entra"}, want: "okta"},
		{name: "azp not printable: the next claim", claims: map[string]any{"azp": "claude\r\nX-Auth-Client-Id: admin", "cid": "okta"}, want: "okta"},
		{name: "azp not a string: the next claim", claims: map[string]any{"azp": []string{"claude"}, "appid": "entra"}, want: "entra"},
		{name: "none", claims: nil, want: ""},
		// aud names the resource in an access token: it never stands in for the client.
		{name: "aud is not a client id", claims: map[string]any{"aud": []string{testAudience, "mcp-client"}}, want: ""},
		{name: "client_id_claim replaces the list", claim: "appid", claims: map[string]any{"azp": "claude", "appid": "entra"}, want: "entra"},
		{name: "client_id_claim absent: no fallback", claim: "appid", claims: map[string]any{"azp": "claude", "client_id": "ci-bot"}, want: ""},
		{name: "client_id_claim namespaced", claim: "https://example.com/client", claims: map[string]any{"https://example.com/client": "svc"}, want: "svc"},
		{name: "client_id_claim nested", claim: "ext.client", claims: map[string]any{"ext": map[string]any{"client": "svc"}}, want: "svc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := issuerConfig(iss)
			ic.ClientIDClaim = tt.claim
			v := newTestVerifier(t, JWTConfig{Issuers: []IssuerConfig{ic}})
			p, err := v.Verify(t.Context(), iss.Token(t, claims(tt.claims)))
			if err != nil || p.ClientID != tt.want {
				t.Errorf("Verify().ClientID = %q, %v; want %q, nil", p.ClientID, err, tt.want)
			}
		})
	}
}
