package forwarded

// The canonical forms rules are matched against: the host and the path as the upstream
// will serve them.

import (
	"fmt"
	"net/netip"
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

// JudgedPath is the path of the original request as it is judged.
type JudgedPath struct {
	// Path is the raw path with the escapes of other characters decoded once, for
	// comparison only, and, when Params is set, ";params" cut from every segment; never
	// a query or fragment.
	Path string
	// Params is set when a segment holds a ';'. Such a path is ambiguous unless the
	// resource it falls in accepts path parameters (servlet containers' ;jsessionid, a
	// weaker choice): Path then has them cut.
	Params bool
}

// JudgePath judges a raw request-target. It refuses, never resolves, what upstream
// routers disagree on (Go's ServeMux, Express and Starlette serve /mcp/..;/status and
// /mcp/%2e%2e/status from /mcp/, a resolver calls them /status; heimdall
// GHSA-3q34-rx83-r6mq, oauth2-proxy GHSA-pxq7-h93f-9jrg, GHSA-7rh7-c77v-6434), so
// what it returns is exactly the path the upstream receives:
//   - the query and fragment are cut off and never matched;
//   - a '.' or '..' segment (literal, percent-encoded, or once ;params are cut), an
//     empty segment ('//'), a segment that is only ;params, a backslash, or an escape
//     that decodes to '.', '/', '\', '?', '#', '%' or a control byte is
//     ErrAmbiguousPath;
//   - raw control characters, spaces and non-ASCII bytes, and bad escapes, are
//     ErrMalformed;
//   - other escapes are decoded once, for comparison.
//
// The last segment may be empty (a trailing slash): /mcp/ is judged as /mcp/.
func JudgePath(raw string) (JudgedPath, error) {
	var jp JudgedPath
	if len(raw) > maxURILength {
		return jp, fmt.Errorf("%w: URI longer than %d bytes", ErrMalformed, maxURILength)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" || raw[0] != '/' {
		return jp, fmt.Errorf("%w: the URI is not an absolute path", ErrMalformed)
	}
	plain := true // no escape and no ';': raw is its own judged form
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c <= ' ' || c >= 0x7f:
			return jp, fmt.Errorf("%w: the URI holds a control, space or non-ASCII byte", ErrMalformed)
		case c == '\\':
			return jp, fmt.Errorf("%w: a backslash", ErrAmbiguousPath)
		case c == '%' || c == ';':
			plain = false
		}
	}
	var b strings.Builder
	if !plain {
		b.Grow(len(raw))
	}
	for start := 1; start <= len(raw); {
		end := start + strings.IndexByte(raw[start:], '/')
		if end < start {
			end = len(raw)
		}
		seg := raw[start:end]
		if seg == "" && end < len(raw) {
			return jp, fmt.Errorf("%w: an empty segment", ErrAmbiguousPath)
		}
		name := seg
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			jp.Params, name = true, seg[:j]
			if name == "" {
				return jp, fmt.Errorf("%w: a segment that is only ;params", ErrAmbiguousPath)
			}
		}
		if !plain {
			// The whole segment is decoded to refuse what its params hide; the judged
			// form keeps its name only.
			if _, err := decodeSegment(seg); err != nil {
				return jp, err
			}
			dec, _ := decodeSegment(name)
			b.WriteByte('/')
			b.WriteString(dec)
		}
		if name == "." || name == ".." {
			return jp, fmt.Errorf("%w: a dot segment", ErrAmbiguousPath)
		}
		start = end + 1
	}
	if plain {
		jp.Path = raw
	} else {
		jp.Path = b.String()
	}
	return jp, nil
}

// decodeSegment decodes the escapes of one segment once. An escape of '.', '/', '\',
// '?', '#', '%' or a control byte is ErrAmbiguousPath: upstreams disagree on what it
// means.
func decodeSegment(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("%w: bad percent-encoding", ErrMalformed)
		}
		d := unhex(s[i+1])<<4 | unhex(s[i+2])
		if d < 0x20 || d == 0x7f || d == '.' || d == '/' || d == '\\' || d == '?' || d == '#' || d == '%' {
			return "", fmt.Errorf("%w: an escape of '.', a separator, '%%' or a control byte", ErrAmbiguousPath)
		}
		b.WriteByte(d)
		i += 2
	}
	return b.String(), nil
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
