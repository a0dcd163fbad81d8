package e2e

// The peers of the MCP end-to-end tests other than the proxies: mcpguard's configuration,
// the network edge in front of the proxy, the SDK's token source, the example MCP server
// and a Client ID Metadata Document server.

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
)

// oauthEnv is mcpguard as the authorization server of PROVIDER=local with
// localUser, and the pre-registered client.
func oauthEnv(t *testing.T, storeDSN string) map[string]string {
	t.Helper()
	u := localUser
	hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users.yaml")
	usersYAML := fmt.Sprintf("users:\n  - email: %s\n    password_hash: %q\n    name: Alice\n    groups: [%s]\n", u.email, hash, strings.Join(u.groups, ", "))
	if err := os.WriteFile(users, []byte(usersYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := oauthBaseEnv(t, storeDSN)
	env["PROVIDER"] = "local"
	env["LOCAL_USERS_FILE"] = users
	return env
}

// oauthBaseEnv is what every run shares: the issuer, the resource (mcp:read
// required) and the pre-registered client in a policy file, the store, the session key.
func oauthBaseEnv(t *testing.T, storeDSN string) map[string]string {
	t.Helper()
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	policyYAML := fmt.Sprintf(`resources:
  - url: %s
    scopes_supported: [mcp:read, mcp:write]
    required_scopes: [mcp:read]
clients:
  - client_id: %s
    client_secret: %s
    client_name: %s
    redirect_uris: [%q]
`, mcpURL, staticClientID, staticSecret, staticClientName, staticRedirect)
	if err := os.WriteFile(policy, []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"POLICY_FILE":    policy,
		"STORE":          storeDSN,
		"SESSION_SECRET": sessionSecret,
		"ISSUER_URL":     authIssuer,
		"ALLOWED_SCOPES": "mcp:read,mcp:write",
		"LOG_LEVEL":      "debug",
	}
}

// urlPath is the path of an endpoint URL the authorization server advertised on the
// issuer's host.
func urlPath(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil || u.Host != authHost {
		t.Fatalf("endpoint %q is not on the issuer's host %s", endpoint, authHost)
	}
	return u.Path
}

// loadBalancer stands in for DNS and for the TLS-terminating load balancer in front of the
// proxy: the SDK requires https for every authorization URL that is not on a loopback
// address, so clients use https://mcp.example.com and https://auth.example.com, and
// loadBalancer sends those requests as plain HTTP, Host unchanged, to the proxy. It logs
// every such exchange. Other destinations are refused (the redirect URIs in particular
// are never dialled), except the direct ones.
type loadBalancer struct {
	proxy  string
	direct map[string]bool // host:port reached as they are (the upstream IdP)
	mu     sync.Mutex
	log    []hopRecord
}

// hopRecord is one exchange through the edge.
type hopRecord struct {
	method, host, path string
	status             int
	bearer             string // the token of an Authorization: Bearer header
}

func (h hopRecord) String() string {
	return fmt.Sprintf("%s https://%s%s -> %d (bearer: %t)", h.method, h.host, h.path, h.status, h.bearer != "")
}

var edgeTransport = &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 5 * time.Second, ResponseHeaderTimeout: 10 * time.Second}

func (e *loadBalancer) RoundTrip(r *http.Request) (*http.Response, error) {
	if e.direct[r.URL.Host] && r.URL.Scheme == "http" {
		return edgeTransport.RoundTrip(r)
	}
	host := r.URL.Hostname()
	if r.URL.Scheme != "https" || (host != mcpHost && host != authHost) || (r.URL.Port() != "" && r.URL.Port() != "443") {
		return nil, fmt.Errorf("e2e edge: no route to %s", r.URL.Redacted())
	}
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", e.proxy, host
	resp, err := edgeTransport.RoundTrip(out)
	hop := hopRecord{method: r.Method, host: host, path: r.URL.Path}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		hop.bearer = token
	}
	if resp != nil {
		hop.status = resp.StatusCode
		resp.Request = r
	}
	e.mu.Lock()
	e.log = append(e.log, hop)
	e.mu.Unlock()
	return resp, err
}

// mark is the position of the next exchange.
func (e *loadBalancer) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.log)
}

func (e *loadBalancer) hops(from int) []hopRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log[from:])
}

// since lists the exchanges from mark on, for failure messages.
func (e *loadBalancer) since(from int) string {
	var b strings.Builder
	for _, h := range e.hops(from) {
		fmt.Fprintf(&b, "  %s\n", h)
	}
	return b.String()
}

// count is how many exchanges since from were method host path.
func (e *loadBalancer) count(from int, method, host, path string) int {
	n := 0
	for _, h := range e.hops(from) {
		if h.method == method && h.host == host && h.path == path {
			n++
		}
	}
	return n
}

// lastBearer is the token of the last request to host since from that carried one.
func (e *loadBalancer) lastBearer(from int, host string) string {
	hops := e.hops(from)
	for i := len(hops) - 1; i >= 0; i-- {
		if hops[i].host == host && hops[i].bearer != "" {
			return hops[i].bearer
		}
	}
	return ""
}

// hopWant is an exchange a flow must contain; status 0 is any status.
type hopWant struct {
	method, host, path string
	status             int
}

// expect checks that the exchanges since from contain want, in order (others may come
// between them).
func (e *loadBalancer) expect(t *testing.T, from int, want []hopWant) {
	t.Helper()
	hops := e.hops(from)
	i := 0
	for _, h := range hops {
		if i < len(want) && h.method == want[i].method && h.host == want[i].host && h.path == want[i].path && (want[i].status == 0 || h.status == want[i].status) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("the flow lacks %s https://%s%s -> %d (or what follows it); requests:\n%s", want[i].method, want[i].host, want[i].path, want[i].status, e.since(from))
	}
}

// sdkTokens is the SDK handler's token source (its NewTokenSource hook): x/oauth2's own
// refreshing token source, plus a way to make it refresh now instead of at expiry.
type sdkTokens struct {
	mu  sync.Mutex
	ctx context.Context
	cfg *oauth2.Config
	ts  oauth2.TokenSource
}

func (e *sdkTokens) newTokenSource(ctx context.Context, cfg *oauth2.Config, tok *oauth2.Token) (oauth2.TokenSource, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx, e.cfg, e.ts = ctx, cfg, cfg.TokenSource(ctx, tok)
	return e, nil
}

// Token is the current token.
func (e *sdkTokens) Token() (*oauth2.Token, error) {
	e.mu.Lock()
	ts := e.ts
	e.mu.Unlock()
	if ts == nil {
		return nil, errors.New("e2e: no token yet")
	}
	return ts.Token()
}

func (e *sdkTokens) config() *oauth2.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// refresh redeems the current refresh token now (grant_type=refresh_token, with the
// client authentication the SDK chose), as x/oauth2 does once the access token expires.
func (e *sdkTokens) refresh() (*oauth2.Token, error) {
	cur, err := e.Token()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	ts := e.cfg.TokenSource(e.ctx, &oauth2.Token{RefreshToken: cur.RefreshToken})
	e.mu.Unlock()
	next, err := ts.Token()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.ts = oauth2.ReuseTokenSource(next, ts)
	e.mu.Unlock()
	return next, nil
}

// whoamiServer is the example MCP server (examples/mcp-server) on a loopback port, with a
// record of every request it received.
type whoamiServer struct {
	addr string
	mu   sync.Mutex
	seen []whoamiRequest
}

type whoamiRequest struct {
	method, path string
	header       http.Header
}

func startWhoami(t *testing.T) *whoamiServer {
	t.Helper()
	w := &whoamiServer{}
	h := whoami.Handler(whoami.Options{AllowedHosts: []string{mcpHost}})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, whoamiRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone()})
		w.mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	w.addr = srv.Listener.Addr().String()
	return w
}

func (w *whoamiServer) requests() []whoamiRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// cimdServer serves a client's Client ID Metadata Document over https on a loopback port,
// with a certificate from its own CA (caFile).
type cimdServer struct {
	url, redirect, caFile string
	cert                  *x509.Certificate
	mu                    sync.Mutex
	n                     int
}

func startCIMD(t *testing.T) *cimdServer {
	t.Helper()
	c := &cimdServer{redirect: fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/client.json" {
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		json.NewEncoder(w).Encode(map[string]any{
			"client_id":                  c.url,
			"client_name":                cimdClientName,
			"redirect_uris":              []string{c.redirect},
			"grant_types":                []string{"authorization_code", "refresh_token"},
			"response_types":             []string{"code"},
			"token_endpoint_auth_method": "none",
			"application_type":           "native",
		})
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c.url = "https://127.0.0.1:" + port + "/oauth/client.json"
	c.caFile = filepath.Join(t.TempDir(), "cimd-ca.pem")
	c.cert = srv.Certificate()
	if err := os.WriteFile(c.caFile, pemEncode(c.cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// trust makes mcpguard, which runs in this process, trust the document server's
// certificate: SSL_CERT_FILE names the CA file, the variable every Go program on Linux
// reads (once, when it first verifies a certificate against the system roots).
func (c *cimdServer) trust(t *testing.T) {
	t.Helper()
	t.Setenv("SSL_CERT_FILE", c.caFile)
	roots, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.cert.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Fatalf("the system roots of this process do not include the CIMD server's CA after SSL_CERT_FILE=%s (were they loaded earlier?): %v", c.caFile, err)
	}
}

func (c *cimdServer) hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// pemEncode encodes a DER certificate.
func pemEncode(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
