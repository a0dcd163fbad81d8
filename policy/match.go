package policy

import "strings"

// Finding the resource of a request: by host (exact, then without its port, then "*"),
// then by the longest path prefix.

// match finds the resource for a canonical host and a path, and whether the path is
// public there: the longest prefix among the resources that name the host, else among
// those that name it without its port, else among the "*" resources; configuration
// order breaks ties. So a request for a.test:8443 that no resource names is a.test's,
// never a catch-all's.
func (p *Policy) match(host, reqPath string) (*Resource, bool) {
	if !validRequestPath(reqPath) {
		return nil, false
	}
	if r, public := longestMatch(p.byHost[host], reqPath); r != nil {
		return r, public
	}
	if name, ok := withoutPort(host); ok {
		if r, public := longestMatch(p.byHost[name], reqPath); r != nil {
			return r, public
		}
	}
	return longestMatch(p.anyHost, reqPath)
}

// withoutPort returns host without its ":port", and whether it had one. A bracketed
// IPv6 literal keeps its brackets.
func withoutPort(host string) (string, bool) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host, false // no port, or the colon is inside an IPv6 literal
	}
	if strings.HasPrefix(host, "[") && host[i-1] != ']' {
		return host, false // an unbracketed colon after a bracket: not host:port
	}
	return host[:i], true
}

func longestMatch(candidates []*Resource, reqPath string) (best *Resource, public bool) {
	bestLen := -1
	for _, r := range candidates {
		if pf, ok := r.longestPrefix(reqPath); ok && len(pf.path) > bestLen {
			best, public, bestLen = r, pf.public, len(pf.path)
		}
	}
	return best, public
}

// longestPrefix returns the longest of the resource's prefixes that reqPath is under, so
// a protected path nested in a public one stays protected. At equal length the public
// prefix wins.
func (r *Resource) longestPrefix(reqPath string) (prefix, bool) {
	for _, pf := range r.prefixes {
		if underPrefix(reqPath, pf.path) {
			return pf, true
		}
	}
	return prefix{}, false
}

// underPrefix reports whether p is prefix or below it at a segment boundary:
// "/mcp" covers "/mcp" and "/mcp/x", never "/mcpx"; "/" covers every path.
func underPrefix(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// validRequestPath reports whether p is absolute and free of "." and ".." segments.
// The caller cleans paths; one that is not clean matches no resource, so a prefix
// check can never be walked out of (/public/../mcp).
func validRequestPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p) - i
		}
		if seg := p[i : i+j]; seg == "." || seg == ".." {
			return false
		}
		i += j + 1
	}
	return true
}

// canonicalRequestHost makes Decide robust against a caller that forgot to case-fold a
// host or drop its trailing dot: such a host must not fall through to a "*" resource
// (GHSA-j748-h363-wqj8). It allocates only for a non-canonical host.
func canonicalRequestHost(h string) string {
	h = lowerASCII(h)
	if strings.HasSuffix(h, ".") {
		return h[:len(h)-1]
	}
	if i := strings.LastIndexByte(h, ':'); i > 0 && h[i-1] == '.' {
		return h[:i-1] + h[i:]
	}
	return h
}
