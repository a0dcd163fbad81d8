package forwardauth

import (
	"net/http"
	"testing"
)

func TestPrefersHTML(t *testing.T) {
	tests := []struct {
		name   string
		accept []string
		xhr    bool
		want   bool
	}{
		{"Firefox navigation", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, false, true},
		{"Chrome navigation", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"}, false, true},
		{"Safari navigation", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, false, true},
		{"no Accept", nil, false, false},
		{"*/* alone (fetch, curl, MCP SDKs)", []string{"*/*"}, false, false},
		{"MCP Streamable HTTP", []string{"application/json, text/event-stream"}, false, false},
		{"JSON", []string{"application/json"}, false, false},
		{"JSON preferred over HTML", []string{"application/json, text/html;q=0.9"}, false, false},
		{"HTML preferred over JSON", []string{"application/json;q=0.5, text/html"}, false, true},
		{"HTML refused", []string{"text/html;q=0, */*"}, false, false},
		{"text/* counts", []string{"text/*"}, false, true},
		{"text/html wins over text/*", []string{"text/*, text/html;q=0"}, false, false},
		{"tie counts", []string{"text/html, application/json"}, false, true},
		{"upper case, spaces", []string{" TEXT/HTML ; Q=0.8 , application/json;q=0.5"}, false, true},
		{"q with other params", []string{"text/html;level=1;q=0.7, application/json;q=0.6"}, false, true},
		{"malformed q is not acceptable", []string{"text/html;q=abc"}, false, false},
		{"q above 1 is not acceptable", []string{"text/html;q=2"}, false, false},
		{"negative q", []string{"text/html;q=-1"}, false, false},
		{"two Accept headers", []string{"application/json;q=0.1", "text/html"}, false, true},
		{"image request", []string{"image/avif,image/webp,*/*;q=0.8"}, false, false},
		{"XMLHttpRequest", []string{"text/html"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, a := range tt.accept {
				h.Add("Accept", a)
			}
			if tt.xhr {
				h.Set("X-Requested-With", "XMLHttpRequest")
			}
			if got := prefersHTML(h); got != tt.want {
				t.Errorf("prefersHTML(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}
