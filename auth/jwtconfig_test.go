package auth

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestNewJWTVerifierConfig(t *testing.T) {
	good := func(mod func(*IssuerConfig)) []IssuerConfig {
		c := IssuerConfig{Issuer: "https://idp.example.com/realms/mcp", Audiences: []string{testAudience}}
		if mod != nil {
			mod(&c)
		}
		return []IssuerConfig{c}
	}
	tests := []struct {
		name    string
		config  JWTConfig
		wantErr string // "" for none; else a fragment the message must contain
	}{
		{"minimal", JWTConfig{Issuers: good(nil)}, ""},
		{"full", JWTConfig{Issuers: good(func(c *IssuerConfig) {
			c.JWKSURI = "https://idp.example.com/keys?v=2"
			c.Algorithms = []string{"RS256", "EdDSA"}
			c.Preset, c.ClientID = "keycloak", "mcp.client"
			c.UserClaim, c.EmailClaim, c.GroupsClaim = "preferred_username", "upn", "https://example.com/groups"
			c.ScopeClaims = []string{"scp", "roles", "permissions"}
			c.ClientIDClaim = "cid"
			c.ClockSkew, c.EmailsVerified, c.Optional = Duration(2*time.Minute), true, true
		}), RefetchCooldown: time.Minute, RefreshInterval: -1, CacheSize: -1, NegativeCacheTTL: -1}, ""},
		{"negative cache TTL", JWTConfig{Issuers: good(nil), NegativeCacheTTL: 5 * time.Second}, ""},
		{"trailing slash issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "https://tenant.auth0.com/" })}, ""},
		{"http loopback issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "http://127.0.0.1:5556/dex" })}, ""},
		{"http localhost issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "http://localhost:8080/realms/x" })}, ""},
		{"http ::1 issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "http://[::1]:8080" })}, ""},

		{"no issuers", JWTConfig{}, "no issuers configured"},
		{"empty issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "" })}, "issuers[0]: issuer: required"},
		{"http issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "http://idp.example.com" })}, `"http://idp.example.com": issuer: `},
		{"http lookalike of localhost", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "http://localhost.evil.com" })}, "not an https URL"},
		{"relative issuer", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "idp.example.com" })}, "not an absolute URL"},
		{"issuer with query", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "https://idp.example.com?x=1" })}, "query"},
		{"issuer with fragment", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "https://idp.example.com#x" })}, "fragment"},
		{"issuer with userinfo", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Issuer = "https://user:pw@idp.example.com" })}, "userinfo"},
		{"no audiences", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Audiences = nil })},
			`auth: jwt issuer "https://idp.example.com/realms/mcp": audiences: at least one is required`},
		{"empty audience", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Audiences = []string{""} })}, "audiences: "},
		{"audience with space", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Audiences = []string{"a b"} })}, "audiences: "},
		{"http jwks_uri", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.JWKSURI = "http://idp.example.com/keys" })}, "jwks_uri: "},
		{"HS256", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Algorithms = []string{"RS256", "HS256"} })}, `algorithms: "HS256" refused`},
		{"hs512 lower case", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Algorithms = []string{"hs512"} })}, `algorithms: "hs512" refused`},
		{"none", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Algorithms = []string{"none"} })}, `algorithms: "none" refused`},
		{"unknown alg", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Algorithms = []string{"rs256"} })}, `algorithms: "rs256" is not one of`},
		{"unknown preset", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.Preset = "okta" })}, "preset: "},
		{"client_id without preset", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.ClientID = "mcp" })}, "client_id: "},
		{"negative skew", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.ClockSkew = Duration(-time.Second) })}, "clock_skew: "},
		{"skew too large", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.ClockSkew = Duration(5 * time.Minute) })}, "clock_skew: "},
		{"bad user claim", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.UserClaim = "sub\n" })}, "user_claim: "},
		{"bad client id claim", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.ClientIDClaim = "azp\x00" })}, "client_id_claim: "},
		{"bad scope claim", JWTConfig{Issuers: good(func(c *IssuerConfig) { c.ScopeClaims = []string{"scope", ""} })}, "scope_claims[1]: "},
		{"duplicate issuer", JWTConfig{Issuers: append(good(nil), good(nil)...)}, "configured more than once"},
		{"negative cooldown", JWTConfig{Issuers: good(nil), RefetchCooldown: -time.Second}, "cooldown"},
	}
	// A cancelled context: the background fetches of the valid configurations stop at
	// once, without touching the network.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewJWTVerifier(ctx, tt.config)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("NewJWTVerifier() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NewJWTVerifier() = %v, want an error containing %q", err, tt.wantErr)
			case tt.wantErr != "" && v != nil:
				t.Errorf("NewJWTVerifier() returned a verifier with error %v", err)
			}
		})
	}
}

func TestParseIssuersEnv(t *testing.T) {
	const (
		kc  = "https://kc.example.com/realms/mcp"
		dex = "http://127.0.0.1:5556/dex"
	)
	tests := []struct {
		name    string
		in      string
		want    []IssuerConfig
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: "  ", want: nil},
		{name: "one", in: kc + "=" + testAudience, want: []IssuerConfig{{Issuer: kc, Audiences: []string{testAudience}}}},
		{name: "two issuers", in: kc + "=" + testAudience + "," + dex + "=mcp-cli",
			want: []IssuerConfig{{Issuer: kc, Audiences: []string{testAudience}}, {Issuer: dex, Audiences: []string{"mcp-cli"}}}},
		{name: "repeated issuer adds audiences", in: kc + "=a," + dex + "=d," + kc + "=b," + kc + "=a",
			want: []IssuerConfig{{Issuer: kc, Audiences: []string{"a", "b"}}, {Issuer: dex, Audiences: []string{"d"}}}},
		{name: "spaces", in: " " + kc + " = a , " + dex + "=d ",
			want: []IssuerConfig{{Issuer: kc, Audiences: []string{"a"}}, {Issuer: dex, Audiences: []string{"d"}}}},
		{name: "split on the last '='", in: "https://idp.example.com/t=1/v2.0=api://mcp",
			want: []IssuerConfig{{Issuer: "https://idp.example.com/t=1/v2.0", Audiences: []string{"api://mcp"}}}},

		{name: "missing '='", in: kc, wantErr: "want issuer=audience"},
		{name: "empty audience", in: kc + "=", wantErr: "empty audience"},
		{name: "empty issuer", in: "=" + testAudience, wantErr: "empty issuer"},
		{name: "stray comma", in: kc + "=a,", wantErr: "pair 2: empty"},
		{name: "bad URL", in: "kc.example.com=a", wantErr: "pair 1: issuer: "},
		{name: "http issuer", in: "http://kc.example.com=a", wantErr: "pair 1: issuer: "},
		{name: "audience with space", in: kc + "=a b", wantErr: "pair 1: audience: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIssuersEnv(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseIssuersEnv(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseIssuersEnv(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestIssuerAudiences(t *testing.T) {
	const (
		kc  = "https://kc.example.com/realms/mcp"
		dex = "http://127.0.0.1:5556/dex"
	)
	tests := []struct {
		name string
		in   []IssuerConfig
		want map[string][]string
	}{
		{"none", nil, map[string][]string{}},
		{"two issuers", []IssuerConfig{{Issuer: kc, Audiences: []string{"a", "b"}}, {Issuer: dex, Audiences: []string{"d"}}},
			map[string][]string{kc: {"a", "b"}, dex: {"d"}}},
		{"duplicates dropped", []IssuerConfig{{Issuer: kc, Audiences: []string{"a", "a"}}, {Issuer: kc, Audiences: []string{"b", "a"}}},
			map[string][]string{kc: {"a", "b"}}},
		{"an issuer without audiences is still listed", []IssuerConfig{{Issuer: kc}}, map[string][]string{kc: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IssuerAudiences(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("IssuerAudiences(%+v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	in := []IssuerConfig{{Issuer: kc, Audiences: []string{"a"}}}
	IssuerAudiences(in)[kc][0] = "changed"
	if in[0].Audiences[0] != "a" {
		t.Errorf("IssuerAudiences shares its slices with the configuration")
	}
}

func TestIssuerConfigPolicyFile(t *testing.T) {
	const doc = `
issuer: https://kc.example.com/realms/mcp
audiences: [https://mcp.example.com/mcp]
preset: keycloak
client_id: mcp-server
client_id_claim: cid
scope_claims: [scope, roles]
emails_verified: true
clock_skew: 1m30s
`
	var got IssuerConfig
	if err := yaml.UnmarshalStrict([]byte(doc), &got); err != nil {
		t.Fatalf("yaml.UnmarshalStrict() = %v", err)
	}
	want := IssuerConfig{
		Issuer: "https://kc.example.com/realms/mcp", Audiences: []string{testAudience},
		Preset: "keycloak", ClientID: "mcp-server", ClientIDClaim: "cid", ScopeClaims: []string{"scope", "roles"},
		EmailsVerified: true, ClockSkew: Duration(90 * time.Second),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("yaml.UnmarshalStrict() = %+v, want %+v", got, want)
	}
	out, err := json.Marshal(IssuerConfig{Issuer: "https://x", Audiences: []string{"a"}, ClockSkew: Duration(30 * time.Second)})
	if want := `{"issuer":"https://x","audiences":["a"],"clock_skew":"30s"}`; err != nil || string(out) != want {
		t.Errorf("json.Marshal() = %s, %v; want %s", out, err, want)
	}
	for _, bad := range []string{`{"clock_skew": 30}`, `{"clock_skew": "30"}`, `{"clock_skew": "soon"}`} {
		var c IssuerConfig
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("json.Unmarshal(%s) = nil, want an error", bad)
		}
	}
}
