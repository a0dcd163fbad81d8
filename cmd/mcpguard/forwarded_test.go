package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
			got, err := normalizePath(tt.raw)
			if tt.wantErr {
				if err == nil || !errors.Is(err, errMalformed) {
					t.Fatalf("normalizePath(%q) = %q, %v, want an errMalformed error", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("normalizePath(%q) = %q, %v, want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, tt := range normalizeTests {
		f.Add(tt.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := normalizePath(raw)
		if err != nil {
			return
		}
		if got == "" || got[0] != '/' || path.Clean(got) != got {
			t.Fatalf("normalizePath(%q) = %q, not a clean absolute path", raw, got)
		}
		if strings.ContainsAny(got, "?#%\\;") {
			t.Fatalf("normalizePath(%q) = %q, holds a separator the upstream may read differently", raw, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("normalizePath(%q) = %q, holds a control byte", raw, got)
			}
		}
		if strings.IndexFunc(got, func(r rune) bool { return r >= 0x80 }) >= 0 {
			return // decoded UTF-8: as raw bytes it would be refused, by design
		}
		again, err := normalizePath(got)
		if err != nil || again != got {
			t.Fatalf("normalizePath(normalizePath(%q)) = %q, %v, want the same %q", raw, again, err, got)
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
			got, err := canonicalHost(tt.in, tt.scheme)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("canonicalHost(%q, %q) = %q, %v, want %q (error %v)", tt.in, tt.scheme, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// originalTests are requests as each proxy dialect sends them to /auth.
var originalTests = []struct {
	name    string
	header  map[string][]string
	host    string // Host of the subrequest
	method  string // method of the subrequest
	envoy   string // path after /auth for the Envoy form
	want    original
	wantErr bool
}{
	{
		name: "traefik",
		header: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host": {"MCP.example.com"}, "X-Forwarded-Uri": {"/mcp?session=1"}, "X-Forwarded-For": {"203.0.113.9"}},
		want: original{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name: "nginx original uri",
		header: map[string][]string{"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/mcp/x"},
			"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"mcp.example.com"}},
		want: original{Method: "DELETE", Scheme: "http", Host: "mcp.example.com", Path: "/mcp/x"},
	},
	{
		name:   "nginx original url",
		header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"https://mcp.example.com:443/public/../mcp?q"}},
		want:   original{Method: "GET", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name: "nginx recipe sends both dialects, agreeing",
		header: map[string][]string{"X-Original-Method": {"POST"}, "X-Original-Uri": {"/mcp"}, "X-Forwarded-Method": {"POST"},
			"X-Forwarded-Uri": {"/mcp"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}},
		want: original{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name:   "envoy",
		header: map[string][]string{"X-Forwarded-Proto": {"https"}},
		host:   "mcp.example.com", method: "PUT", envoy: "/mcp/x?y",
		want: original{Method: "PUT", Scheme: "https", Host: "mcp.example.com", Path: "/mcp/x"},
	},
	{
		name: "websocket scheme",
		header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"wss"},
			"X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}},
		want: original{Method: "GET", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	// A client behind nginx adds X-Forwarded-Uri: /public to steer the decision
	// (oauth2-proxy GHSA-7x63-xv5r-3p2x); the two dialects disagree.
	{
		name: "dialects disagree",
		header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/mcp"},
			"X-Forwarded-Uri": {"/public"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}},
		wantErr: true,
	},
	{
		name: "original url and forwarded host disagree",
		header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"https://a.example.com/mcp"},
			"X-Forwarded-Host": {"b.example.com"}},
		wantErr: true,
	},
	{
		name: "methods disagree",
		header: map[string][]string{"X-Original-Method": {"GET"}, "X-Forwarded-Method": {"POST"}, "X-Original-Uri": {"/mcp"},
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}},
		wantErr: true,
	},
	// Authelia GHSA-68wm-pfjf-wqp6: a malformed URI must never be allowed.
	{name: "no uri", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}}, wantErr: true},
	{name: "bad uri", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/%zz"}}, wantErr: true},
	{name: "absolute uri", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"https://evil.example/mcp"}}, wantErr: true},
	{name: "no host", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "no proto", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "bad proto", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"gopher"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "no method", header: map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "bad method", header: map[string][]string{"X-Forwarded-Method": {"GE T"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "host list", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"a.example.com, mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}}, wantErr: true},
	{name: "repeated uri", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/public", "/mcp"}}, wantErr: true},
	// Underscore variants are other header names to net/http and are never read
	// (Traefik GHSA-5m6w-wvh7-57vm, oauth2-proxy GHSA-vjrc-mh2v-45x6).
	{name: "underscore variants only", header: map[string][]string{"X_forwarded_method": {"GET"}, "X_forwarded_proto": {"https"}, "X_forwarded_host": {"mcp.example.com"}, "X_forwarded_uri": {"/mcp"}}, wantErr: true},
}

func TestParseOriginal(t *testing.T) {
	for _, tt := range originalTests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(cmp(tt.method, "GET"), "/auth", nil)
			r.Header = http.Header(tt.header)
			if tt.host != "" {
				r.Host = tt.host
			}
			got, err := parseOriginal(r, tt.envoy)
			if tt.wantErr {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("parseOriginal(%v) = %+v, %v, want errMalformed", tt.header, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseOriginal(%v) = %+v, %v, want %+v", tt.header, got, err, tt.want)
			}
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func FuzzParseOriginal(f *testing.F) {
	for _, tt := range originalTests {
		h := tt.header
		f.Add(first(h, "X-Forwarded-Method"), first(h, "X-Forwarded-Proto"), first(h, "X-Forwarded-Host"),
			first(h, "X-Forwarded-Uri"), first(h, "X-Original-Uri"), first(h, "X-Original-Url"), tt.envoy)
	}
	f.Fuzz(func(t *testing.T, method, proto, host, uri, origURI, origURL, envoy string) {
		r := httptest.NewRequest("GET", "/auth", nil)
		set := func(k, v string) {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		set("X-Forwarded-Method", method)
		set("X-Forwarded-Proto", proto)
		set("X-Forwarded-Host", host)
		set("X-Forwarded-Uri", uri)
		set("X-Original-Uri", origURI)
		set("X-Original-Url", origURL)
		got, err := parseOriginal(r, envoy)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("parseOriginal error %v does not wrap errMalformed", err)
			}
			return
		}
		if got.Scheme != "http" && got.Scheme != "https" {
			t.Fatalf("parseOriginal scheme = %q", got.Scheme)
		}
		if p, err := normalizePath(got.Path); err != nil || p != got.Path {
			t.Fatalf("parseOriginal path %q is not normal", got.Path)
		}
		if h, err := canonicalHost(got.Host, got.Scheme); err != nil || h != got.Host {
			t.Fatalf("parseOriginal host %q is not canonical", got.Host)
		}
		if !validToken(got.Method) || strings.ToUpper(got.Method) != got.Method {
			t.Fatalf("parseOriginal method %q", got.Method)
		}
	})
}

func first(h map[string][]string, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name string
		xff  []string
		want netip.Addr
	}{
		{name: "absent"},
		{name: "one", xff: []string{"192.0.2.1"}, want: netip.MustParseAddr("192.0.2.1")},
		{name: "last hop wins", xff: []string{"10.9.9.9, 192.0.2.1"}, want: netip.MustParseAddr("192.0.2.1")},
		{name: "last header wins", xff: []string{"10.9.9.9", "192.0.2.7"}, want: netip.MustParseAddr("192.0.2.7")},
		{name: "with port", xff: []string{"192.0.2.1:5555"}, want: netip.MustParseAddr("192.0.2.1")},
		{name: "ipv6", xff: []string{"2001:db8::1"}, want: netip.MustParseAddr("2001:db8::1")},
		{name: "mapped", xff: []string{"::ffff:192.0.2.1"}, want: netip.MustParseAddr("192.0.2.1")},
		{name: "garbage", xff: []string{"192.0.2.1, evil"}},
		{name: "empty last", xff: []string{"192.0.2.1,"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.xff != nil {
				h["X-Forwarded-For"] = tt.xff
			}
			if got := clientAddr(h); got != tt.want {
				t.Fatalf("clientAddr(%q) = %v, want %v", tt.xff, got, tt.want)
			}
		})
	}
}

func TestPeerTrusted(t *testing.T) {
	trusted, err := parsePrefixes("127.0.0.0/8, 10.0.0.0/8 ::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote string
		want   bool
	}{
		{"127.0.0.1:5000", true},
		{"10.1.2.3:1", true},
		{"[::1]:1", true},
		{"[::ffff:10.1.2.3]:1", true},
		{"192.0.2.1:5000", false},
		{"[2001:db8::1]:1", false},
		{"garbage", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := peerTrusted(tt.remote, trusted); got != tt.want {
			t.Errorf("peerTrusted(%q) = %v, want %v", tt.remote, got, tt.want)
		}
	}
}
