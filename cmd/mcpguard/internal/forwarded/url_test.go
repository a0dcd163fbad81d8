package forwarded

import (
	"net/http/httptest"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		name      string
		header    map[string]string
		envoyPath string
		want      string
	}{
		{"Traefik", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "Apps.Example.com:443", "X-Forwarded-Uri": "/dash?tab=1&q=a%20b"}, "", "https://apps.example.com/dash?tab=1&q=a%20b"},
		{"Traefik, another port", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "apps.example.com:8080", "X-Forwarded-Uri": "/"}, "", "http://apps.example.com:8080/"},
		{"nginx X-Original-URI", map[string]string{"X-Original-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "apps.example.com", "X-Original-Uri": "/a/b?c=d", "X-Forwarded-Uri": "/a/b?c=d"}, "", "https://apps.example.com/a/b?c=d"},
		{"nginx X-Original-URL", map[string]string{"X-Original-Method": "GET", "X-Original-Url": "https://apps.example.com/a?x=%2F"}, "", "https://apps.example.com/a?x=%2F"},
		{"Envoy", map[string]string{"Host": "apps.example.com"}, "/a?b=c", "http://apps.example.com/a?b=c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/auth", nil)
			if tt.envoyPath != "" {
				r.Header.Set("X-Forwarded-Proto", "http")
			}
			for k, v := range tt.header {
				if k == "Host" {
					r.Host = v
					continue
				}
				r.Header.Set(k, v)
			}
			o, err := Parse(r, tt.envoyPath)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if got := URL(r.Header, o, tt.envoyPath); got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}
