// Package forwarded rebuilds the request an edge proxy received from the headers it sends
// to an auth service: method, scheme, canonical host and normalized path, the client
// address, and whether the proxy itself is one to believe. It is pure (no I/O) and
// imports nothing of mcpguard.
package forwarded

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// maxURILength bounds the original request URI mcpguard will judge.
const maxURILength = 8192

// ErrMalformed marks an original request that cannot be judged safely; every error of
// this package but ErrAmbiguousPath wraps it. mcpguard answers such a request with 403
// and never allows it.
var ErrMalformed = errors.New("malformed forwarded request")

// ErrAmbiguousPath marks an original path that upstream routers may serve differently
// from how it would be judged (see JudgePath). mcpguard answers it with 403
// ambiguous_path and never resolves it.
var ErrAmbiguousPath = errors.New("ambiguous path")

// Original is the request the edge proxy received, reconstructed from what the proxy
// sent to /auth.
type Original struct {
	Method string
	Scheme string
	Host   string // canonical: lower case, no trailing dot, no default port
	Path   string // as JudgePath judges it; never a query or fragment
	// PathParams is set when a segment of the path holds ";params" (cut from Path): an
	// ambiguous path unless its resource accepts path parameters.
	PathParams bool
}

// Parse reconstructs the original request from the dialect the proxy speaks:
//   - Envoy ext_authz (HTTP service): /auth/<original path> with the original method and Host;
//   - nginx auth_request: X-Original-URL, or X-Original-URI with X-Forwarded-Host;
//   - Traefik forwardAuth and Caddy forward_auth: X-Forwarded-Uri and X-Forwarded-Host.
//
// envoyPath is the raw path after the /auth prefix ("" for the other dialects). Only
// canonical header names are read: net/http keeps X_Forwarded_Uri as its own key.
// When two dialects are present and disagree, the request is malformed.
func Parse(r *http.Request, envoyPath string) (Original, error) {
	h := r.Header
	var o Original
	var err error

	method, err := single(h, "X-Forwarded-Method")
	if err != nil {
		return o, err
	}
	if m, err := single(h, "X-Original-Method"); err != nil {
		return o, err
	} else if m != "" {
		if method != "" && !strings.EqualFold(m, method) {
			return o, fmt.Errorf("%w: X-Original-Method and X-Forwarded-Method disagree", ErrMalformed)
		}
		method = m
	}
	proto, err := single(h, "X-Forwarded-Proto")
	if err != nil {
		return o, err
	}
	fwdHost, err := single(h, "X-Forwarded-Host")
	if err != nil {
		return o, err
	}
	fwdURI, err := single(h, "X-Forwarded-Uri")
	if err != nil {
		return o, err
	}
	origURL, err := single(h, "X-Original-Url")
	if err != nil {
		return o, err
	}
	origURI, err := single(h, "X-Original-Uri")
	if err != nil {
		return o, err
	}

	host := fwdHost
	var rawURI string
	switch {
	case envoyPath != "":
		// Envoy keeps the original method and Host on the check request. A forwarded
		// method or host the client may have sent must agree with them: otherwise a
		// client header could turn a POST into an allowed preflight.
		if method != "" && !strings.EqualFold(method, r.Method) {
			return o, fmt.Errorf("%w: X-Forwarded-Method or X-Original-Method disagrees with the check request's method", ErrMalformed)
		}
		if host != "" && !sameHost(host, r.Host) {
			return o, fmt.Errorf("%w: X-Forwarded-Host disagrees with the check request's Host", ErrMalformed)
		}
		method, host = r.Method, r.Host
		rawURI = envoyPath
	case origURL != "":
		u, err := url.Parse(origURL)
		if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
			return o, fmt.Errorf("%w: X-Original-URL is not an absolute URL", ErrMalformed)
		}
		if proto != "" && !strings.EqualFold(proto, u.Scheme) {
			return o, fmt.Errorf("%w: X-Original-URL and X-Forwarded-Proto disagree", ErrMalformed)
		}
		proto = u.Scheme
		if host != "" && !sameHost(host, u.Host) {
			return o, fmt.Errorf("%w: X-Original-URL and X-Forwarded-Host disagree", ErrMalformed)
		}
		host = u.Host
		rawURI = u.EscapedPath()
		if rawURI == "" {
			rawURI = "/"
		}
		if origURI != "" {
			if err := agree(origURI, rawURI, "X-Original-URI", "X-Original-URL"); err != nil {
				return o, err
			}
		}
	case origURI != "":
		rawURI = origURI
	case fwdURI != "":
		rawURI = fwdURI
	default:
		return o, fmt.Errorf("%w: no X-Forwarded-Uri, X-Original-URI or X-Original-URL", ErrMalformed)
	}
	if fwdURI != "" && rawURI != fwdURI {
		if err := agree(fwdURI, rawURI, "X-Forwarded-Uri", "the original URI"); err != nil {
			return o, err
		}
	}
	if method == "" {
		return o, fmt.Errorf("%w: no X-Forwarded-Method or X-Original-Method", ErrMalformed)
	}
	if !validToken(method) {
		return o, fmt.Errorf("%w: the original method is not an HTTP token", ErrMalformed)
	}
	o.Method = strings.ToUpper(method)

	switch strings.ToLower(proto) {
	case "https", "wss":
		o.Scheme = "https"
	case "http", "ws":
		o.Scheme = "http"
	case "":
		return o, fmt.Errorf("%w: no X-Forwarded-Proto", ErrMalformed)
	default:
		return o, fmt.Errorf("%w: X-Forwarded-Proto is neither http nor https", ErrMalformed)
	}
	if host == "" {
		return o, fmt.Errorf("%w: no X-Forwarded-Host", ErrMalformed)
	}
	if o.Host, err = CanonicalHost(host, o.Scheme); err != nil {
		return o, err
	}
	jp, err := JudgePath(rawURI)
	if err != nil {
		return o, err
	}
	o.Path, o.PathParams = jp.Path, jp.Params
	return o, nil
}

// agree fails unless two spellings of the original URI name the same path.
func agree(a, b, nameA, nameB string) error {
	pa, err := JudgePath(a)
	if err != nil {
		return err
	}
	pb, err := JudgePath(b)
	if err != nil {
		return err
	}
	if pa != pb {
		return fmt.Errorf("%w: %s and %s disagree", ErrMalformed, nameA, nameB)
	}
	return nil
}

// single returns the only value of a header, "" when absent. A repeated header or a
// comma-separated list is malformed: mcpguard never guesses which hop to believe.
func single(h http.Header, name string) (string, error) {
	v := h[name]
	switch {
	case len(v) == 0:
		return "", nil
	case len(v) > 1:
		return "", fmt.Errorf("%w: %s appears more than once", ErrMalformed, name)
	case strings.IndexByte(v[0], ',') >= 0 && name != "X-Forwarded-Uri" && name != "X-Original-Uri" && name != "X-Original-Url":
		return "", fmt.Errorf("%w: %s holds a list", ErrMalformed, name)
	}
	return strings.TrimSpace(v[0]), nil
}

// MCPHeader reads one of the headers the MCP 2026-07-28 transport mirrors from the body
// (Mcp-Protocol-Version, Mcp-Method, Mcp-Name): at most one value of at most 256 visible
// ASCII bytes, "" when absent.
func MCPHeader(h http.Header, name string) (string, error) {
	v, err := single(h, name)
	if err != nil {
		return "", err
	}
	if len(v) > 256 {
		return "", fmt.Errorf("%w: %s is longer than 256 bytes", ErrMalformed, name)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] >= 0x7f {
			return "", fmt.Errorf("%w: %s holds a control or non-ASCII byte", ErrMalformed, name)
		}
	}
	return v, nil
}

// validToken reports whether s is an RFC 9110 token of at most 32 bytes.
func validToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ClientAddr is the client address as the edge proxy saw it: the last X-Forwarded-For
// hop, which the edge proxy appends itself. The zero Addr means unknown.
func ClientAddr(h http.Header) netip.Addr {
	v := h["X-Forwarded-For"]
	if len(v) == 0 {
		return netip.Addr{}
	}
	last := v[len(v)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	last = strings.TrimSpace(last)
	if ap, err := netip.ParseAddrPort(last); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(strings.Trim(last, "[]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// PeerTrusted reports whether remoteAddr, the TCP peer of a request (the proxy itself,
// as http.Request.RemoteAddr holds it), is in one of the trusted prefixes. An IPv4
// address mapped into IPv6 counts as the IPv4 address.
func PeerTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
