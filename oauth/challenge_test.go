package oauth

import "testing"

func TestChallengeString(t *testing.T) {
	const md = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	tests := []struct {
		name string
		c    Challenge
		want string
	}{
		{"discovery", Challenge{ResourceMetadata: md, Scope: []string{"mcp:read"}},
			`Bearer resource_metadata="` + md + `", scope="mcp:read"`},
		{"no scope", Challenge{ResourceMetadata: md}, `Bearer resource_metadata="` + md + `"`},
		{"invalid token", Challenge{ResourceMetadata: md, Error: ErrorInvalidToken, Description: "token expired"},
			`Bearer resource_metadata="` + md + `", error="invalid_token", error_description="token expired"`},
		{"insufficient scope lists every scope", Challenge{ResourceMetadata: md, Error: ErrorInsufficientScope, Scope: []string{"mcp:read", "mcp:write"}},
			`Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="` + md + `"`},
		// RFC 6750 §3: quotes, backslashes and control characters cannot appear in a value.
		{"hostile description", Challenge{ResourceMetadata: md, Error: ErrorInvalidToken, Description: "a\"b\\c\r\nd\x00é"},
			`Bearer resource_metadata="` + md + `", error="invalid_token", error_description="abcd"`},
		{"description without error: where the credential goes", Challenge{ResourceMetadata: md, Description: "send the key in X-API-Key"},
			`Bearer resource_metadata="` + md + `", error_description="send the key in X-API-Key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Fatalf("Challenge.String() = %s, want %s", got, tt.want)
			}
		})
	}
}

func FuzzChallengeString(f *testing.F) {
	f.Add("https://x/.well-known/oauth-protected-resource", "mcp:read", "invalid_token", "bad")
	f.Fuzz(func(t *testing.T, md, scope, code, desc string) {
		s := Challenge{ResourceMetadata: md, Scope: []string{scope}, Error: code, Description: desc}.String()
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				t.Fatalf("Challenge.String() = %q holds byte %#x, not allowed in a header", s, s[i])
			}
		}
	})
}
