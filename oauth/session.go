package oauth

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/mcpguard/mcpguard/store"
)

// The browser session: a gorilla/sessions cookie, signed (HMAC-SHA-256) and encrypted
// (AES-256-CTR) with keys derived from Config.SessionSecret. It is the only state of a
// login and consent in progress; the store is never written for them.
const (
	// sessionMaxAge bounds the cookie and a login: after it, the user logs in again.
	sessionMaxAge = 8 * time.Hour
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
)

// Session value keys. Values are strings only.
const (
	keySubject       = "sub"
	keyEmail         = "email"
	keyEmailVerified = "email_verified"
	keyName          = "name"
	keyGroups        = "groups" // JSON array
	keyLoginAt       = "login_at"
	keyCSRF          = "csrf"
	keyReturn        = "rd" // where a login without an authorization request returns

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
	cs.MaxAge(int(sessionMaxAge / time.Second))
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

// handleLogout ends the browser session (GET or POST /logout). rd, when a safe local
// path (see safeReturnPath), is where the browser goes next; otherwise a plain
// "signed out" page is shown. Tokens already issued to clients stay valid: revoke them
// at /revoke.
func (f *frontChannel) handleLogout(w http.ResponseWriter, r *http.Request) {
	ss := f.session(r)
	for k := range ss.Values {
		delete(ss.Values, k)
	}
	ss.Options.MaxAge = -1
	f.saveSession(w, r, ss)
	rd := r.URL.Query().Get("rd")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() == nil && r.PostForm.Has("rd") {
			rd = r.PostForm.Get("rd")
		}
	}
	if p, ok := safeReturnPath(rd); ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p, http.StatusFound)
		return
	}
	f.writePage(w, r, http.StatusOK, "message.html", pageData{Title: "Signed out", Message: "You are signed out of mcpguard."}, "")
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

// identity returns who logged in, when someone did less than sessionMaxAge ago.
func (ss *session) identity(now time.Time) (store.Identity, bool) {
	sub := ss.get(keySubject)
	at, err := strconv.ParseInt(ss.get(keyLoginAt), 10, 64)
	if sub == "" || err != nil {
		return store.Identity{}, false
	}
	if age := now.Sub(time.Unix(at, 0)); age >= sessionMaxAge || age < -time.Minute {
		return store.Identity{}, false
	}
	id := store.Identity{
		Subject:       sub,
		Email:         ss.get(keyEmail),
		EmailVerified: ss.get(keyEmailVerified) == "true",
		Name:          ss.get(keyName),
	}
	if g := ss.get(keyGroups); g != "" && json.Unmarshal([]byte(g), &id.Groups) != nil {
		return store.Identity{}, false
	}
	return id, true
}

// setIdentity records a login at now. The CSRF token changes with the user.
func (ss *session) setIdentity(id store.Identity, now time.Time) {
	ss.clearIdentity()
	ss.set(keySubject, id.Subject)
	ss.set(keyEmail, id.Email)
	if id.EmailVerified {
		ss.set(keyEmailVerified, "true")
	}
	ss.set(keyName, id.Name)
	if len(id.Groups) > 0 {
		g, _ := json.Marshal(id.Groups)
		ss.set(keyGroups, string(g))
	}
	ss.set(keyLoginAt, strconv.FormatInt(now.Unix(), 10))
}

// clearIdentity forgets the login and the CSRF token bound to it.
func (ss *session) clearIdentity() {
	for _, k := range []string{keySubject, keyEmail, keyEmailVerified, keyName, keyGroups, keyLoginAt, keyCSRF} {
		delete(ss.Values, k)
	}
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
