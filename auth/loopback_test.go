package auth

import "testing"

// TestIsLoopbackHost pins which hosts count as loopback, where plain http is allowed.
func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true}, // DNS names are case-insensitive
		{"127.0.0.1", true},
		{"127.1.2.3", true}, // all of 127.0.0.0/8 (RFC 1122 §3.2.1.3)
		{"::1", true},
		{"[::1]", true},
		{"0:0:0:0:0:0:0:1", true}, // another spelling of ::1
		{"", false},
		{"localhost.", false},         // a resolver may still send it elsewhere
		{"app.localhost", false},      // RFC 6761 §6.3 lets resolvers, not every resolver, answer loopback
		{"localhost.evil.com", false}, // a look-alike
		{"::ffff:127.0.0.1", false},   // IPv4-mapped: not a literal RFC 8252 names
		{"[127.0.0.1]", false},        // brackets are for IPv6
		{"::1%lo", false},             // zoned
		{"127.0.0.1:8080", false},     // a port is not part of the host
		{"128.0.0.1", false},
		{"0.0.0.0", false}, // unspecified, not loopback
		{"::", false},
		{"127.000.000.001", false}, // leading zeros: octal to some parsers
		{"2130706433", false},      // 127.0.0.1 as one number
		{"10.0.0.1", false},
		{"example.com", false},
	}
	for _, tt := range tests {
		if got := IsLoopbackHost(tt.host); got != tt.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
