package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cimdDoc is a served metadata document.
type cimdDoc struct {
	status       int
	contentType  string
	cacheControl string
	body         string // %s is replaced by the document's own URL
	delay        time.Duration
}

// cimdServer serves docs by path on a loopback httptest server and counts fetches per path.
type cimdServer struct {
	*httptest.Server
	mu   sync.Mutex
	docs map[string]cimdDoc
	hits map[string]int
}

func newCIMDServer(t testing.TB, tls bool, docs map[string]cimdDoc) *cimdServer {
	t.Helper()
	cs := &cimdServer{docs: docs, hits: map[string]int{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		d, ok := cs.docs[r.URL.Path]
		cs.hits[r.URL.Path]++
		cs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		time.Sleep(d.delay)
		if d.contentType != "" {
			w.Header().Set("Content-Type", d.contentType)
		}
		if d.cacheControl != "" {
			w.Header().Set("Cache-Control", d.cacheControl)
		}
		if d.status == http.StatusFound {
			w.Header().Set("Location", "/client.json")
		}
		w.WriteHeader(cmpInt(d.status, http.StatusOK))
		body := d.body
		if strings.Contains(body, "%s") {
			body = fmt.Sprintf(body, cs.URL+r.URL.Path)
		}
		w.Write([]byte(body))
	})
	if tls {
		cs.Server = httptest.NewTLSServer(h)
	} else {
		cs.Server = httptest.NewServer(h)
	}
	t.Cleanup(cs.Close)
	return cs
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (cs *cimdServer) hitsOf(path string) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.hits[path]
}

const goodCIMD = `{"client_id":"%s","client_name":"VS Code","redirect_uris":["https://vscode.dev/redirect","http://127.0.0.1:33418/"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`

func TestCIMDFetch(t *testing.T) {
	clock := newTestClock()
	var results []string
	var mu sync.Mutex
	srv := newCIMDServer(t, false, map[string]cimdDoc{
		"/client.json": {contentType: "application/json; charset=utf-8", cacheControl: "public, max-age=3600", body: goodCIMD},
	})
	s := newClientsServer(t, func(c *Config) {
		c.Now = clock.Now
		c.InsecureCIMDAllowPrivate = true
		c.OnRegistration = func(kind, result string) { mu.Lock(); results = append(results, kind+":"+result); mu.Unlock() }
	})
	id := srv.URL + "/client.json"
	ctx := context.Background()

	c, err := s.lookup(ctx, id)
	if err != nil {
		t.Fatalf("client(%q) = %v", id, err)
	}
	if c.ID != id || c.Kind != "cimd" || c.Name != "VS Code" || c.TokenEndpointAuthMethod != "none" || c.ApplicationType != "web" {
		t.Errorf("client(%q) = %+v", id, c)
	}
	if !redirectAllowed(c, "http://127.0.0.1:50000/") || !redirectAllowed(c, "https://vscode.dev/redirect") || redirectAllowed(c, "https://evil.example/") {
		t.Errorf("redirects of %v not matched as expected", c.RedirectURIs)
	}
	// Cached for max-age.
	clock.Advance(59 * time.Minute)
	if _, err := s.lookup(ctx, id); err != nil || srv.hitsOf("/client.json") != 1 {
		t.Errorf("second lookup within max-age: err %v, %d fetches; want 1", err, srv.hitsOf("/client.json"))
	}
	clock.Advance(time.Minute)
	if _, err := s.lookup(ctx, id); err != nil || srv.hitsOf("/client.json") != 2 {
		t.Errorf("lookup after max-age: err %v, %d fetches; want 2", err, srv.hitsOf("/client.json"))
	}
	if got := strings.Join(results, " "); got != "cimd:ok cimd:ok" {
		t.Errorf("OnRegistration results = %q, want one cimd:ok per fetch", got)
	}
	// The CIMD client is not stored.
	if n, _ := s.store.CountClients(ctx); n != 0 {
		t.Errorf("CountClients() = %d, want 0: CIMD clients live in the cache", n)
	}
}

func TestCIMDKnownClients(t *testing.T) {
	docs := map[string]cimdDoc{}
	for i, kc := range knownClients {
		// The same metadata, as a public client's document.
		body := strings.Replace(kc.body, `"client_secret_post"`, `"none"`, 1)
		body = `{"client_id":"%s",` + strings.TrimPrefix(body, "{")
		docs[fmt.Sprintf("/c%d.json", i)] = cimdDoc{contentType: "application/json", body: body}
	}
	srv := newCIMDServer(t, false, docs)
	s := newClientsServer(t, func(c *Config) { c.InsecureCIMDAllowPrivate = true })
	for i, kc := range knownClients {
		t.Run(kc.name, func(t *testing.T) {
			id := fmt.Sprintf("%s/c%d.json", srv.URL, i)
			c, err := s.lookup(context.Background(), id)
			if err != nil {
				t.Fatalf("client(%q) = %v", id, err)
			}
			for _, u := range kc.use {
				if !redirectAllowed(c, u) {
					t.Errorf("redirectAllowed(%v, %q) = false, want true", c.RedirectURIs, u)
				}
			}
			for _, u := range notTheirs {
				if redirectAllowed(c, u) {
					t.Errorf("redirectAllowed(%v, %q) = true, want false", c.RedirectURIs, u)
				}
			}
		})
	}
}

func TestCIMDRejects(t *testing.T) {
	tests := []struct {
		name   string
		doc    cimdDoc
		result string // OnRegistration result
	}{
		{"redirecting", cimdDoc{status: http.StatusFound}, "fetch_error"},
		{"not found", cimdDoc{status: http.StatusNotFound, contentType: "application/json", body: goodCIMD}, "fetch_error"},
		{"server error", cimdDoc{status: http.StatusInternalServerError}, "fetch_error"},
		{"oversized", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["https://a.example/cb"],"pad":"` + strings.Repeat("a", 64<<10) + `"}`}, "invalid_client_metadata"},
		{"client_id mismatch", cimdDoc{contentType: "application/json", body: `{"client_id":"https://other.example/client.json","redirect_uris":["https://a.example/cb"]}`}, "invalid_client_metadata"},
		{"client_id with trailing slash", cimdDoc{contentType: "application/json", body: `{"client_id":"%s/","redirect_uris":["https://a.example/cb"]}`}, "invalid_client_metadata"},
		{"client_id missing", cimdDoc{contentType: "application/json", body: `{"redirect_uris":["https://a.example/cb"]}`}, "invalid_client_metadata"},
		{"client_id upper-case member", cimdDoc{contentType: "application/json", body: `{"CLIENT_ID":"%s","redirect_uris":["https://a.example/cb"]}`}, "invalid_client_metadata"},
		{"text/html", cimdDoc{contentType: "text/html", body: goodCIMD}, "invalid_client_metadata"},
		{"no content type", cimdDoc{body: "\x00" + goodCIMD}, "invalid_client_metadata"},
		{"client_secret", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["https://a.example/cb"],"client_secret":"x"}`}, "invalid_client_metadata"},
		{"client_secret_expires_at", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["https://a.example/cb"],"client_secret_expires_at":0}`}, "invalid_client_metadata"},
		{"confidential method", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`}, "invalid_client_metadata"},
		{"private_key_jwt", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`}, "invalid_client_metadata"},
		{"javascript redirect", cimdDoc{contentType: "application/json", body: `{"client_id":"%s","redirect_uris":["javascript:alert(1)"]}`}, "invalid_redirect_uri"},
		{"no redirects", cimdDoc{contentType: "application/json", body: `{"client_id":"%s"}`}, "invalid_redirect_uri"},
		{"not JSON", cimdDoc{contentType: "application/json", body: `<html>`}, "invalid_client_metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			var results []string
			srv := newCIMDServer(t, false, map[string]cimdDoc{"/c.json": tt.doc, "/client.json": {contentType: "application/json", body: goodCIMD}})
			s := newClientsServer(t, func(c *Config) {
				c.Now = clock.Now
				c.InsecureCIMDAllowPrivate = true
				c.OnRegistration = func(kind, result string) { results = append(results, kind+":"+result) }
			})
			id := srv.URL + "/c.json"
			if _, err := s.lookup(context.Background(), id); !errors.Is(err, ErrUnknownClient) {
				t.Fatalf("client(%q) = %v, want ErrUnknownClient", id, err)
			}
			if len(results) != 1 || results[0] != "cimd:"+tt.result {
				t.Errorf("OnRegistration results = %v, want [cimd:%s]", results, tt.result)
			}
			if n := srv.hitsOf("/client.json"); n != 0 {
				t.Errorf("a redirect was followed (%d fetches of its target)", n)
			}
			// The failure is remembered for a minute, then retried.
			s.lookup(context.Background(), id)
			if n := srv.hitsOf("/c.json"); n != 1 {
				t.Errorf("%d fetches within a minute of a failure, want 1", n)
			}
			clock.Advance(time.Minute)
			s.lookup(context.Background(), id)
			if n := srv.hitsOf("/c.json"); n != 2 {
				t.Errorf("%d fetches a minute after a failure, want 2", n)
			}
		})
	}
}

// TestCIMDPrivateAddress fetches with the real SSRF-safe client: a name that resolves to
// loopback is refused at connect time, an address literal before any connection.
func TestCIMDPrivateAddress(t *testing.T) {
	srv := newCIMDServer(t, true, map[string]cimdDoc{"/client.json": {contentType: "application/json", body: goodCIMD}})
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	s := newClientsServer(t, nil) // InsecureCIMDAllowPrivate false
	for _, id := range []string{
		"https://localhost:" + port + "/client.json", // resolves to 127.0.0.1 / ::1: refused by the dialer
		"https://127.0.0.1:" + port + "/client.json", // refused before dialing
		"https://[::1]:" + port + "/client.json",
		"https://[::ffff:127.0.0.1]:" + port + "/client.json",
	} {
		t.Run(id, func(t *testing.T) {
			_, err := s.lookup(context.Background(), id)
			if !errors.Is(err, ErrUnknownClient) || !errors.Is(err, errPrivateAddress) {
				t.Errorf("client(%q) = %v, want ErrUnknownClient and errPrivateAddress", id, err)
			}
		})
	}
	if n := srv.hitsOf("/client.json"); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
}

func TestCIMDPlainHTTPOnlyInsecure(t *testing.T) {
	srv := newCIMDServer(t, false, map[string]cimdDoc{"/client.json": {contentType: "application/json", body: goodCIMD}})
	s := newClientsServer(t, nil)
	if _, err := s.lookup(context.Background(), srv.URL+"/client.json"); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("client(%q) without InsecureCIMDAllowPrivate = %v, want ErrUnknownClient", srv.URL, err)
	}
	if n := srv.hitsOf("/client.json"); n != 0 {
		t.Errorf("plain http fetched %d times", n)
	}
}

func TestCIMDSharedFetch(t *testing.T) {
	srv := newCIMDServer(t, false, map[string]cimdDoc{"/client.json": {contentType: "application/json", body: goodCIMD, delay: 100 * time.Millisecond}})
	s := newClientsServer(t, func(c *Config) { c.InsecureCIMDAllowPrivate = true })
	id := srv.URL + "/client.json"
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Go(func() {
			c, err := s.lookup(context.Background(), id)
			if err != nil || c.ID != id {
				failed.Add(1)
			}
			c.RedirectURIs[0] = "https://evil.example/" // each caller gets its own copy
		})
	}
	wg.Wait()
	if failed.Load() != 0 || srv.hitsOf("/client.json") != 1 {
		t.Errorf("20 concurrent lookups: %d failed, %d fetches; want 0 and 1", failed.Load(), srv.hitsOf("/client.json"))
	}
	if c, _ := s.lookup(context.Background(), id); c.RedirectURIs[0] != "https://vscode.dev/redirect" {
		t.Errorf("a caller's change reached the cache: %v", c.RedirectURIs)
	}
}

func TestCIMDCancelledCaller(t *testing.T) {
	srv := newCIMDServer(t, false, map[string]cimdDoc{"/client.json": {contentType: "application/json", body: goodCIMD, delay: 50 * time.Millisecond}})
	s := newClientsServer(t, func(c *Config) { c.InsecureCIMDAllowPrivate = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	// The caller's cancellation during the fetch does not abort it: others may share it.
	if _, err := s.lookup(ctx, srv.URL+"/client.json"); err != nil {
		t.Errorf("client() with a cancelled context = %v, want the document", err)
	}
}

func TestCIMDCheckURL(t *testing.T) {
	tests := []struct {
		name, id string
		domains  []string
		insecure bool
		ok       bool
	}{
		{"claude", "https://claude.ai/oauth/mcp-oauth-client-metadata", nil, false, true},
		{"vscode", "https://vscode.dev/oauth/client-metadata.json", nil, false, true},
		{"with port", "https://a.example:8443/c.json", nil, false, true},
		{"with query", "https://a.example/c.json?v=2", nil, false, true},
		{"allowed domain", "https://claude.ai/oauth/x", []string{"claude.ai"}, false, true},
		{"allowed subdomain", "https://app.Claude.AI./oauth/x", []string{"claude.ai"}, false, true},
		{"insecure loopback http", "http://127.0.0.1:8080/c.json", nil, true, true},
		{"insecure localhost http", "http://localhost:8080/c.json", nil, true, true},
		{"insecure private https", "https://10.1.2.3/c.json", nil, true, true},

		{"http", "http://a.example/c.json", nil, false, false},
		{"insecure http non-loopback", "http://a.example/c.json", nil, true, false},
		{"no path", "https://a.example", nil, false, false},
		{"root path", "https://a.example/", nil, false, false},
		{"fragment", "https://a.example/c.json#x", nil, false, false},
		{"empty fragment", "https://a.example/c.json#", nil, false, false},
		{"userinfo", "https://u@a.example/c.json", nil, false, false},
		{"dot segment", "https://a.example/x/./c.json", nil, false, false},
		{"dot-dot segment", "https://a.example/x/../c.json", nil, false, false},
		{"encoded dot-dot", "https://a.example/x/%2e%2e/c.json", nil, false, false},
		{"backslash", `https://a.example\@b.example/c.json`, nil, false, false},
		{"space", "https://a.example/c .json", nil, false, false},
		{"too long", "https://a.example/" + strings.Repeat("a", 2048), nil, false, false},
		{"loopback literal", "https://127.0.0.1/c.json", nil, false, false},
		{"private literal", "https://192.168.0.1/c.json", nil, false, false},
		{"metadata literal", "https://169.254.169.254/c.json", nil, false, false},
		{"mapped literal", "https://[::ffff:10.0.0.1]/c.json", nil, false, false},
		{"not an allowed domain", "https://evil.example/c.json", []string{"claude.ai"}, false, false},
		{"suffix but not subdomain", "https://evilclaude.ai/c.json", []string{"claude.ai"}, false, false},
		{"allowed domain as prefix", "https://claude.ai.evil.example/c.json", []string{"claude.ai"}, false, false},
		{"percent host", "https://a%2eexample/c.json", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cimdCache{allowPrivate: tt.insecure, domains: tt.domains}
			if err := c.checkURL(tt.id); (err == nil) != tt.ok {
				t.Errorf("checkURL(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
		})
	}
}

func TestCIMDDomainAllowlist(t *testing.T) {
	tr := &countingTransport{}
	s := newClientsServer(t, func(c *Config) {
		c.CIMDAllowedDomains = []string{"Claude.AI.", "vscode.dev"}
		c.CIMDHTTPClient = &http.Client{Transport: tr}
	})
	if _, err := s.lookup(context.Background(), "https://evil.example/client.json"); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("client() for a domain not allowed = %v, want ErrUnknownClient", err)
	}
	if tr.n.Load() != 0 {
		t.Errorf("a domain not allowed was fetched")
	}
	s.lookup(context.Background(), "https://claude.ai/oauth/mcp-oauth-client-metadata")
	if tr.n.Load() != 1 {
		t.Errorf("an allowed domain was fetched %d times, want 1", tr.n.Load())
	}
}

func TestSSRFBlocked(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.255.0.1", true}, {"::1", true},
		{"10.0.0.1", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"fe80::1%eth0", true},
		{"fc00::1", true}, {"fd00:ec2::254", true},
		{"100.64.0.1", true}, {"100.100.100.200", true}, {"0.0.0.0", true}, {"0.1.2.3", true}, {"::", true},
		{"224.0.0.1", true}, {"ff02::1", true}, {"255.255.255.255", true}, {"240.0.0.1", true},
		{"192.0.0.170", true}, {"192.0.2.1", true}, {"198.18.0.1", true}, {"198.51.100.1", true}, {"203.0.113.1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"64:ff9b::a00:1", true}, {"2002:a00:1::", true},
		{"2001:0:4136:e378::1", true}, {"2001:db8::1", true}, {"fec0::1", true},

		{"8.8.8.8", false}, {"1.1.1.1", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false}, {"160.79.104.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := ssrfBlocked(netip.MustParseAddr(tt.addr)); got != tt.blocked {
				t.Errorf("ssrfBlocked(%s) = %v, want %v", tt.addr, got, tt.blocked)
			}
			wantErr := tt.blocked
			err := ssrfControl("tcp6", netip.AddrPortFrom(netip.MustParseAddr(tt.addr), 443).String(), nil)
			if (err != nil) != wantErr {
				t.Errorf("ssrfControl(%s) = %v, want error %v", tt.addr, err, wantErr)
			}
		})
	}
	if err := ssrfControl("udp4", "8.8.8.8:53", nil); err == nil {
		t.Error("ssrfControl(udp4) = nil, want an error")
	}
}

func TestCIMDTTL(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    time.Duration
	}{
		{"none", nil, 5 * time.Minute},
		{"max-age hour", []string{"public, max-age=3600"}, time.Hour},
		{"max-age below minimum", []string{"max-age=10"}, 5 * time.Minute},
		{"max-age zero", []string{"max-age=0"}, 5 * time.Minute},
		{"max-age above cap", []string{"max-age=31536000"}, 24 * time.Hour},
		{"max-age huge", []string{"max-age=99999999999999999999"}, 5 * time.Minute},
		{"quoted", []string{`max-age="7200"`}, 2 * time.Hour},
		{"upper case", []string{"MAX-AGE=7200"}, 2 * time.Hour},
		{"no-store", []string{"no-store, max-age=3600"}, 5 * time.Minute},
		{"no-cache later header", []string{"max-age=3600", "no-cache"}, 5 * time.Minute},
		{"first max-age wins", []string{"max-age=7200, max-age=60"}, 2 * time.Hour},
		{"negative", []string{"max-age=-5"}, 5 * time.Minute},
		{"garbage", []string{"max-age=abc"}, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add("Cache-Control", v)
			}
			if got := cimdTTL(h); got != tt.want {
				t.Errorf("cimdTTL(%q) = %v, want %v", tt.headers, got, tt.want)
			}
		})
	}
}

func TestCIMDCacheBounded(t *testing.T) {
	clock := newTestClock()
	c := &cimdCache{now: clock.Now, entries: map[string]cimdEntry{}}
	for i := range cimdMaxEntries {
		c.entries[fmt.Sprint(i)] = cimdEntry{expires: clock.Now().Add(time.Hour)}
	}
	c.evict()
	if n := len(c.entries); n >= cimdMaxEntries {
		t.Errorf("%d entries after evict, want fewer than %d", n, cimdMaxEntries)
	}
}

func FuzzParseCIMD(f *testing.F) {
	const id = "https://client.example/oauth/metadata.json"
	f.Add([]byte(fmt.Sprintf(goodCIMD, id)))
	for _, kc := range knownClients {
		f.Add([]byte(`{"client_id":"` + id + `",` + strings.TrimPrefix(kc.body, "{")))
	}
	f.Add([]byte(`{"client_id":"` + id + `","redirect_uris":["https://a.example/cb"],"client_secret":"x"}`))
	f.Add([]byte(`{"client_id":"https://client.example/oauth/metadata.json/","redirect_uris":["https://a.example/cb"]}`))
	allowed, _ := newScopeSet([]string{"mcp:read"})
	scopes := allowed.supported // mcp:read offline_access
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseCIMD(id, body, allowed)
		if err != nil {
			var me *metadataError
			if !errors.As(err, &me) {
				t.Fatalf("parseCIMD(%q) = %v, want a metadata error", body, err)
			}
			return
		}
		if c.ID != id || c.Kind != "cimd" || c.TokenEndpointAuthMethod != "none" {
			t.Fatalf("parseCIMD(%q) = id %q, kind %q, method %q", body, c.ID, c.Kind, c.TokenEndpointAuthMethod)
		}
		if fields, _ := parseMetadataObject(body); fields["client_secret"] != nil {
			t.Fatalf("parseCIMD accepted a document with client_secret: %q", body)
		}
		checkParsedClient(t, c, scopes)
	})
}
