package forwarded

import (
	"errors"
	"path"
	"strings"
	"testing"
)

var normalizeTests = []struct {
	name    string
	raw     string
	want    string
	wantErr bool
}{
	{name: "plain", raw: "/mcp", want: "/mcp"},
	{name: "root", raw: "/", want: "/"},
	{name: "query cut", raw: "/mcp?x=1", want: "/mcp"},
	// GHSA-7rh7-c77v-6434: a query carrying a path is never matched.
	{name: "query carrying a path", raw: "/mcp?path=/public", want: "/mcp"},
	{name: "fragment cut", raw: "/mcp#/public", want: "/mcp"},
	{name: "trailing slash", raw: "/mcp/", want: "/mcp"},
	// heimdall GHSA-3q34-rx83-r6mq: dot segments resolve before matching.
	{name: "dot dot", raw: "/public/../mcp", want: "/mcp"},
	{name: "encoded dot dot", raw: "/public/%2e%2e/mcp", want: "/mcp"},
	{name: "upper encoded dot dot", raw: "/public/%2E%2E/mcp", want: "/mcp"},
	{name: "dot", raw: "/./mcp/./x", want: "/mcp/x"},
	{name: "double slash", raw: "//mcp", want: "/mcp"},
	{name: "many slashes", raw: "/mcp///x", want: "/mcp/x"},
	{name: "dot dot above root", raw: "/../../mcp", want: "/mcp"},
	{name: "encoded letters", raw: "/%6dcp", want: "/mcp"},
	{name: "utf-8 escape", raw: "/caf%C3%A9", want: "/caf\xc3\xa9"},
	// Servlet-style upstreams ignore ;params, so /public;x/../mcp is /mcp there.
	{name: "params", raw: "/mcp;jsessionid=1", want: "/mcp"},
	{name: "params hide dot dot", raw: "/public/..;/mcp", want: "/mcp"},
	{name: "params in middle", raw: "/public;a=/../mcp", want: "/mcp"},
	// GHSA-pxq7-h93f-9jrg: %23 must not be read as a fragment boundary by one side only.
	{name: "encoded hash", raw: "/mcp%23x", wantErr: true},
	{name: "encoded slash", raw: "/public%2F..%2Fmcp", wantErr: true},
	{name: "encoded slash lower", raw: "/mcp%2fx", wantErr: true},
	{name: "encoded backslash", raw: "/public%5C..%5Cmcp", wantErr: true},
	{name: "encoded question", raw: "/public%3F/../mcp", wantErr: true},
	{name: "double encoding", raw: "/public/%252e%252e/mcp", wantErr: true},
	{name: "encoded nul", raw: "/mcp%00", wantErr: true},
	{name: "encoded newline", raw: "/mcp%0a", wantErr: true},
	{name: "bad escape", raw: "/mcp%zz", wantErr: true},
	{name: "truncated escape", raw: "/mcp%2", wantErr: true},
	{name: "raw backslash", raw: `/public\..\mcp`, wantErr: true},
	{name: "raw space", raw: "/m cp", wantErr: true},
	{name: "raw tab", raw: "/\t/mcp", wantErr: true},
	{name: "raw control", raw: "/mcp\x01", wantErr: true},
	{name: "raw non-ascii", raw: "/caf\xc3\xa9", wantErr: true},
	{name: "empty", raw: "", wantErr: true},
	{name: "relative", raw: "mcp", wantErr: true},
	{name: "absolute URL", raw: "http://evil.example/mcp", wantErr: true},
	{name: "only query", raw: "?x=/mcp", wantErr: true},
	{name: "too long", raw: "/" + strings.Repeat("a", maxURILength), wantErr: true},
}

func TestNormalizePath(t *testing.T) {
	for _, tt := range normalizeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePath(tt.raw)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrMalformed) {
					t.Fatalf("NormalizePath(%q) = %q, %v, want an ErrMalformed error", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, %v, want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, tt := range normalizeTests {
		f.Add(tt.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizePath(raw)
		if err != nil {
			return
		}
		if got == "" || got[0] != '/' || path.Clean(got) != got {
			t.Fatalf("NormalizePath(%q) = %q, not a clean absolute path", raw, got)
		}
		if strings.ContainsAny(got, "?#%\\;") {
			t.Fatalf("NormalizePath(%q) = %q, holds a separator the upstream may read differently", raw, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("NormalizePath(%q) = %q, holds a control byte", raw, got)
			}
		}
		if strings.IndexFunc(got, func(r rune) bool { return r >= 0x80 }) >= 0 {
			return // decoded UTF-8: as raw bytes it would be refused, by design
		}
		again, err := NormalizePath(got)
		if err != nil || again != got {
			t.Fatalf("NormalizePath(NormalizePath(%q)) = %q, %v, want the same %q", raw, again, err, got)
		}
	})
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		name, in, scheme, want string
		wantErr                bool
	}{
		{name: "lower", in: "MCP.Example.COM", scheme: "https", want: "mcp.example.com"},
		{name: "trailing dot", in: "mcp.example.com.", scheme: "https", want: "mcp.example.com"},
		{name: "default https port", in: "mcp.example.com:443", scheme: "https", want: "mcp.example.com"},
		{name: "default http port", in: "mcp.example.com:80", scheme: "http", want: "mcp.example.com"},
		{name: "other port kept", in: "mcp.example.com:8443", scheme: "https", want: "mcp.example.com:8443"},
		{name: "80 on https kept", in: "mcp.example.com:80", scheme: "https", want: "mcp.example.com:80"},
		{name: "ipv4", in: "127.0.0.1:8080", scheme: "http", want: "127.0.0.1:8080"},
		{name: "ipv6", in: "[::1]:8080", scheme: "http", want: "[::1]:8080"},
		{name: "ipv6 long form", in: "[0:0::1]", scheme: "http", want: "[::1]"},
		{name: "empty", in: "", wantErr: true},
		{name: "space", in: "mcp example.com", wantErr: true},
		{name: "userinfo", in: "user@mcp.example.com", wantErr: true},
		{name: "slash", in: "mcp.example.com/x", wantErr: true},
		{name: "empty label", in: "mcp..example.com", wantErr: true},
		{name: "bad port", in: "mcp.example.com:x", wantErr: true},
		{name: "empty port", in: "mcp.example.com:", wantErr: true},
		{name: "unicode", in: "mсp.example.com", wantErr: true},
		{name: "bad ipv6", in: "[::g]", wantErr: true},
		{name: "ipv6 zone", in: "[fe80::1%25eth0]", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalHost(tt.in, tt.scheme)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("CanonicalHost(%q, %q) = %q, %v, want %q (error %v)", tt.in, tt.scheme, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// originalTests are requests as each proxy dialect sends them to /auth.
func BenchmarkNormalizePath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NormalizePath("/servers/abc/mcp")
		NormalizePath("/public/%2e%2e/mcp;x")
	}
}
