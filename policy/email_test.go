package policy_test

import (
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/policy"
)

var parseEmailGood = []struct {
	in, local, domain string
}{
	{"alice@example.com", "alice", "example.com"},
	{"Alice@Example.COM", "Alice", "example.com"},
	{"first.last+tag@sub.example.co.uk", "first.last+tag", "sub.example.co.uk"},
	{"o'brien@example.com", "o'brien", "example.com"},
	{"x!#$%&'*+-/=?^_`{|}~y@example.com", "x!#$%&'*+-/=?^_`{|}~y", "example.com"},
	{"a@localhost", "a", "localhost"},
	{"a@xn--80ak6aa92e.com", "a", "xn--80ak6aa92e.com"},
	{"a@1.2.3.4", "a", "1.2.3.4"},
	{"a@a-b.example", "a", "a-b.example"},
	{strings.Repeat("l", 64) + "@example.com", strings.Repeat("l", 64), "example.com"},
}

var parseEmailBad = []struct {
	name, in string
}{
	{"empty", ""},
	{"no at", "alice.example.com"},
	{"two at", "a@evil.com@allowed.com"},
	{"two at adjacent", "a@@example.com"},
	{"empty local", "@example.com"},
	{"empty domain", "alice@"},
	{"only at", "@"},
	{"trailing dot", "A@Example.COM."},
	{"leading dot domain", "a@.example.com"},
	{"empty label", "a@example..com"},
	{"cyrillic look-alike", "a@exаmple.com"}, // U+0430 CYRILLIC SMALL LETTER A
	{"non-ascii local", "jösé@example.com"},
	{"fullwidth at", "a＠example.com"},
	{"space in local", "a b@example.com"},
	{"leading space", " a@example.com"},
	{"trailing space", "a@example.com "},
	{"tab", "a\t@example.com"},
	{"newline", "a@example.com\n"},
	{"crlf header injection", "a@example.com\r\nX-Forwarded-User: admin"},
	{"nul", "a\x00@example.com"},
	{"del", "a\x7f@example.com"},
	{"comma list", "a@example.com,b@example.com"},
	{"display name", "Alice <alice@example.com>"},
	{"quoted local", `"a b"@example.com`},
	{"quoted at", `"a@b"@example.com`},
	{"address literal", "a@[127.0.0.1]"},
	{"underscore domain", "a@ex_ample.com"},
	{"port", "a@example.com:443"},
	{"path", "a@example.com/x"},
	{"label starts with hyphen", "a@-example.com"},
	{"label ends with hyphen", "a@example-.com"},
	{"label too long", "a@" + strings.Repeat("x", 64) + ".com"},
	{"domain too long", "a@" + strings.Repeat("abcdefghi.", 26) + "com"},
	{"local too long", strings.Repeat("l", 65) + "@example.com"},
	{"local leading dot", ".a@example.com"},
	{"local trailing dot", "a.@example.com"},
	{"local double dot", "a..b@example.com"},
	{"local specials", "a(comment)@example.com"},
	{"semicolon", "a;b@example.com"},
	{"backslash", `a\@example.com`},
}

func TestParseEmail(t *testing.T) {
	for _, tt := range parseEmailGood {
		t.Run(tt.in, func(t *testing.T) {
			local, domain, err := policy.ParseEmail(tt.in)
			if err != nil || local != tt.local || domain != tt.domain {
				t.Errorf("ParseEmail(%q) = %q, %q, %v, want %q, %q, nil", tt.in, local, domain, err, tt.local, tt.domain)
			}
		})
	}
	for _, tt := range parseEmailBad {
		t.Run(tt.name, func(t *testing.T) {
			local, domain, err := policy.ParseEmail(tt.in)
			if err == nil {
				t.Fatalf("ParseEmail(%q) = %q, %q, nil, want an error", tt.in, local, domain)
			}
			if local != "" || domain != "" {
				t.Errorf("ParseEmail(%q) = %q, %q, %v, want empty parts with the error", tt.in, local, domain, err)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") || !strings.Contains(err.Error(), "is not an email address") {
				t.Errorf("ParseEmail(%q) error = %q, want %q", tt.in, err, "policy: ... is not an email address: ...")
			}
		})
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, tt := range parseEmailGood {
		f.Add(tt.in)
	}
	for _, tt := range parseEmailBad {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		local, domain, err := policy.ParseEmail(in)
		if err != nil {
			if local != "" || domain != "" {
				t.Fatalf("ParseEmail(%q) = %q, %q, %v, want empty parts with the error", in, local, domain, err)
			}
			return
		}
		if n := strings.Count(in, "@"); n != 1 {
			t.Fatalf("ParseEmail(%q) accepted %d '@', want exactly 1", in, n)
		}
		if domain != strings.ToLower(domain) {
			t.Fatalf("ParseEmail(%q) domain = %q, want lower case", in, domain)
		}
		at := strings.IndexByte(in, '@')
		if local != in[:at] || domain != strings.ToLower(in[at+1:]) {
			t.Fatalf("ParseEmail(%q) = %q, %q, want %q, %q", in, local, domain, in[:at], strings.ToLower(in[at+1:]))
		}
		if !strings.EqualFold(local+"@"+domain, in) {
			t.Fatalf("ParseEmail(%q): %q + \"@\" + %q does not equal the input up to case", in, local, domain)
		}
		for i := 0; i < len(in); i++ {
			if c := in[i]; c <= ' ' || c >= 0x7f || c == ',' {
				t.Fatalf("ParseEmail(%q) accepted byte %#x at %d", in, c, i)
			}
		}
		if strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
			t.Fatalf("ParseEmail(%q) domain = %q, want no empty label", in, domain)
		}
		if l2, d2, err := policy.ParseEmail(local + "@" + domain); err != nil || l2 != local || d2 != domain {
			t.Fatalf("ParseEmail(%q) = %q, %q, %v, want the same parts again", local+"@"+domain, l2, d2, err)
		}
	})
}
