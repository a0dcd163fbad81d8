package doctor

import (
	"reflect"
	"strings"
	"testing"
)

// challengeCases are parseChallenges' table, and the fuzz seeds.
var challengeCases = []struct {
	in      string
	want    []authChallenge // nil: an error
	comment string
}{
	{`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "scope": "mcp:read"}}}, "mcpguard's"},
	{`Bearer realm=example,error="invalid_token"`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"realm": "example", "error": "invalid_token"}}}, "token value, no space after the comma"},
	{`Basic realm="a, b", Bearer resource_metadata="https://x/y"`,
		[]authChallenge{{scheme: "Basic", params: map[string]string{"realm": "a, b"}}, {scheme: "Bearer", params: map[string]string{"resource_metadata": "https://x/y"}}}, "two challenges"},
	{`Negotiate abc+/==, Bearer`,
		[]authChallenge{{scheme: "Negotiate", token68: "abc+/==", params: map[string]string{}}, {scheme: "Bearer", params: map[string]string{}}}, "token68 and a bare scheme"},
	{`Bearer error_description="say \"hi\""`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"error_description": `say "hi"`}}}, "quoted-pair"},
	{`Bearer  ,, Scope = "a b" ,`,
		[]authChallenge{{scheme: "Bearer", params: map[string]string{"scope": "a b"}}}, "empty list elements, BWS, name case"},
	{`Bearer resource_metadata="https://x`, nil, "unterminated quoted string"},
	{`Bearer scope="a", scope="b"`, nil, "repeated parameter"},
	{`Bearer scope="a" error="b"`, nil, "missing comma"},
	{`Bearer resource_metadata=https://x/y`, nil, "URL not quoted"},
	{`="x"`, nil, "no scheme"},
	{``, nil, "empty"},
	{"Bearer scope=\"a\x01\"", nil, "control character"},
}

func TestParseChallenges(t *testing.T) {
	for _, tt := range challengeCases {
		got, err := parseChallenges([]string{tt.in})
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseChallenges(%q) = %+v, want an error (%s)", tt.in, got, tt.comment)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q) = %+v, %v, want %+v (%s)", tt.in, got, err, tt.want, tt.comment)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, tt := range challengeCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseChallenges([]string{in})
		if err != nil {
			return
		}
		for _, c := range got {
			if c.scheme == "" || strings.IndexFunc(c.scheme, func(r rune) bool { return r > 0x7e || !isTchar(byte(r)) }) >= 0 {
				t.Errorf("parseChallenges(%q): scheme %q is not a token", in, c.scheme)
			}
			for k := range c.params {
				if k != strings.ToLower(k) || k == "" {
					t.Errorf("parseChallenges(%q): parameter name %q", in, k)
				}
			}
		}
	})
}
