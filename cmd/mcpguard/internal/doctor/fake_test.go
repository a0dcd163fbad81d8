package doctor

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
)

// fakeDeployment is an MCP deployment as doctor sees it from outside: the MCP endpoint,
// its protected resource metadata and its authorization server on one httptest server,
// written with plain handlers (not mcpguard's) so that each part can be broken.
type fakeDeployment struct {
	url, mcpURL string // the server's origin (also the issuer) and the MCP URL

	status          int    // the answer to a request without credentials
	challenge       string // its WWW-Authenticate; "" sends none
	exposeHeaders   bool   // CORS headers on that answer to a request with an Origin
	preflightStatus int
	prmResource     string
	prmServers      []string
	prmScopes       []string
	prmPathMissing  bool // 404 at the path-inserted form
	issuer          string
	pkce            []string
	registration    bool
	cimd            bool
	refuse          string // /register refuses redirect URIs with this prefix
	authMethods     []string
	iss             string // the iss /authorize sends back: "" the issuer, "-" none
	exactPort       bool   // /authorize refuses a loopback redirect URI on another port
	authorizeOrigin string // the origin of authorization_endpoint; "" is the issuer's

	machineID     string           // the confidential client /token knows
	machineSecret string           // its secret (client_secret_basic); "" for none
	machineKey    crypto.PublicKey // its key (private_key_jwt); nil for none
	refuseToken   bool             // /mcp refuses even the token /token issues
	toolScope     string           // tools/call with the token is refused for lack of this scope
	stepUp        string           // WWW-Authenticate of the 403 to tools/call with the narrow token; "-" none, "" no 403
	mcp           http.Handler     // the MCP server the token reaches (the example server)

	mu         sync.Mutex
	registered []string // client_name of each registration
	uris       []string // every redirect URI registered
}

// startFakeDeployment serves a deployment every check passes, until a test breaks it.
func startFakeDeployment(t *testing.T) *fakeDeployment {
	t.Helper()
	f := &fakeDeployment{}
	srv := httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(srv.Close)
	f.url, f.mcpURL = srv.URL, srv.URL+"/mcp"
	f.status = http.StatusUnauthorized
	f.challenge = fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`, srv.URL)
	f.exposeHeaders = true
	f.preflightStatus = http.StatusNoContent
	f.prmResource, f.prmServers, f.prmScopes = f.mcpURL, []string{srv.URL}, []string{"mcp:read", "mcp:write"}
	f.issuer, f.pkce, f.registration, f.cimd = srv.URL, []string{"S256"}, true, true
	f.authMethods = []string{"none"}
	f.mcp = whoami.Handler(whoami.Options{})
	return f
}

func (f *fakeDeployment) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	writeJSON := func(status int, v any) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodOptions && r.URL.Path == "/mcp":
		h.Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(f.preflightStatus)
	case r.URL.Path == "/mcp" && r.Header.Get("Authorization") == "Bearer "+fakeNarrowToken:
		if f.stepUp != "" && r.Header.Get("Mcp-Method") == "tools/call" {
			if f.stepUp != "-" {
				h.Set("WWW-Authenticate", f.stepUp)
			}
			writeJSON(http.StatusForbidden, map[string]string{"error": "insufficient_scope"})
			return
		}
		f.mcp.ServeHTTP(w, r)
	case r.URL.Path == "/mcp" && r.Header.Get("Authorization") == "Bearer "+fakeAccessToken:
		switch {
		case f.refuseToken:
			w.WriteHeader(http.StatusForbidden)
		case f.toolScope != "" && r.Header.Get("Mcp-Method") == "tools/call":
			h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="mcp:read %s", resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`, f.toolScope, f.url))
			writeJSON(http.StatusForbidden, map[string]string{"error": "insufficient_scope"})
		default:
			f.mcp.ServeHTTP(w, r)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		if why := f.authenticateMachine(r); why != "" {
			writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": why})
			return
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("resource") != f.mcpURL {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_target"})
			return
		}
		if sc := r.PostForm.Get("scope"); sc != "" {
			writeJSON(http.StatusOK, map[string]any{"access_token": fakeNarrowToken, "token_type": "Bearer", "expires_in": 300, "scope": sc})
			return
		}
		writeJSON(http.StatusOK, map[string]any{"access_token": fakeAccessToken, "token_type": "Bearer", "expires_in": 300})
	case r.Method == http.MethodPost && r.URL.Path == "/mcp":
		if r.Header.Get("Origin") != "" {
			h.Set("Access-Control-Allow-Origin", "*")
			if f.exposeHeaders {
				h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
			}
		}
		if f.challenge != "" {
			h.Set("WWW-Authenticate", f.challenge)
		}
		if f.status >= 300 && f.status < 400 {
			h.Set("Location", "/login")
		}
		w.WriteHeader(f.status)
	case r.URL.Path == wellKnownPRMPath+"/mcp" && f.prmPathMissing:
		http.NotFound(w, r)
	case r.URL.Path == wellKnownPRMPath+"/mcp" || r.URL.Path == wellKnownPRMPath:
		h.Set("Access-Control-Allow-Origin", "*")
		writeJSON(http.StatusOK, map[string]any{
			"resource": f.prmResource, "authorization_servers": f.prmServers, "scopes_supported": f.prmScopes,
		})
	case r.URL.Path == "/.well-known/oauth-authorization-server":
		h.Set("Access-Control-Allow-Origin", "*")
		m := map[string]any{
			"issuer":                                         f.issuer,
			"authorization_endpoint":                         cmpOr(f.authorizeOrigin, f.url) + "/authorize",
			"token_endpoint_auth_methods_supported":          f.authMethods,
			"authorization_response_iss_parameter_supported": true,
			"token_endpoint":                                 f.url + "/token",
			"client_id_metadata_document_supported":          f.cimd,
		}
		if f.pkce != nil {
			m["code_challenge_methods_supported"] = f.pkce
		}
		if f.registration {
			m["registration_endpoint"] = f.url + "/register"
		}
		writeJSON(http.StatusOK, m)
	case r.Method == http.MethodPost && r.URL.Path == "/register" && f.registration:
		var req struct {
			ClientName   string   `json:"client_name"`
			RedirectURIs []string `json:"redirect_uris"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_client_metadata"})
			return
		}
		for _, u := range req.RedirectURIs {
			if f.refuse != "" && strings.HasPrefix(u, f.refuse) {
				writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_redirect_uri", "error_description": "scheme not allowed"})
				return
			}
		}
		f.mu.Lock()
		f.registered = append(f.registered, req.ClientName)
		f.uris = append(f.uris, req.RedirectURIs...)
		n := len(f.registered)
		f.mu.Unlock()
		writeJSON(http.StatusCreated, map[string]any{"client_id": fmt.Sprintf("client-%d", n), "redirect_uris": req.RedirectURIs})
	case r.URL.Path == "/authorize":
		q := r.URL.Query()
		redirect := q.Get("redirect_uri")
		if f.exactPort && !f.registeredURI(redirect) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		back := url.Values{"error": {"unsupported_response_type"}, "state": {q.Get("state")}}
		switch f.iss {
		case "":
			back.Set("iss", f.issuer)
		case "-":
		default:
			back.Set("iss", f.iss)
		}
		h.Set("Location", redirect+"?"+back.Encode())
		w.WriteHeader(http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// fakeAccessToken is the token the fake's /token issues and its /mcp accepts;
// fakeNarrowToken the one it issues for a request naming a scope.
const (
	fakeAccessToken = "fake-machine-token"
	fakeNarrowToken = "fake-machine-token-narrow"
)

// authenticateMachine checks a /token request's client authentication: Basic with
// the machine's secret, or a private_key_jwt assertion signed by its key for the
// issuer. "" means authenticated.
func (f *fakeDeployment) authenticateMachine(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return "form"
	}
	if id, secret, ok := r.BasicAuth(); ok {
		if f.machineSecret == "" || id != f.machineID || secret != f.machineSecret {
			return "wrong secret"
		}
		return ""
	}
	if f.machineKey == nil || r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "no client authentication"
	}
	tok, err := jwt.ParseSigned(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return "not a JWS"
	}
	var c jwt.Claims
	if err := tok.Claims(f.machineKey, &c); err != nil {
		return "signature"
	}
	if err := c.Validate(jwt.Expected{Issuer: f.machineID, Subject: f.machineID, AnyAudience: jwt.Audience{f.issuer}, Time: time.Now()}); err != nil || c.ID == "" || tok.Headers[0].KeyID != "k1" {
		return "claims"
	}
	return ""
}

// registeredURI reports whether u was registered exactly.
func (f *fakeDeployment) registeredURI(u string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.uris, u)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (f *fakeDeployment) registrations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.registered)
}

// runTest runs doctor with args and the default transport, and returns its output and
// error.
func runTest(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), args, Options{Version: "test"}, &stdout, &stderr)
	return stdout.String(), err
}

// parseJSON parses the --json output.
func parseJSON(t testing.TB, out string) []checkResult {
	t.Helper()
	var results []checkResult
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return results
}

// failedChecks are the names of the checks that failed (not skipped).
func failedChecks(results []checkResult) []string {
	var out []string
	for _, r := range results {
		if !r.OK && !r.Skipped {
			out = append(out, r.Name)
		}
	}
	return out
}
