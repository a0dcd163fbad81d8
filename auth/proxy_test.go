package auth

import (
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.1.0/24"),
	netip.MustParsePrefix("fd00::/8"),
}

// proxyUser returns the principal a trusted proxy header naming subject gives.
func proxyUser(subject, email string) Principal {
	return Principal{Subject: subject, Email: email, EmailVerified: email != "", AllScopes: true, Source: SourceProxy}
}

var proxyTests = []struct {
	name    string
	config  ProxyConfig
	header  http.Header
	client  string // "" = the zero Addr
	want    Principal
	wantErr error
}{
	{name: "trusted client", header: set("X-Authenticated-User", "alice"), client: "10.1.2.3", want: proxyUser("alice", "")},
	{name: "lower case header name", header: set("x-authenticated-user", "alice"), client: "10.1.2.3", want: proxyUser("alice", "")},
	{name: "trusted IPv6 client", header: set("X-Authenticated-User", "alice"), client: "fd00::1", want: proxyUser("alice", "")},
	{name: "IPv4-mapped client in IPv4 CIDR", header: set("X-Authenticated-User", "alice"), client: "::ffff:10.1.2.3", want: proxyUser("alice", "")},
	{name: "IPv4-mapped client outside", header: set("X-Authenticated-User", "alice"), client: "::ffff:203.0.113.5", wantErr: ErrNoCredentials},
	{name: "untrusted client", header: set("X-Authenticated-User", "alice"), client: "203.0.113.5", wantErr: ErrNoCredentials},
	{name: "untrusted client just outside", header: set("X-Authenticated-User", "alice"), client: "192.168.2.1", wantErr: ErrNoCredentials},
	{name: "zero Addr", header: set("X-Authenticated-User", "alice"), wantErr: ErrNoCredentials},
	{name: "zoned client", header: set("X-Authenticated-User", "alice"), client: "fd00::1%eth0", wantErr: ErrNoCredentials},
	{name: "untrusted client bad value ignored", header: set("X-Authenticated-User", "a,b"), client: "203.0.113.5", wantErr: ErrNoCredentials},
	{name: "header absent", header: http.Header{}, client: "10.1.2.3", wantErr: ErrNoCredentials},
	{name: "nil header", client: "10.1.2.3", wantErr: ErrNoCredentials},
	{name: "underscore variant", header: set("X_Authenticated_User", "alice"), client: "10.1.2.3", wantErr: ErrNoCredentials},
	{name: "comma", header: set("X-Authenticated-User", "alice,bob"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "NUL", header: set("X-Authenticated-User", "alice\x00"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "CRLF", header: set("X-Authenticated-User", "alice\r\nX-Evil: 1"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "tab", header: set("X-Authenticated-User", "alice\tbob"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "DEL", header: set("X-Authenticated-User", "alice\x7f"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "C1 control", header: set("X-Authenticated-User", "alice\u0085"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "bidi override", header: set("X-Authenticated-User", "\u202eecila"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "invalid UTF-8", header: set("X-Authenticated-User", "alice\xff"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "two values", header: set("X-Authenticated-User", "alice", "X-Authenticated-User", "bob"), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "empty", header: set("X-Authenticated-User", ""), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "256 bytes", header: set("X-Authenticated-User", strings.Repeat("u", 256)), client: "10.1.2.3", want: proxyUser(strings.Repeat("u", 256), "")},
	{name: "257 bytes", header: set("X-Authenticated-User", strings.Repeat("u", 257)), client: "10.1.2.3", wantErr: ErrInvalidCredential},
	{name: "space inside", header: set("X-Authenticated-User", "Alice Smith"), client: "10.1.2.3", want: proxyUser("Alice Smith", "")},
	{name: "UTF-8 name", header: set("X-Authenticated-User", "Jos\u00e9"), client: "10.1.2.3", want: proxyUser("Jos\u00e9", "")},
	{name: "email", header: set("X-Authenticated-User", "alice@example.com"), client: "10.1.2.3", want: proxyUser("alice@example.com", "alice@example.com")},
	{name: "email domain lower-cased", header: set("X-Authenticated-User", "Alice@Example.COM"), client: "10.1.2.3", want: proxyUser("Alice@Example.COM", "Alice@example.com")},
	{name: "two @", header: set("X-Authenticated-User", "a@b@c"), client: "10.1.2.3", want: proxyUser("a@b@c", "")},
	{name: "allowlist bypass shape", header: set("X-Authenticated-User", "a@evil.com@example.com"), client: "10.1.2.3", want: proxyUser("a@evil.com@example.com", "")},
	{name: "empty local part", header: set("X-Authenticated-User", "@example.com"), client: "10.1.2.3", want: proxyUser("@example.com", "")},
	{name: "empty domain", header: set("X-Authenticated-User", "alice@"), client: "10.1.2.3", want: proxyUser("alice@", "")},
	{name: "trailing dot domain", header: set("X-Authenticated-User", "alice@example.com."), client: "10.1.2.3", want: proxyUser("alice@example.com.", "")},
	{name: "space in local part", header: set("X-Authenticated-User", "al ice@example.com"), client: "10.1.2.3", want: proxyUser("al ice@example.com", "")},
	{name: "non-ASCII domain", header: set("X-Authenticated-User", "alice@ex\u00e4mple.com"), client: "10.1.2.3", want: proxyUser("alice@ex\u00e4mple.com", "")},
	{name: "custom header", config: ProxyConfig{Header: "X-Remote-User"}, header: set("x-remote-user", "alice"), client: "10.1.2.3", want: proxyUser("alice", "")},
	{name: "custom header ignores default", config: ProxyConfig{Header: "X-Remote-User"}, header: set("X-Authenticated-User", "alice"), client: "10.1.2.3", wantErr: ErrNoCredentials},
	{name: "empty CIDR list never trusts", config: ProxyConfig{TrustedCIDRs: []netip.Prefix{}}, header: set("X-Authenticated-User", "alice"), client: "127.0.0.1", wantErr: ErrNoCredentials},
	{name: "mapped CIDR", config: ProxyConfig{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, header: set("X-Authenticated-User", "alice"), client: "10.1.2.3", want: proxyUser("alice", "")},
	{name: "unmasked CIDR", config: ProxyConfig{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.9.9.9/8")}}, header: set("X-Authenticated-User", "alice"), client: "10.1.2.3", want: proxyUser("alice", "")},
	{name: "IPv4 any does not cover IPv6", config: ProxyConfig{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, header: set("X-Authenticated-User", "alice"), client: "fd00::1", wantErr: ErrNoCredentials},
}

func TestProxyIdentity(t *testing.T) {
	for _, tt := range proxyTests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.config
			if c.TrustedCIDRs == nil {
				c.TrustedCIDRs = testTrusted
			}
			p, err := NewProxyIdentity(c)
			if err != nil {
				t.Fatalf("NewProxyIdentity: %v", err)
			}
			var client netip.Addr
			if tt.client != "" {
				client = netip.MustParseAddr(tt.client)
			}
			got, err := p.Authenticate(&Request{Header: tt.header, Client: client})
			if gotErr := errOutcome(t, err); gotErr != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Authenticate(%.40q from %q) = %+v, %v; want %+v, %v", tt.header, tt.client, got, err, tt.want, tt.wantErr)
			}
			for _, vs := range tt.header {
				for _, v := range vs {
					checkNoLeak(t, err, v)
				}
			}
		})
	}
}

func TestProxyIdentityNilRequest(t *testing.T) {
	p, err := NewProxyIdentity(ProxyConfig{TrustedCIDRs: testTrusted})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(nil); errOutcome(t, err) != ErrNoCredentials {
		t.Errorf("Authenticate(nil) = %v, want %v", err, ErrNoCredentials)
	}
}

func TestNewProxyIdentity(t *testing.T) {
	tests := []struct {
		name    string
		config  ProxyConfig
		wantErr bool
	}{
		{"defaults", ProxyConfig{}, false},
		{"custom header", ProxyConfig{Header: "x-remote-user"}, false},
		{"underscore header", ProxyConfig{Header: "X_Remote_User"}, true},
		{"space in header", ProxyConfig{Header: "X Remote User"}, true},
		{"colon in header", ProxyConfig{Header: "X-User:"}, true},
		{"long header", ProxyConfig{Header: strings.Repeat("x", 129)}, true},
		{"zero prefix", ProxyConfig{TrustedCIDRs: []netip.Prefix{{}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewProxyIdentity(tt.config); (err != nil) != tt.wantErr {
				t.Errorf("NewProxyIdentity(%+v) error = %v, want error %v", tt.config, err, tt.wantErr)
			}
		})
	}
}

func BenchmarkProxyIdentity(b *testing.B) {
	p, err := NewProxyIdentity(ProxyConfig{TrustedCIDRs: testTrusted})
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Header: set("X-Authenticated-User", "Alice@Example.COM"), Client: netip.MustParseAddr("::ffff:192.168.1.7")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
