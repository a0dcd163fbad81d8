package forwarded

// The canonical forms rules are matched against: the host and the path as the upstream
// will serve them.

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
)

// sameHost compares two host[:port] values canonically.
func sameHost(a, b string) bool {
	ca, errA := CanonicalHost(a, "")
	cb, errB := CanonicalHost(b, "")
	return errA == nil && errB == nil && ca == cb
}

// CanonicalHost lower-cases a host[:port], drops a trailing dot and the scheme's default
// port (443 for "https", 80 for "http"; scheme "" keeps every port), and rejects anything
// that is not a DNS name or an IP literal.
func CanonicalHost(hostport, scheme string) (string, error) {
	if len(hostport) > 261 {
		return "", fmt.Errorf("%w: host too long", ErrMalformed)
	}
	host, port := hostport, ""
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", fmt.Errorf("%w: bad IPv6 host", ErrMalformed)
		}
		host, port = hostport[:end+1], hostport[end+1:]
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("%w: bad IPv6 host", ErrMalformed)
		}
		host = "[" + a.String() + "]"
	} else {
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host, port = host[:i], host[i:]
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		if !validDNSName(host) {
			return "", fmt.Errorf("%w: bad host name", ErrMalformed)
		}
	}
	if port != "" {
		p := port[1:]
		if port[0] != ':' || p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return "", fmt.Errorf("%w: bad port", ErrMalformed)
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

// NormalizePath turns a raw request-target into the path an upstream will serve, so that
// rules match what is served, not what was typed (heimdall GHSA-3q34-rx83-r6mq,
// oauth2-proxy GHSA-pxq7-h93f-9jrg, GHSA-7rh7-c77v-6434):
//   - the query and fragment are cut off and never matched;
//   - percent-escapes are decoded once; an escape that decodes to '/', '\\', '?', '#',
//     '%' or a control character is refused, since upstreams disagree on what it means;
//   - raw control characters, spaces, backslashes and non-ASCII bytes are refused;
//   - ";params" are removed from every segment (servlet-style upstreams ignore them);
//   - "//", "." and ".." are resolved as RFC 3986 §5.2.4 does.
func NormalizePath(raw string) (string, error) {
	if len(raw) > maxURILength {
		return "", fmt.Errorf("%w: URI longer than %d bytes", ErrMalformed, maxURILength)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" || raw[0] != '/' {
		return "", fmt.Errorf("%w: the URI is not an absolute path", ErrMalformed)
	}
	clean := true // no escapes, params or dot/double-slash segments: raw is already normal
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c <= ' ' || c >= 0x7f || c == '\\' {
			return "", fmt.Errorf("%w: the URI holds a control, space, backslash or non-ASCII byte", ErrMalformed)
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
			return "", fmt.Errorf("%w: bad percent-encoding", ErrMalformed)
		}
		d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
		if d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '?' || d == '#' || d == '%' {
			return "", fmt.Errorf("%w: an encoded separator or control character", ErrMalformed)
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
