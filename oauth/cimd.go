package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
// 2025-11-25 "Client ID Metadata Documents"): a client_id that is an https URL names a
// JSON document of the client's metadata, fetched and cached here.
const (
	cimdTimeout    = 5 * time.Second
	cimdMinTTL     = 5 * time.Minute // also for no-store, no-cache and a missing max-age
	cimdMaxTTL     = 24 * time.Hour
	cimdFailTTL    = time.Minute // failures are remembered this long, to avoid hammering
	cimdMaxEntries = 10000
)

// errPrivateAddress reports a CIMD URL that leads to an address mcpguard refuses to
// fetch from (SSRF).
var errPrivateAddress = errors.New("oauth: client metadata URL leads to a loopback, private or reserved address")

// errRedirected reports a CIMD fetch answered by a redirect: documents are never
// followed elsewhere.
var errRedirected = errors.New("oauth: client metadata fetch was redirected")

// reservedPrefixes are the non-public ranges netip's predicates do not cover.
var reservedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network" (RFC 791)
		"100.64.0.0/10",   // shared address space, CGNAT (RFC 6598); Alibaba's metadata 100.100.100.200
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",    // TEST-NET-1
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"240.0.0.0/4",     // reserved, and 255.255.255.255
		"64:ff9b::/96",    // NAT64 (RFC 6052): embeds any IPv4 address
		"64:ff9b:1::/48",  // local-use NAT64 (RFC 8215)
		"100::/64",        // discard-only (RFC 6666)
		"2001::/32",       // Teredo: embeds an IPv4 address
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4: embeds an IPv4 address
		"fec0::/10",       // deprecated site-local
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// ssrfBlocked reports whether a CIMD fetch must not connect to a: loopback, private
// (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata address,
// fe80::/10), multicast, unspecified, and the reserved ranges above.
func ssrfBlocked(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ssrfControl is the dialer's Control hook: it sees the address actually being connected
// to, after DNS resolution, so a name that resolves (or re-resolves) to a private address
// is refused too (DNS rebinding).
func ssrfControl(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("oauth: client metadata fetch over %q refused", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || ssrfBlocked(ap.Addr()) {
		return errPrivateAddress
	}
	return nil
}

// refuseRedirect is a CheckRedirect that follows nothing.
func refuseRedirect(*http.Request, []*http.Request) error { return errRedirected }

// newCIMDHTTPClient builds the SSRF-safe client documents are fetched with: no proxy
// (it would hide the real destination), the dialer's Control check, no redirects, and a
// 5 s deadline. allowPrivate (tests only) drops the address check.
func newCIMDHTTPClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: cimdTimeout}
	if !allowPrivate {
		d.Control = ssrfControl
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    cimdTimeout,
			ResponseHeaderTimeout:  cimdTimeout,
			MaxResponseHeaderBytes: 16 << 10,
			MaxIdleConns:           16,
			IdleConnTimeout:        30 * time.Second,
		},
		Timeout:       cimdTimeout,
		CheckRedirect: refuseRedirect,
	}
}

// cimdCache fetches Client ID Metadata Documents and keeps them, and failures, for a
// while. Concurrent lookups of one URL share a fetch.
type cimdCache struct {
	client       *http.Client
	now          func() time.Time
	allowPrivate bool
	domains      []string // lower case, no trailing dot; empty allows any
	scopes       scopeSet
	report       func(result string)

	mu       sync.Mutex
	entries  map[string]cimdEntry
	inflight map[string]*cimdCall
}

type cimdEntry struct {
	client  store.Client
	err     error
	expires time.Time
}

type cimdCall struct {
	done  chan struct{}
	entry cimdEntry
}

// isURL reports whether id is meant as a metadata document URL; only such ids are
// ever fetched.
func (c *cimdCache) isURL(id string) bool {
	return strings.HasPrefix(id, "https://") || (c.allowPrivate && strings.HasPrefix(id, "http://"))
}

// checkURL applies the draft's rules to a client_id URL: https, a host, a path other
// than "/", no dot segments, no fragment, no userinfo; a query is allowed (the draft's
// MAY). Then mcpguard's: at most 2048 bytes of printable ASCII, not an IP literal of a
// refused address, and within CIMDAllowedDomains when set.
func (c *cimdCache) checkURL(id string) error {
	if len(id) > maxRedirectURILen {
		return fmt.Errorf("oauth: client_id URL is longer than %d bytes", maxRedirectURILen)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return errors.New("oauth: client_id URL has a space, control, backslash or non-ASCII byte")
		}
	}
	u, err := url.Parse(id)
	if err != nil {
		return errors.New("oauth: client_id URL does not parse")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	switch {
	case u.Scheme != "https" && !(c.allowPrivate && u.Scheme == "http" && (host == "127.0.0.1" || host == "::1" || host == "localhost")):
		return errors.New("oauth: client_id URL must use https")
	case u.Host == "" || u.Opaque != "":
		return errors.New("oauth: client_id URL has no host")
	case u.User != nil:
		return errors.New("oauth: client_id URL has userinfo")
	case strings.Contains(id, "#"):
		return errors.New("oauth: client_id URL has a fragment")
	case u.Path == "" || u.Path == "/":
		return errors.New("oauth: client_id URL needs a path")
	case checkURIHost(u.Host) != nil:
		return errors.New("oauth: client_id URL host is malformed")
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("oauth: client_id URL has a dot segment")
		}
	}
	if a, err := netip.ParseAddr(host); err == nil && !c.allowPrivate && ssrfBlocked(a) {
		return errPrivateAddress
	}
	if len(c.domains) > 0 && !slices.ContainsFunc(c.domains, func(d string) bool {
		return host == d || strings.HasSuffix(host, "."+d)
	}) {
		return fmt.Errorf("oauth: client_id URL host %q is not in the allowed CIMD domains", host)
	}
	return nil
}

// get returns the client the document at id describes, from the cache or fetched.
func (c *cimdCache) get(ctx context.Context, id string) (store.Client, error) {
	if err := c.checkURL(id); err != nil {
		return store.Client{}, err
	}
	c.mu.Lock()
	if e, ok := c.entries[id]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return cloneClient(e.client), e.err
	}
	if call, ok := c.inflight[id]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return cloneClient(call.entry.client), call.entry.err
		case <-ctx.Done():
			return store.Client{}, ctx.Err()
		}
	}
	call := &cimdCall{done: make(chan struct{})}
	c.inflight[id] = call
	c.mu.Unlock()

	call.entry = c.fetch(ctx, id)

	c.mu.Lock()
	delete(c.inflight, id)
	if len(c.entries) >= cimdMaxEntries {
		c.evict()
	}
	c.entries[id] = call.entry
	c.mu.Unlock()
	close(call.done)
	return cloneClient(call.entry.client), call.entry.err
}

// evict drops expired entries, or, if none has expired, an arbitrary tenth. c.mu is held.
func (c *cimdCache) evict() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < cimdMaxEntries*9/10 {
			break
		}
		delete(c.entries, k)
	}
}

// fetch gets and validates the document at id; the caller's cancellation does not abort
// it, since other lookups may be waiting for it, but 5 s do.
func (c *cimdCache) fetch(ctx context.Context, id string) cimdEntry {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cimdTimeout)
	defer cancel()
	fail := func(result string, err error) cimdEntry {
		c.report(result)
		return cimdEntry{err: err, expires: c.now().Add(cimdFailTTL)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return fail("fetch_error", fmt.Errorf("oauth: client metadata request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fail("fetch_error", fmt.Errorf("oauth: client metadata fetch: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("fetch_error", fmt.Errorf("oauth: client metadata fetch answered status %d", resp.StatusCode))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail(codeInvalidClientMetadata, fmt.Errorf("oauth: client metadata has content type %q, not application/json", resp.Header.Get("Content-Type")))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody+1))
	if err != nil {
		return fail("fetch_error", fmt.Errorf("oauth: client metadata read: %w", err))
	}
	if len(body) > maxMetadataBody {
		return fail(codeInvalidClientMetadata, fmt.Errorf("oauth: client metadata document is larger than %d bytes", maxMetadataBody))
	}
	cl, err := parseCIMD(id, body, c.scopes)
	if err != nil {
		result := codeInvalidClientMetadata
		if me := (*metadataError)(nil); errors.As(err, &me) {
			result = me.code
		}
		return fail(result, err)
	}
	cl.CreatedAt = c.now()
	c.report("ok")
	return cimdEntry{client: cl, expires: c.now().Add(cimdTTL(resp.Header))}
}

// parseCIMD validates the metadata document body fetched from id: its client_id must be
// id byte for byte, it may not carry a client secret, and the rest is checked as a
// registration is (public clients only).
func parseCIMD(id string, body []byte, scopes scopeSet) (store.Client, error) {
	fields, err := parseMetadataObject(body)
	if err != nil {
		return store.Client{}, err
	}
	var docID string
	if err := metadataField(fields, "client_id", &docID); err != nil {
		return store.Client{}, err
	}
	if docID != id {
		return store.Client{}, invalidMetadata("the document's client_id is not the URL it was fetched from")
	}
	for _, secret := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := fields[secret]; ok {
			return store.Client{}, invalidMetadata("a client ID metadata document must not carry %s", secret)
		}
	}
	c, err := clientFromMetadata(fields, kindCIMD, scopes)
	if err != nil {
		return store.Client{}, err
	}
	c.ID = id
	return c, nil
}

// cimdTTL is how long a fetched document is kept: Cache-Control max-age within [5 min,
// 24 h]; 5 min for no-store, no-cache or no max-age.
func cimdTTL(h http.Header) time.Duration {
	ttl := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return cimdMinTTL
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 && ttl < 0 {
					ttl = time.Duration(min(n, int64(cimdMaxTTL/time.Second))) * time.Second
				}
			}
		}
	}
	return min(max(ttl, cimdMinTTL), cimdMaxTTL)
}

// cloneClient returns a copy of c that shares no slice with it.
func cloneClient(c store.Client) store.Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	return c
}
