package oauth

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// The browser session: a gorilla/sessions cookie, signed (HMAC-SHA-256) and encrypted
// (AES-256-CTR) with keys derived from Config.SessionSecret. Who logged in lives in the
// store (store.Session), keyed by the hash of a random secret the cookie carries, so
// deleting the record at /logout ends every copy of the cookie. The cookie also keeps
// what is in progress: the authorization request, the upstream login and the CSRF token.
const (
	// defaultSessionTTL bounds a login: after it, the user logs in again (SESSION_TTL).
	defaultSessionTTL = 8 * time.Hour
	// defaultSessionIdle ends a login unused that long (SESSION_IDLE).
	defaultSessionIdle = time.Hour
	// cookieNameSecure is the cookie's name when the issuer is https: the __Host- prefix
	// makes browsers insist on Secure, Path=/ and no Domain.
	cookieNameSecure = "__Host-mcpguard"
	// cookieNamePlain is the cookie's name over plain http (development and tests), where
	// browsers refuse __Host- cookies.
	cookieNamePlain = "mcpguard_session"
	// maxCookieLen is securecookie's bound on an encoded value, which browsers honour.
	maxCookieLen = 4096
	// minSessionSecret is the shortest SessionSecret accepted.
	minSessionSecret = 32
	// maxUserAgent bounds the User-Agent kept with a session for display.
	maxUserAgent = 256
)

// Session value keys. Values are strings only.
const (
	keySession = "sid"  // the session's secret: 32 random bytes, base64url; the store keeps its hash
	keyCSRF    = "csrf" // the CSRF token of the forms
	keyReturn  = "rd"   // where a login without an authorization request returns

	// The pending authorization request (see authRequest).
	keyReqID       = "req_id"
	keyReqClient   = "req_client_id"
	keyReqRedirect = "req_redirect_uri"
	keyReqState    = "req_state"
	keyReqPKCE     = "req_code_challenge"
	keyReqScope    = "req_scope"
	keyReqResource = "req_resource"
	keyReqPrompt   = "req_prompt"

	// The upstream login in progress.
	keyUpState    = "up_state"
	keyUpNonce    = "up_nonce"
	keyUpVerifier = "up_verifier"
)

// initSessions builds the cookie store from Config.SessionSecret. An empty secret gets
// a random one: sessions then end with the process and are not shared by replicas.
func (f *frontChannel) initSessions(secret []byte) error {
	switch {
	case len(secret) == 0:
		secret = make([]byte, minSessionSecret)
		rand.Read(secret)
	case len(secret) < minSessionSecret:
		return errors.New("oauth: the session secret must be at least 32 bytes")
	}
	hashKey, err := hkdf.Key(sha512.New, secret, nil, "mcpguard session cookie HMAC-SHA-256", 64)
	if err != nil {
		return err
	}
	blockKey, err := hkdf.Key(sha512.New, secret, nil, "mcpguard session cookie AES-256", 32)
	if err != nil {
		return err
	}
	https := f.iss.https
	f.cookieName = cookieNamePlain
	if https {
		f.cookieName = cookieNameSecure
	}
	cs := sessions.NewCookieStore(hashKey, blockKey)
	// Never NewCookieStore's defaults (30 days, SameSite=None, no HttpOnly).
	cs.Options = &sessions.Options{
		Path:     "/",
		Secure:   https,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	cs.MaxAge(int(f.sessionTTL / time.Second))
	for _, c := range cs.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxLength(maxCookieLen)
		}
	}
	f.cookies = cs
	return nil
}

// session is the browser session of one request.
type session struct{ *sessions.Session }

// session returns the request's session. A missing cookie, or one that does not
// decode (forged, expired, from another instance), gives an empty session.
func (f *frontChannel) session(r *http.Request) *session {
	ss, _ := f.cookies.New(r, f.cookieName)
	return &session{ss}
}

// saveSession writes the session cookie.
func (f *frontChannel) saveSession(w http.ResponseWriter, r *http.Request, ss *session) error {
	return f.cookies.Save(r, w, ss.Session)
}

// get returns the string stored under k, "" when none.
func (ss *session) get(k string) string {
	v, _ := ss.Values[k].(string)
	return v
}

// set stores v under k; an empty v deletes k.
func (ss *session) set(k, v string) {
	if v == "" {
		delete(ss.Values, k)
		return
	}
	ss.Values[k] = v
}

// csrf returns the session's CSRF token, creating it when there is none.
func (ss *session) csrf() string {
	t := ss.get(keyCSRF)
	if t == "" {
		t = randomString(32)
		ss.set(keyCSRF, t)
	}
	return t
}

// checkCSRF reports whether got is the session's CSRF token, in constant time.
func (ss *session) checkCSRF(got string) bool {
	want := ss.get(keyCSRF)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// authRequest is a validated /authorize request waiting for login and consent.
type authRequest struct {
	ID          string // random; the consent form carries it, so a stale form is refused
	ClientID    string
	RedirectURI string
	State       string
	Challenge   string // S256 code_challenge
	Resource    string
	Scopes      []string
	Prompt      string // "", "consent" or "none"
}

// pending returns the authorization request in progress.
func (ss *session) pending() (authRequest, bool) {
	ar := authRequest{
		ID:          ss.get(keyReqID),
		ClientID:    ss.get(keyReqClient),
		RedirectURI: ss.get(keyReqRedirect),
		State:       ss.get(keyReqState),
		Challenge:   ss.get(keyReqPKCE),
		Resource:    ss.get(keyReqResource),
		Scopes:      strings.Fields(ss.get(keyReqScope)),
		Prompt:      ss.get(keyReqPrompt),
	}
	ok := ar.ID != "" && ar.ClientID != "" && ar.RedirectURI != "" && ar.Challenge != "" && ar.Resource != ""
	return ar, ok
}

// setPending replaces the authorization request in progress: a session has at most one.
func (ss *session) setPending(ar authRequest) {
	ss.clearPending()
	ss.set(keyReqID, ar.ID)
	ss.set(keyReqClient, ar.ClientID)
	ss.set(keyReqRedirect, ar.RedirectURI)
	ss.set(keyReqState, ar.State)
	ss.set(keyReqPKCE, ar.Challenge)
	ss.set(keyReqResource, ar.Resource)
	ss.set(keyReqScope, strings.Join(ar.Scopes, " "))
	ss.set(keyReqPrompt, ar.Prompt)
}

// clearPending forgets the authorization request in progress.
func (ss *session) clearPending() {
	for _, k := range []string{keyReqID, keyReqClient, keyReqRedirect, keyReqState, keyReqPKCE, keyReqScope, keyReqResource, keyReqPrompt} {
		delete(ss.Values, k)
	}
}

// clearUpstream forgets the upstream login in progress (single use).
func (ss *session) clearUpstream() {
	for _, k := range []string{keyUpState, keyUpNonce, keyUpVerifier} {
		delete(ss.Values, k)
	}
}
