package oauth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewMetadataHandlerRejects(t *testing.T) {
	tests := []struct {
		name string
		pr   ProtectedResource
	}{
		{"no resource", ProtectedResource{Path: "/mcp"}},
		{"extra overrides resource", ProtectedResource{Resource: "https://a/mcp", Extra: map[string]any{"resource": "https://evil"}}},
		{"extra overrides servers", ProtectedResource{Resource: "https://a/mcp", Extra: map[string]any{"authorization_servers": []string{"https://evil"}}}},
		{"unencodable extra", ProtectedResource{Resource: "https://a/mcp", Extra: map[string]any{"x": func() {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewMetadataHandler([]ProtectedResource{tt.pr}); err == nil {
				t.Fatalf("NewMetadataHandler(%+v) = nil error", tt.pr)
			}
		})
	}
}

func TestMetadataLookup(t *testing.T) {
	h, err := NewMetadataHandler([]ProtectedResource{
		{Resource: "https://a.example/mcp", Hosts: []string{"a.example"}, Path: "/mcp"},
		{Resource: "https://b.example/mcp", Hosts: []string{"b.example"}, Path: "/mcp"},
		{Resource: "https://any.example/tools", Hosts: []string{"any.example", "*"}, Path: "/tools"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, path string
		status     int
		want       string
	}{
		{"a.example", "/.well-known/oauth-protected-resource/mcp", 200, "https://a.example/mcp"},
		{"B.Example:443", "/.well-known/oauth-protected-resource/mcp", 200, "https://b.example/mcp"},
		{"b.example.", "/.well-known/oauth-protected-resource/mcp/", 200, "https://b.example/mcp"},
		{"c.example", "/.well-known/oauth-protected-resource/mcp", 404, ""},
		{"c.example", "/.well-known/oauth-protected-resource/tools", 200, "https://any.example/tools"},
		{"a.example", "/.well-known/oauth-protected-resource", 200, "https://a.example/mcp"},
		{"zzz", "/.well-known/oauth-protected-resource", 200, "https://any.example/tools"},
		{"a.example", "/.well-known/oauth-protected-resourcex", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("GET %s on %s = %d %s, want %d with %s", tt.path, tt.host, w.Code, w.Body, tt.status, tt.want)
			}
		})
	}
}
