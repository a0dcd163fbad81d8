package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLegacyEndpointsAtMCPOrigin: a 2025-03-26 client uses /authorize, /token and
// /register at the MCP server's origin. /authorize there goes on to the issuer's with the
// same query; the flow completes at the issuer, whose iss the response carries; /register
// and /token answer at the MCP origin as at the issuer. Requests on any other host are
// served where they are.
func TestLegacyEndpointsAtMCPOrigin(t *testing.T) {
	e := newFlowEnv(t, nil)
	const mcpHost = "mcp.example.com" // the host of flowResource
	send := func(method, path, host string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		if form != nil {
			req, _ = http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Host = host
		resp, err := e.browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	q := authParams()
	resp := send(http.MethodGet, "/authorize?"+q.Encode(), mcpHost, nil)
	u := redirectOf(t, resp)
	if want := e.srv.URL + "/authorize?" + q.Encode(); u.String() != want {
		t.Fatalf("/authorize at the MCP origin → %s, want %s", u, want)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	// A request on another host (the issuer's, or a Host a proxy rewrote) is served there.
	for _, host := range []string{"", "mcpguard:11000", "evil.example"} {
		h := host
		if h == "" {
			h = e.srv.Listener.Addr().String()
		}
		if got := redirectOf(t, send(http.MethodGet, "/authorize?"+q.Encode(), h, nil)); got.Path != "/login" {
			t.Errorf("/authorize on host %q → %s, want the login page", h, got)
		}
	}

	// The whole flow from the forwarded URL, then the code redeemed at the MCP origin.
	back := e.run(u.Query())
	if back.Query().Get("iss") != e.srv.URL {
		t.Fatalf("authorization response %s: iss is not the issuer", back)
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "client_id": {pubClient},
		"redirect_uri": {pubRedirect}, "code_verifier": {flowVerifier},
	}
	resp = send(http.MethodPost, "/token", mcpHost, form)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /token at the MCP origin = %d %s, want 200", resp.StatusCode, body)
	}
}

// TestLegacyEndpointsPathIssuer: with an issuer with a path, the four 2025-03-26 paths
// are served at the root of the MCP origin only (the issuer's own endpoints stay under its
// path), and are not mcpguard's on any other host.
func TestLegacyEndpointsPathIssuer(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) { c.Issuer += "/idp" })
	issuer := e.srv.URL + "/idp"
	const mcpHost = "mcp.example.com"
	q := authParams()
	reg := `{"client_name":"2025-03-26 client","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
	self := e.srv.Listener.Addr().String()
	tests := []struct {
		name, method, path, host, ctype, body string
		status                                int
		want                                  string // in the body, or the Location of a 302
	}{
		{"metadata", http.MethodGet, WellKnownAuthorizationServer, mcpHost, "", "", http.StatusOK, `"issuer":"` + issuer + `"`},
		{"metadata preflight", http.MethodOptions, WellKnownAuthorizationServer, mcpHost, "", "", http.StatusNoContent, ""},
		{"authorize", http.MethodGet, "/authorize?" + q.Encode(), mcpHost, "", "", http.StatusFound, issuer + "/authorize?" + q.Encode()},
		{"token", http.MethodPost, "/token", mcpHost, "application/x-www-form-urlencoded", "grant_type=authorization_code&code=nope&client_id=" + pubClient, http.StatusBadRequest, codeInvalidGrant},
		{"register", http.MethodPost, "/register", mcpHost, "application/json", reg, http.StatusCreated, `"client_id"`},
		{"the issuer's own endpoints", http.MethodGet, WellKnownAuthorizationServer + "/idp", self, "", "", http.StatusOK, `"token_endpoint":"` + issuer + `/token"`},
		{"root metadata on the issuer's host", http.MethodGet, WellKnownAuthorizationServer, self, "", "", http.StatusNotFound, ""},
		{"root authorize on the issuer's host", http.MethodGet, "/authorize?" + q.Encode(), self, "", "", http.StatusNotFound, ""},
		{"root token on another host", http.MethodPost, "/token", "evil.example", "application/x-www-form-urlencoded", "grant_type=authorization_code", http.StatusNotFound, ""},
		{"root register on another host", http.MethodPost, "/register", "evil.example", "application/json", reg, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.method == http.MethodOptions {
				req.Header.Set("Origin", "http://localhost:6274")
				req.Header.Set("Access-Control-Request-Method", http.MethodGet)
			}
			req.Host = tt.host
			resp, err := e.browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if tt.status == http.StatusFound {
				body = resp.Header.Get("Location")
			}
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s on %s = %d %s, want %d with %q", tt.method, tt.path, tt.host, resp.StatusCode, body, tt.status, tt.want)
			}
		})
	}
}

// TestLegacyHosts: the resources on hosts other than the issuer's are forwarded.
func TestLegacyHosts(t *testing.T) {
	tests := []struct {
		name, issuer string
		resources    []string
		want         []string
	}{
		{"other host", "https://auth.example.com", []string{"https://mcp.example.com/mcp", "https://MCP2.example.com:8443/x"}, []string{"mcp.example.com", "mcp2.example.com"}},
		{"same host as the issuer", "http://localhost:11000", []string{"http://localhost:11000/mcp"}, nil},
		{"issuer with a path", "https://example.com/auth", []string{"https://mcp.example.com/mcp"}, []string{"mcp.example.com"}},
		{"issuer with a path on the MCP host", "https://mcp.example.com/auth", []string{"https://mcp.example.com/mcp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := parseIssuer(tt.issuer)
			if err != nil {
				t.Fatal(err)
			}
			got := legacyHosts(iss, tt.resources)
			if len(got) != len(tt.want) {
				t.Fatalf("legacyHosts(%s, %q) = %v, want %q", tt.issuer, tt.resources, got, tt.want)
			}
			for _, h := range tt.want {
				if !got[h] {
					t.Errorf("legacyHosts(%s, %q) = %v, want %q among them", tt.issuer, tt.resources, got, h)
				}
			}
		})
	}
}

// TestLegacyRegisterOff: with DYNAMIC_REGISTRATION=false the MCP origin's /register is
// not served either, for an issuer with a path as for one without.
func TestLegacyRegisterOff(t *testing.T) {
	for _, path := range []string{"", "/idp"} {
		t.Run("issuer path "+path, func(t *testing.T) {
			e := newFlowEnv(t, func(c *Config) { c.Issuer += path; c.DisableDynamicRegistration = true })
			reg := `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/register", strings.NewReader(reg))
			req.Header.Set("Content-Type", "application/json")
			req.Host = "mcp.example.com"
			resp, err := e.browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST /register on the MCP origin = %d, want 404", resp.StatusCode)
			}
		})
	}
}
