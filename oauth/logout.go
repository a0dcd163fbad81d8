package oauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/store"
)

// sessionID is the store key of the session whose secret the cookie carries; "" when none.
func (ss *session) sessionID() string {
	if secret := ss.get(keySession); secret != "" {
		return hashToken(secret)
	}
	return ""
}

// identity returns who is logged in with r's session: the store's record for the
// cookie's secret, live at now (neither SESSION_TTL nor SESSION_IDLE past), which this
// use keeps alive. Without one the secret is forgotten, so the next save drops it.
func (f *frontChannel) identity(r *http.Request, ss *session) (store.Identity, bool) {
	sid := ss.sessionID()
	if sid == "" {
		return store.Identity{}, false
	}
	rec, err := f.store.TouchSession(r.Context(), sid, f.now(), f.sessionIdle)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			zerolog.Ctx(r.Context()).Warn().Err(err).Msg("oauth: the browser session could not be read; treated as signed out")
		}
		ss.set(keySession, "")
		return store.Identity{}, false
	}
	return rec.Identity, true
}

// setIdentity records a login of id at now: a new session under a new secret, so an id
// planted in the browser before the login (session fixation) is worth nothing after it.
// The session before, if any, is deleted, and the CSRF token changes with the user.
func (f *frontChannel) setIdentity(r *http.Request, ss *session, id store.Identity) error {
	f.clearIdentity(r, ss)
	secret := randomString(32)
	now := f.now()
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	rec := store.Session{
		ID:            hashToken(secret),
		Identity:      id,
		CreatedAt:     now,
		LastUsedAt:    now,
		ExpiresAt:     now.Add(f.sessionTTL),
		IdleExpiresAt: now.Add(min(f.sessionIdle, f.sessionTTL)),
		UserAgent:     ua,
	}
	if a := requestAddr(f.clientAddr, r); a.IsValid() {
		rec.ClientAddr = a.String()
	}
	if err := f.store.CreateSession(r.Context(), rec); err != nil {
		return fmt.Errorf("oauth: store the browser session: %w", err)
	}
	ss.set(keySession, secret)
	return nil
}

// clearIdentity ends r's login: it deletes the session's record, so every copy of the
// cookie is signed out too, and forgets the secret and the CSRF token bound to it.
func (f *frontChannel) clearIdentity(r *http.Request, ss *session) {
	if sid := ss.sessionID(); sid != "" {
		if err := f.store.DeleteSession(r.Context(), sid); err != nil && !errors.Is(err, store.ErrNotFound) {
			zerolog.Ctx(r.Context()).Warn().Err(err).Msg("oauth: the browser session could not be deleted")
		}
	}
	ss.set(keySession, "")
	ss.set(keyCSRF, "")
}

// handleLogoutPage asks whether to sign out (GET /logout): a form that POSTs to /logout
// with the session's CSRF token, and rd when given, so a link or an image on another
// site cannot sign anyone out.
func (f *frontChannel) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	ss := f.session(r)
	data := pageData{
		Title:  "Sign out",
		Action: f.iss.path + "/logout",
		CSRF:   ss.csrf(),
	}
	if p, ok := safeReturnPath(r.URL.Query().Get("rd")); ok {
		data.Return = p
	}
	if id, ok := f.identity(r, ss); ok {
		data.Message = "You are signed in as " + who(id) + "."
		data.Next, data.NextText = f.accountPath(), "See and revoke the applications and sessions of your account"
	}
	if !f.saveOrFail(w, r, ss) {
		return
	}
	f.writePage(w, r, http.StatusOK, "logout.html", data, "")
}

// handleLogout ends the browser session (POST /logout with the session's CSRF token):
// the session's record is deleted, the cookie expired. rd, when a safe local path (see
// safeReturnPath), is where the browser goes next; otherwise a plain "signed out" page
// is shown. Without the right token the answer is 403 and the session lives on. Tokens
// already issued to clients stay valid: revoke them at /revoke.
func (f *frontChannel) handleLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.",
			failure{code: codeInvalidRequest, cause: fmt.Errorf("oauth: logout form: %w", err)})
		return
	}
	ss := f.session(r)
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		f.errorPage(w, r, http.StatusForbidden, "This form has expired", "The form was not sent by this browser's session. Open the sign-out page again.",
			failure{code: codeAccessDenied, cause: errors.New("oauth: logout form: the CSRF token is not the session's")})
		return
	}
	f.clearIdentity(r, ss)
	for k := range ss.Values {
		delete(ss.Values, k)
	}
	ss.Options.MaxAge = -1
	f.saveSession(w, r, ss)
	if p, ok := safeReturnPath(r.PostForm.Get("rd")); ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p, http.StatusFound)
		return
	}
	f.writePage(w, r, http.StatusOK, "message.html", pageData{Title: "Signed out", Message: "You are signed out of mcpguard."}, "")
}
