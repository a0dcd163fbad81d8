package oauth

import (
	"github.com/mcpguard/mcpguard/auth"

	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcpguard/mcpguard/store"
)

// maxRedirectURILen bounds a redirect URI (and a client_id URL); browsers and proxies
// commonly cap URLs near 2 KiB, so a longer one is not a real callback.
const maxRedirectURILen = 2048

// Application types of OIDC Dynamic Registration §2, which MCP 2026-07-28 requires at DCR.
const (
	appTypeWeb    = "web"
	appTypeNative = "native"
)

// refusedSchemes are URI schemes no redirect may use, whatever its shape: they run code,
// read local files, or are not callbacks at all. http and https have their own rules.
var refusedSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "data": true, "file": true, "about": true,
	"blob": true, "filesystem": true, "ws": true, "wss": true, "ftp": true, "ftps": true,
	"mailto": true, "tel": true, "sms": true, "intent": true, "view-source": true,
	"jar": true, "chrome": true, "chrome-extension": true, "moz-extension": true,
	"resource": true, "urn": true, "gopher": true, "ldap": true, "smb": true, "ssh": true,
	"telnet": true, "irc": true, "news": true, "nntp": true, "feed": true, "cid": true, "mid": true,
}

// validateRedirectURI checks a redirect URI a client registers (RFC 7591 §2, OAuth 2.1
// §2.3.1, RFC 8252 §7). It accepts exactly three shapes:
//
//   - https with a host, no userinfo;
//   - http only to a loopback host: 127.0.0.1, [::1] or localhost, any or no port (RFC 8252 §7.3);
//   - a private-use scheme of a native app (RFC 8252 §7.1): a reverse-DNS scheme with a
//     dot (com.example.app:/cb), or any other non-reserved scheme in authority form
//     (cursor://anysphere.cursor-mcp/oauth/callback).
//
// Everywhere: at most 2048 bytes of printable ASCII (no spaces, controls, or raw
// non-ASCII), no fragment (RFC 6749 §3.1.2), no '*' wildcard, no backslash, no
// percent-encoding in the host.
//
// applicationType must be "", "web" or "native", but does not narrow the shapes: MCP says
// not to reject "web" with a loopback URI from older clients, and Cursor registers its
// cursor:// callback as "web" (better-auth/better-auth#10946). The code is bound to the
// client's PKCE verifier either way.
func validateRedirectURI(raw, applicationType string) error {
	switch applicationType {
	case "", appTypeWeb, appTypeNative:
	default:
		return fmt.Errorf("oauth: application_type %q is neither %q nor %q", applicationType, appTypeWeb, appTypeNative)
	}
	if raw == "" {
		return errors.New("oauth: redirect URI is empty")
	}
	if len(raw) > maxRedirectURILen {
		return fmt.Errorf("oauth: redirect URI is longer than %d bytes", maxRedirectURILen)
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b >= 0x7f {
			return errors.New("oauth: redirect URI contains a space, a control character or a non-ASCII byte")
		}
	}
	switch {
	case strings.Contains(raw, "#"):
		return errors.New("oauth: redirect URI has a fragment")
	case strings.Contains(raw, "*"):
		return errors.New("oauth: redirect URI has a wildcard")
	case strings.Contains(raw, `\`):
		return errors.New("oauth: redirect URI has a backslash")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("oauth: redirect URI does not parse")
	}
	switch {
	case u.Scheme == "":
		return errors.New("oauth: redirect URI is not absolute")
	case u.User != nil || strings.Contains(u.Host, "@"):
		return errors.New("oauth: redirect URI has userinfo")
	case u.Opaque != "":
		return fmt.Errorf("oauth: redirect URI with scheme %q must be hierarchical (%s:/path or %s://host/path)", u.Scheme, u.Scheme, u.Scheme)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("oauth: https redirect URI has no host")
		}
		return checkURIHost(u.Host)
	case "http":
		if _, ok := splitLoopback(raw); !ok {
			return errors.New("oauth: http redirect URIs are allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https")
		}
		return nil
	}
	if refusedSchemes[u.Scheme] {
		return fmt.Errorf("oauth: redirect URI scheme %q is not allowed", u.Scheme)
	}
	if !strings.Contains(u.Scheme, ".") && u.Host == "" {
		return fmt.Errorf("oauth: private-use redirect URI scheme %q needs a reverse-DNS name (com.example.app:/callback) or a host (%s://host/callback)", u.Scheme, u.Scheme)
	}
	if u.Host == "" && u.Path == "" {
		return fmt.Errorf("oauth: private-use redirect URI with scheme %q has no path", u.Scheme)
	}
	if u.Host != "" {
		return checkURIHost(u.Host)
	}
	return nil
}

// checkURIHost accepts a DNS-style host name or a bracketed IPv6 literal without zone,
// each with an optional numeric port.
func checkURIHost(hostport string) error {
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.Index(hostport, "]")
		if end < 0 {
			return errors.New("oauth: redirect URI host has an unclosed bracket")
		}
		host, port = hostport[1:end], hostport[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return errors.New("oauth: redirect URI host is not an IPv6 address")
		}
	} else if i := strings.LastIndex(hostport, ":"); i >= 0 {
		host, port = hostport[:i], hostport[i:]
	}
	if port != "" && !validPort(port) {
		return errors.New("oauth: redirect URI port is not a number from 1 to 65535")
	}
	if strings.HasPrefix(hostport, "[") {
		return nil
	}
	if host == "" || host[0] == '.' || host[0] == '-' {
		return errors.New("oauth: redirect URI host is empty or malformed")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("oauth: redirect URI host has the character %q", c)
		}
	}
	return nil
}

// validPort reports whether p is ":" followed by a port from 1 to 65535.
func validPort(p string) bool {
	digits, ok := strings.CutPrefix(p, ":")
	if !ok || digits == "" || len(digits) > 5 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(digits)
	return err == nil && n >= 1 && n <= 65535
}

// loopbackURI is an http loopback redirect URI taken apart: host as written
// ("127.0.0.1", "[::1]" or "localhost"), port ("" when absent) and the rest (path and
// query, exactly as written).
type loopbackURI struct {
	host, port, rest string
}

// splitLoopback takes apart an http redirect URI to a loopback host (auth.IsLoopbackHost:
// localhost, 127.0.0.0/8 or [::1], RFC 8252 §7.3 and §8.3). It works on the
// string, not on a url.URL, so that nothing is normalised: two URIs match only if their
// path and query bytes are equal. Userinfo, fragments and bad ports fail.
func splitLoopback(raw string) (loopbackURI, bool) {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		return loopbackURI{}, false
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.Contains(tail, "#") {
		return loopbackURI{}, false
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		if end := strings.Index(authority, "]"); end >= 0 {
			host, port = authority[:end+1], authority[end+1:]
		}
	} else if i := strings.Index(authority, ":"); i >= 0 {
		host, port = authority[:i], authority[i:]
	}
	if !auth.IsLoopbackHost(host) || (port != "" && !validPort(port)) {
		return loopbackURI{}, false
	}
	return loopbackURI{host: host, port: port, rest: tail}, true
}

// isNativeRedirect reports whether raw is a loopback or private-use redirect URI: the
// kinds only a native app can receive (RFC 8252 §7).
func isNativeRedirect(raw string) bool {
	if _, ok := splitLoopback(raw); ok {
		return true
	}
	scheme, _, ok := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	return ok && scheme != "http" && scheme != "https"
}

// redirectAllowed reports whether requested matches one of c.RedirectURIs: byte for byte,
// or, for http loopback redirect URIs, with any port (RFC 8252 §7.3) and any loopback
// host (localhost, 127.0.0.0/8, [::1]: auth.IsLoopbackHost) as long as path and query are
// byte-identical. A loopback redirect reaches the user's own machine whichever way its
// host is written (RFC 8252 §8.3 describes localhost as functioning like the loopback IP
// literals), and clients mix the forms: Claude Code publishes http://127.0.0.1/callback
// and http://localhost/callback and sends http://localhost:<port>/callback, MCP
// Inspector registers one form and listens on both. The equivalence never extends to a
// non-loopback host, to https, or to another path or query. No other normalisation.
func redirectAllowed(c store.Client, requested string) bool {
	if requested == "" {
		return false
	}
	for _, r := range c.RedirectURIs {
		if r == requested {
			return true
		}
	}
	rq, ok := splitLoopback(requested)
	if !ok || validateRedirectURI(requested, "") != nil {
		return false
	}
	for _, r := range c.RedirectURIs {
		if rr, ok := splitLoopback(r); ok && rr.rest == rq.rest {
			return true
		}
	}
	return false
}
