package app

import "testing"

func TestIssuerURL(t *testing.T) {
	tests := []struct {
		name, issuer, domain string
		dev                  bool
		want                 string // "" for an error
	}{
		{name: "default", want: "http://localhost:11000"},
		{name: "https", issuer: "https://Auth.Example.com/", want: "https://auth.example.com"},
		{name: "domain", domain: "auth.example.com", want: "https://auth.example.com"},
		{name: "domain in dev mode", domain: "auth.example.com", dev: true, want: "http://auth.example.com"},
		{name: "http on localhost", issuer: "http://localhost:8080", want: "http://localhost:8080"},
		{name: "http on LOCALHOST", issuer: "http://LOCALHOST:8080", want: "http://localhost:8080"},
		{name: "http on 127.0.0.1", issuer: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "http on ::1", issuer: "http://[::1]:8080", want: "http://[::1]:8080"},
		{name: "http elsewhere", issuer: "http://auth.example.com"},
		{name: "http under .localhost", issuer: "http://app.localhost:8080"},
		{name: "http on a mapped loopback", issuer: "http://[::ffff:127.0.0.1]:8080"},
		{name: "http elsewhere in dev mode", issuer: "http://auth.example.com", dev: true, want: "http://auth.example.com"},
		{name: "query", issuer: "https://auth.example.com?x=1"},
		{name: "not http", issuer: "ftp://auth.example.com"},
		{name: "domain with a path", domain: "auth.example.com/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := issuerURL(tt.issuer, tt.domain, tt.dev, "11000")
			if tt.want == "" {
				if err == nil {
					t.Fatalf("issuerURL(%q, %q, %v) = %q, want an error", tt.issuer, tt.domain, tt.dev, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("issuerURL(%q, %q, %v) = %q, %v, want %q", tt.issuer, tt.domain, tt.dev, got, err, tt.want)
			}
		})
	}
}

// TestListenAddress: the embedded default, with its published demo password, listens on
// loopback only; a deployment that names its port or address gets what it names.
func TestListenAddress(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"embedded default", nil, nil, "127.0.0.1:11000"},
		{"PORT", map[string]string{"PORT": "8080"}, nil, ":8080"},
		{"-port", nil, []string{"-port", "8081"}, ":8081"},
		{"LISTEN_ADDR", map[string]string{"LISTEN_ADDR": "0.0.0.0:9000", "PORT": "8080"}, nil, "0.0.0.0:9000"},
		{"-listen", nil, []string{"-listen", "[::1]:9001"}, "[::1]:9001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if c.listen != tt.want {
				t.Errorf("listen = %q, want %q", c.listen, tt.want)
			}
		})
	}
}
