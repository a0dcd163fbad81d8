package oauth

// Browser logins for the non-MCP routes mcpguard guards: /auth reads the browser
// session cookie (the session credential kind), and /login sends the person back to
// the URL that needed the login, when that URL is on a configured resource's host.

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// sessionTouchEvery bounds how often /auth pushes a session's idle expiry: at most
// once a minute per session, so a page with fifty assets costs one store read each,
// not fifty writes.
const sessionTouchEvery = time.Minute

// BrowserSessions is /auth's view of mcpguard's browser sessions: the session
// credential kind. It reads the session cookie the login set, finds its record in the
// store, and keeps it alive. Only the cookie's name and seal are mcpguard's; the
// cookie reaches /auth only when the protected app is on the issuer's host (the
// __Host- prefix forbids a Domain attribute).
type BrowserSessions struct {
	f *frontChannel
	s *Server
	// unsealed maps the SHA-256 of a cookie value to the session id it carries, so a
	// browser's every request does not pay for unsealing and gob-decoding its cookie
	// again; the session record is still read from the store each time, so a sign-out
	// or a revocation ends it at once. At most maxUnsealed entries, then it starts over.
	mu       sync.RWMutex
	unsealed map[[sha256.Size]byte]string
}

// maxUnsealed bounds BrowserSessions' cache of unsealed cookies.
const maxUnsealed = 10000

// BrowserSessions returns the session credential kind of /auth.
func (s *Server) BrowserSessions() *BrowserSessions {
	return &BrowserSessions{f: s.front, s: s, unsealed: map[[sha256.Size]byte]string{}}
}

// CookieName is the name of the session cookie: "__Host-mcpguard" for an https
// issuer, "mcpguard_session" over plain http.
func (b *BrowserSessions) CookieName() string { return b.f.cookieName }

// Authenticate returns the person whose live browser session r's cookie names, with
// Source "session". A request without the cookie, with one that does not unseal
// (forged, from another SESSION_SECRET) or whose session ended or was signed out, has
// no credential of this kind (auth.ErrNoCredentials): the answer is a login, not an
// invalid_token error. A store that cannot be reached is an error wrapping
// store.ErrUnavailable.
func (b *BrowserSessions) Authenticate(r *auth.Request) (auth.Principal, error) {
	if len(r.Header["Cookie"]) == 0 {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	c, err := (&http.Request{Header: r.Header}).Cookie(b.f.cookieName)
	if err != nil || len(c.Value) > maxCookieLen {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	id := b.sessionID(c.Value)
	if id == "" {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	now := b.f.now()
	rec, err := b.f.store.GetSession(b.s.flowCtx, id, now)
	if err == nil && now.Sub(rec.LastUsedAt) >= sessionTouchEvery {
		rec, err = b.f.store.TouchSession(b.s.flowCtx, id, now, b.f.sessionIdle)
	}
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("oauth: read the browser session: %w", err)
	}
	who := rec.Identity
	return auth.Principal{
		Subject:       who.Subject,
		Email:         who.Email,
		EmailVerified: who.EmailVerified,
		Name:          who.Name,
		Groups:        who.Groups,
		Source:        auth.SourceSession,
	}, nil
}

// sessionID returns the store key of the session the sealed cookie value carries, ""
// when it carries none or does not unseal.
func (b *BrowserSessions) sessionID(value string) string {
	sum := sha256.Sum256([]byte(value))
	b.mu.RLock()
	id, ok := b.unsealed[sum]
	b.mu.RUnlock()
	if ok {
		return id
	}
	values := map[any]any{}
	if err := securecookie.DecodeMulti(b.f.cookieName, value, &values, b.f.cookies.Codecs...); err != nil {
		return ""
	}
	secret, _ := values[keySession].(string)
	if secret == "" {
		return ""
	}
	id = hashToken(secret)
	b.mu.Lock()
	if len(b.unsealed) >= maxUnsealed {
		clear(b.unsealed)
	}
	b.unsealed[sum] = id
	b.mu.Unlock()
	return id
}

// returnOrigins are the scheme://host origins of the configured resources: the only
// places a login's rd may send the browser besides the issuer's own paths.
func returnOrigins(resources []string) map[string]bool {
	out := map[string]bool{}
	for _, raw := range resources {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			out[strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host)] = true
		}
	}
	return out
}

// nestedRedirect are what, inside rd's query, would make a redirect chain through the
// app to another site (Vouch commit 910943a's badStrings).
var nestedRedirect = []string{"http:", "https:", "data:", "ftp:", "ftps:", "javascript:", "//", `\\`, `/\`}

// safeReturn returns where a login may send the browser afterwards: rd when it is a
// local path (safeReturnPath), or an absolute URL on the origin (scheme, host and
// port, compared exactly) of a configured resource, without userinfo, whitespace,
// backslashes, control or non-ASCII bytes, without a path browsers read as another
// host, and without another URL in its query. Anything else is refused: an open
// redirect through /login would lend mcpguard's name to a phishing link.
func (f *frontChannel) safeReturn(rd string) (string, bool) {
	if p, ok := safeReturnPath(rd); ok {
		return p, true
	}
	if len(rd) == 0 || len(rd) > 2048 || rd[0] == '/' {
		return "", false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" || u.Fragment != "" {
		return "", false
	}
	if !f.returnOrigins[u.Scheme+"://"+u.Host] { // exact: a host in another case or with a default port is refused
		return "", false
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if _, ok := safeReturnPath(path); !ok {
		return "", false
	}
	if u.RawQuery != "" {
		q, err := url.QueryUnescape(u.RawQuery)
		if err != nil {
			return "", false
		}
		for range 2 { // nested encodings: %253A
			if d, err := url.QueryUnescape(q); err == nil {
				q = d
			}
		}
		lq := strings.ToLower(q)
		for _, bad := range nestedRedirect {
			if strings.Contains(lq, bad) {
				return "", false
			}
		}
	}
	return rd, true
}
