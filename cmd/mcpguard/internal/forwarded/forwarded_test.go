package forwarded

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

var originalTests = []struct {
	name    string
	header  map[string][]string
	host    string // Host of the subrequest
	method  string // method of the subrequest
	envoy   string // path after /auth for the Envoy form
	want    Original
	wantErr bool
	// ambiguous: the error is ErrAmbiguousPath rather than ErrMalformed.
	ambiguous bool
}{
	{
		name: "traefik",
		header: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host": {"MCP.example.com"}, "X-Forwarded-Uri": {"/mcp?session=1"}, "X-Forwarded-For": {"203.0.113.9"}},
		want: Original{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name: "nginx original uri",
		header: map[string][]string{"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/mcp/x"},
			"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"mcp.example.com"}},
		want: Original{Method: "DELETE", Scheme: "http", Host: "mcp.example.com", Path: "/mcp/x"},
	},
	{
		name:   "nginx original url",
		header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"https://mcp.example.com:443/public/%6dcp?q"}},
		want:   Original{Method: "GET", Scheme: "https", Host: "mcp.example.com", Path: "/public/mcp"},
	},
	{
		name:   "params reported, cut",
		header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp;jsessionid=1"}},
		want:   Original{Method: "GET", Scheme: "https", Host: "mcp.example.com", Path: "/mcp", PathParams: true},
	},
	// The attack run's doors: dot segments in every dialect are refused, not resolved.
	{name: "traefik dot segment", header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp/..;/status"}}, wantErr: true, ambiguous: true},
	{name: "nginx dot segment", header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/mcp/%2e%2e/status"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}}, wantErr: true, ambiguous: true},
	{name: "nginx url dot segment", header: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"https://mcp.example.com/mcp/../status"}}, wantErr: true, ambiguous: true},
	{name: "envoy dot segment", header: map[string][]string{"X-Forwarded-Proto": {"https"}}, host: "mcp.example.com", method: "GET", envoy: "/mcp/%2e%2e/status", wantErr: true, ambiguous: true},
	{name: "envoy empty segment", header: map[string][]string{"X-Forwarded-Proto": {"https"}}, host: "mcp.example.com", method: "GET", envoy: "//status", wantErr: true, ambiguous: true},
	// Envoy: a client's X-Forwarded-Method or -Host cannot override the check request's.
	{name: "envoy forwarded method disagrees", header: map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Method": {"OPTIONS"}}, host: "mcp.example.com", method: "POST", envoy: "/mcp", wantErr: true},
	{name: "envoy original method disagrees", header: map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Original-Method": {"OPTIONS"}}, host: "mcp.example.com", method: "POST", envoy: "/mcp", wantErr: true},
	{name: "envoy forwarded host disagrees", header: map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"public.example.com"}}, host: "mcp.example.com", method: "POST", envoy: "/mcp", wantErr: true},
	{
		name:   "envoy forwarded method and host agree",
		header: map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Method": {"post"}, "X-Forwarded-Host": {"MCP.example.com"}},
		host:   "mcp.example.com", method: "POST", envoy: "/mcp",
		want: Original{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name: "nginx recipe sends both dialects, agreeing",
		header: map[string][]string{"X-Original-Method": {"POST"}, "X-Original-Uri": {"/mcp"}, "X-Forwarded-Method": {"POST"},
			"X-Forwarded-Uri": {"/mcp"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"mcp.example.com"}},
		want: Original{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
	},
	{
		name:   "envoy",
		header: map[string][]string{"X-Forwarded-Proto": {"https"}},
		host:   "mcp.example.com", method: "PUT", envoy: "/mcp/x?y",
		want: Original{Method: "PUT", Scheme: "https", Host: "mcp.example.com", Path: "/mcp/x"},
	},
	{
		name: "websocket scheme",
		header: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"wss"},
			"X-Forwarded-Host": {"mcp.example.com"}, "X-Forwarded-Uri": {"/mcp"}},
		want: Original{Method: "GET", Scheme: "https", Host: "mcp.example.com", Path: "/mcp"},
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
			got, err := Parse(r, tt.envoy)
			if tt.wantErr {
				want := ErrMalformed
				if tt.ambiguous {
					want = ErrAmbiguousPath
				}
				if !errors.Is(err, want) {
					t.Fatalf("Parse(%v) = %+v, %v, want %v", tt.header, got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%v) = %+v, %v, want %+v", tt.header, got, err, tt.want)
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
		got, err := Parse(r, envoy)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("Parse error %v wraps neither ErrMalformed nor ErrAmbiguousPath", err)
			}
			return
		}
		if got.Scheme != "http" && got.Scheme != "https" {
			t.Fatalf("Parse scheme = %q", got.Scheme)
		}
		if p, err := JudgePath(got.Path); err != nil || p.Path != got.Path {
			t.Fatalf("Parse path %q is not its own judged form", got.Path)
		}
		if h, err := CanonicalHost(got.Host, got.Scheme); err != nil || h != got.Host {
			t.Fatalf("Parse host %q is not canonical", got.Host)
		}
		if !validToken(got.Method) || strings.ToUpper(got.Method) != got.Method {
			t.Fatalf("Parse method %q", got.Method)
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
			if got := ClientAddr(h); got != tt.want {
				t.Fatalf("ClientAddr(%q) = %v, want %v", tt.xff, got, tt.want)
			}
		})
	}
}

func TestPeerTrusted(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
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
		if got := PeerTrusted(tt.remote, trusted); got != tt.want {
			t.Errorf("PeerTrusted(%q) = %v, want %v", tt.remote, got, tt.want)
		}
	}
}

func TestMCPHeader(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantErr bool
	}{
		{name: "absent"},
		{name: "one", values: []string{"tools/call"}, want: "tools/call"},
		{name: "trimmed", values: []string{" tools/call "}, want: "tools/call"},
		{name: "repeated", values: []string{"tools/call", "tools/list"}, wantErr: true},
		{name: "a list", values: []string{"tools/call, tools/list"}, wantErr: true},
		{name: "256 bytes", values: []string{strings.Repeat("a", 256)}, want: strings.Repeat("a", 256)},
		{name: "257 bytes", values: []string{strings.Repeat("a", 257)}, wantErr: true},
		{name: "control byte", values: []string{"write\x01page"}, wantErr: true},
		{name: "non-ascii", values: []string{"caf\xc3\xa9"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.values != nil {
				h["Mcp-Name"] = tt.values
			}
			got, err := MCPHeader(h, "Mcp-Name")
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("MCPHeader(%q) = %q, %v, want ErrMalformed", tt.values, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MCPHeader(%q) = %q, %v, want %q", tt.values, got, err, tt.want)
			}
		})
	}
}
