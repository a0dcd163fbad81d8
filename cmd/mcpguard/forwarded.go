package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// maxURILength bounds the original request URI mcpguard will judge.
const maxURILength = 8192

// errMalformed marks an original request that cannot be judged safely. It is answered
// with 403 and never allowed.
var errMalformed = errors.New("malformed forwarded request")

// original is the request the edge proxy received, reconstructed from what the proxy
// sent to /auth.
type original struct {
	Method string
	Scheme string
	Host   string // canonical: lower case, no trailing dot, no default port
	Path   string // normalized; never a query or fragment
}

// parseOriginal reconstructs the original request from the dialect the proxy speaks:
//   - Envoy ext_authz (HTTP service): /auth/<original path> with the original method and Host;
//   - nginx auth_request: X-Original-URL, or X-Original-URI with X-Forwarded-Host;
//   - Traefik forwardAuth and Caddy forward_auth: X-Forwarded-Uri and X-Forwarded-Host.
//
// envoyPath is the raw path after the /auth prefix ("" for the other dialects). Only
// canonical header names are read: net/http keeps X_Forwarded_Uri as its own key.
// When two dialects are present and disagree, the request is malformed.
func parseOriginal(r *http.Request, envoyPath string) (original, error) {
	h := r.Header
	var o original
	var err error

	method, err := single(h, "X-Forwarded-Method")
	if err != nil {
		return o, err
	}
	if m, err := single(h, "X-Original-Method"); err != nil {
		return o, err
	} else if m != "" {
		if method != "" && !strings.EqualFold(m, method) {
			return o, fmt.Errorf("%w: X-Original-Method and X-Forwarded-Method disagree", errMalformed)
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
		// Envoy keeps the original method and Host on the check request.
		if method == "" {
			method = r.Method
		}
		if host == "" {
			host = r.Host
		}
		rawURI = envoyPath
	case origURL != "":
		u, err := url.Parse(origURL)
		if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
			return o, fmt.Errorf("%w: X-Original-URL is not an absolute URL", errMalformed)
		}
		if proto != "" && !strings.EqualFold(proto, u.Scheme) {
			return o, fmt.Errorf("%w: X-Original-URL and X-Forwarded-Proto disagree", errMalformed)
		}
		proto = u.Scheme
		if host != "" && !sameHost(host, u.Host) {
			return o, fmt.Errorf("%w: X-Original-URL and X-Forwarded-Host disagree", errMalformed)
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
		return o, fmt.Errorf("%w: no X-Forwarded-Uri, X-Original-URI or X-Original-URL", errMalformed)
	}
	if fwdURI != "" && rawURI != fwdURI {
		if err := agree(fwdURI, rawURI, "X-Forwarded-Uri", "the original URI"); err != nil {
			return o, err
		}
	}
	if method == "" {
		return o, fmt.Errorf("%w: no X-Forwarded-Method or X-Original-Method", errMalformed)
	}
	if !validToken(method) {
		return o, fmt.Errorf("%w: the original method is not an HTTP token", errMalformed)
	}
	o.Method = strings.ToUpper(method)

	switch strings.ToLower(proto) {
	case "https", "wss":
		o.Scheme = "https"
	case "http", "ws":
		o.Scheme = "http"
	case "":
		return o, fmt.Errorf("%w: no X-Forwarded-Proto", errMalformed)
	default:
		return o, fmt.Errorf("%w: X-Forwarded-Proto is neither http nor https", errMalformed)
	}
	if host == "" {
		return o, fmt.Errorf("%w: no X-Forwarded-Host", errMalformed)
	}
	if o.Host, err = canonicalHost(host, o.Scheme); err != nil {
		return o, err
	}
	if o.Path, err = normalizePath(rawURI); err != nil {
		return o, err
	}
	return o, nil
}

// agree fails unless two spellings of the original URI name the same path.
func agree(a, b, nameA, nameB string) error {
	pa, errA := normalizePath(a)
	pb, errB := normalizePath(b)
	if errA != nil || errB != nil || pa != pb {
		return fmt.Errorf("%w: %s and %s disagree", errMalformed, nameA, nameB)
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
		return "", fmt.Errorf("%w: %s appears more than once", errMalformed, name)
	case strings.IndexByte(v[0], ',') >= 0 && name != "X-Forwarded-Uri" && name != "X-Original-Uri" && name != "X-Original-Url":
		return "", fmt.Errorf("%w: %s holds a list", errMalformed, name)
	}
	return strings.TrimSpace(v[0]), nil
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

// sameHost compares two host[:port] values canonically.
func sameHost(a, b string) bool {
	ca, errA := canonicalHost(a, "")
	cb, errB := canonicalHost(b, "")
	return errA == nil && errB == nil && ca == cb
}

// canonicalHost lower-cases a host[:port], drops a trailing dot and the scheme's default
// port, and rejects anything that is not a DNS name or an IP literal.
func canonicalHost(hostport, scheme string) (string, error) {
	if len(hostport) > 261 {
		return "", fmt.Errorf("%w: host too long", errMalformed)
	}
	host, port := hostport, ""
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", fmt.Errorf("%w: bad IPv6 host", errMalformed)
		}
		host, port = hostport[:end+1], hostport[end+1:]
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("%w: bad IPv6 host", errMalformed)
		}
		host = "[" + a.String() + "]"
	} else {
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host, port = host[:i], host[i:]
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		if !validDNSName(host) {
			return "", fmt.Errorf("%w: bad host name", errMalformed)
		}
	}
	if port != "" {
		p := port[1:]
		if port[0] != ':' || p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return "", fmt.Errorf("%w: bad port", errMalformed)
		}
		if (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
			port = ""
		}
	}
	return host + port, nil
}

// validDNSName accepts letters, digits, '-', '_' and dots in non-empty labels.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// normalizePath turns a raw request-target into the path an upstream will serve, so that
// rules match what is served, not what was typed (heimdall GHSA-3q34-rx83-r6mq,
// oauth2-proxy GHSA-pxq7-h93f-9jrg, GHSA-7rh7-c77v-6434):
//   - the query and fragment are cut off and never matched;
//   - percent-escapes are decoded once; an escape that decodes to '/', '\\', '?', '#',
//     '%' or a control character is refused, since upstreams disagree on what it means;
//   - raw control characters, spaces, backslashes and non-ASCII bytes are refused;
//   - ";params" are removed from every segment (servlet-style upstreams ignore them);
//   - "//", "." and ".." are resolved as RFC 3986 §5.2.4 does.
func normalizePath(raw string) (string, error) {
	if len(raw) > maxURILength {
		return "", fmt.Errorf("%w: URI longer than %d bytes", errMalformed, maxURILength)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" || raw[0] != '/' {
		return "", fmt.Errorf("%w: the URI is not an absolute path", errMalformed)
	}
	clean := true // no escapes, params or dot/double-slash segments: raw is already normal
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c <= ' ' || c >= 0x7f || c == '\\' {
			return "", fmt.Errorf("%w: the URI holds a control, space, backslash or non-ASCII byte", errMalformed)
		}
		if c == '%' || c == ';' || (c == '/' && i+1 < len(raw) && (raw[i+1] == '/' || raw[i+1] == '.')) {
			clean = false
		}
	}
	if clean && (len(raw) == 1 || raw[len(raw)-1] != '/') {
		return raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
			return "", fmt.Errorf("%w: bad percent-encoding", errMalformed)
		}
		d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
		if d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '?' || d == '#' || d == '%' {
			return "", fmt.Errorf("%w: an encoded separator or control character", errMalformed)
		}
		b.WriteByte(d)
		i += 2
	}
	p := b.String()
	if strings.IndexByte(p, ';') >= 0 {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if j := strings.IndexByte(s, ';'); j >= 0 {
				segs[i] = s[:j]
			}
		}
		p = strings.Join(segs, "/")
	}
	return path.Clean(p), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// clientAddr is the client address as the edge proxy saw it: the last X-Forwarded-For
// hop, which the edge proxy appends itself. The zero Addr means unknown.
func clientAddr(h http.Header) netip.Addr {
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

// peerTrusted reports whether the TCP peer (the proxy itself) is a trusted proxy.
func peerTrusted(remoteAddr string, trusted []netip.Prefix) bool {
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
