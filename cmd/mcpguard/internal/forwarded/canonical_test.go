package forwarded

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

// The outcomes of judging a path.
const (
	judged    = iota // allowed to be judged, as want
	malformed        // ErrMalformed
	ambiguous        // ErrAmbiguousPath
)

var judgeTests = []struct {
	name   string
	raw    string
	want   string
	params bool
	err    int
}{
	{name: "plain", raw: "/mcp", want: "/mcp"},
	{name: "root", raw: "/", want: "/"},
	{name: "query cut", raw: "/mcp?x=1", want: "/mcp"},
	// GHSA-7rh7-c77v-6434: a query carrying a path is never matched.
	{name: "query carrying a path", raw: "/mcp?path=/public", want: "/mcp"},
	{name: "query carrying dots", raw: "/mcp?/../public", want: "/mcp"},
	{name: "fragment cut", raw: "/mcp#/public", want: "/mcp"},
	{name: "trailing slash kept", raw: "/mcp/", want: "/mcp/"},
	{name: "encoded letters", raw: "/%6dcp", want: "/mcp"},
	{name: "utf-8 escape", raw: "/caf%C3%A9", want: "/caf\xc3\xa9"},
	{name: "dots inside a name", raw: "/v1.2/a..b/.well-known", want: "/v1.2/a..b/.well-known"},
	// ;params: refused by the resource unless it accepts them; judged with them cut.
	{name: "params", raw: "/mcp;jsessionid=1", want: "/mcp", params: true},
	{name: "params in middle", raw: "/a;x=1/mcp", want: "/a/mcp", params: true},
	// heimdall GHSA-3q34-rx83-r6mq and the attack run: never resolved, refused.
	{name: "dot dot", raw: "/mcp/../status", err: ambiguous},
	{name: "dot dot at the end", raw: "/mcp/..", err: ambiguous},
	{name: "dot", raw: "/./mcp", err: ambiguous},
	{name: "dot at the end", raw: "/mcp/.", err: ambiguous},
	{name: "encoded dot dot", raw: "/mcp/%2e%2e/status", err: ambiguous},
	{name: "upper encoded dot dot", raw: "/mcp/%2E%2E/status", err: ambiguous},
	{name: "half encoded dot dot", raw: "/mcp/.%2e/status", err: ambiguous},
	{name: "encoded dot in a name", raw: "/mcp%2ejson", err: ambiguous},
	{name: "params hide dot dot", raw: "/mcp/..;/status", err: ambiguous},
	{name: "params hide encoded dot dot", raw: "/mcp/%2e%2e;x/status", err: ambiguous},
	{name: "params hide an escape", raw: "/mcp;%2e%2e/x", err: ambiguous},
	{name: "only params", raw: "/;x/mcp", err: ambiguous},
	{name: "double slash", raw: "//mcp", err: ambiguous},
	{name: "many slashes", raw: "/mcp///x", err: ambiguous},
	{name: "four slashes", raw: "////status", err: ambiguous},
	// GHSA-pxq7-h93f-9jrg: %23 must not be read as a fragment boundary by one side only.
	{name: "encoded hash", raw: "/mcp%23x", err: ambiguous},
	{name: "encoded slash", raw: "/status%2F..%2Fmcp", err: ambiguous},
	{name: "encoded slash lower", raw: "/mcp%2fx", err: ambiguous},
	{name: "encoded backslash", raw: "/status%5C..%5Cmcp", err: ambiguous},
	{name: "encoded question", raw: "/status%3F/../mcp", err: ambiguous},
	{name: "double encoding", raw: "/status/%252e%252e/mcp", err: ambiguous},
	{name: "encoded nul", raw: "/mcp%00", err: ambiguous},
	{name: "encoded newline", raw: "/mcp%0a", err: ambiguous},
	{name: "raw backslash", raw: `/status\..\mcp`, err: ambiguous},
	{name: "bad escape", raw: "/mcp%zz", err: malformed},
	{name: "truncated escape", raw: "/mcp%2", err: malformed},
	{name: "raw space", raw: "/m cp", err: malformed},
	{name: "raw tab", raw: "/\t/mcp", err: malformed},
	{name: "raw control", raw: "/mcp\x01", err: malformed},
	{name: "raw non-ascii", raw: "/caf\xc3\xa9", err: malformed},
	{name: "empty", raw: "", err: malformed},
	{name: "relative", raw: "mcp", err: malformed},
	{name: "absolute URL", raw: "http://evil.example/mcp", err: malformed},
	{name: "only query", raw: "?x=/mcp", err: malformed},
	{name: "too long", raw: "/" + strings.Repeat("a", maxURILength), err: malformed},
}

func TestJudgePath(t *testing.T) {
	for _, tt := range judgeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JudgePath(tt.raw)
			switch tt.err {
			case malformed:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("JudgePath(%q) = %+v, %v, want an ErrMalformed error", tt.raw, got, err)
				}
			case ambiguous:
				if !errors.Is(err, ErrAmbiguousPath) {
					t.Fatalf("JudgePath(%q) = %+v, %v, want an ErrAmbiguousPath error", tt.raw, got, err)
				}
			default:
				if err != nil || got.Path != tt.want || got.Params != tt.params {
					t.Fatalf("JudgePath(%q) = %+v, %v, want %q params %v", tt.raw, got, err, tt.want, tt.params)
				}
			}
		})
	}
}

// routerClean is how path-cleaning routers (Go's ServeMux, and every resolver of RFC
// 3986 §5.2.4) read a path: dot segments and empty segments resolved, a trailing slash
// kept.
func routerClean(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// FuzzJudgePath: no path is allowed whose raw form an upstream router could route
// differently from the judged form. Without ;params, the raw path (query cut) is what
// cleaning routers serve unchanged, decoding it once gives the judged form, and the
// decoding adds no separator; with ;params, every segment is judged by its name.
func FuzzJudgePath(f *testing.F) {
	for _, tt := range judgeTests {
		f.Add(tt.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := JudgePath(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("JudgePath(%q) error %v wraps neither ErrMalformed nor ErrAmbiguousPath", raw, err)
			}
			return
		}
		rawPath := raw
		if i := strings.IndexAny(rawPath, "?#"); i >= 0 {
			rawPath = rawPath[:i]
		}
		if routerClean(rawPath) != rawPath {
			t.Fatalf("JudgePath(%q) allowed a path that routers resolve to %q", raw, routerClean(rawPath))
		}
		if strings.ContainsAny(rawPath, "\\") {
			t.Fatalf("JudgePath(%q) allowed a backslash", raw)
		}
		rawSegs, gotSegs := strings.Split(rawPath, "/"), strings.Split(got.Path, "/")
		if len(rawSegs) != len(gotSegs) {
			t.Fatalf("JudgePath(%q) = %q: %d segments judged, %d routed", raw, got.Path, len(gotSegs), len(rawSegs))
		}
		for i, seg := range rawSegs {
			name, _, cut := strings.Cut(seg, ";")
			if cut != got.Params && cut {
				t.Fatalf("JudgePath(%q) = %+v: a ;param not reported", raw, got)
			}
			dec, err := url.PathUnescape(name)
			if err != nil || dec != gotSegs[i] {
				t.Fatalf("JudgePath(%q) = %q: segment %d is %q, routed as %q", raw, got.Path, i, gotSegs[i], dec)
			}
			if strings.ContainsAny(dec, "/\\?#%") || dec == "." || dec == ".." || (dec == "" && i != 0 && i != len(rawSegs)-1) {
				t.Fatalf("JudgePath(%q) = %q: segment %d decodes to %q", raw, got.Path, i, dec)
			}
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

func BenchmarkJudgePath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		JudgePath("/servers/abc/mcp")
		JudgePath("/public/%2e%2e/mcp;x")
	}
}
