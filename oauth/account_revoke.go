package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/store"
)

// accountForm reads a revoke form of /account (POST): the body bounded and parsed, the
// CSRF token checked, the person signed in, and the one id field named field present and
// of a sane size. On any failure it has answered (400, 403, a redirect to sign in) and
// returns false; nothing has changed.
func (f *frontChannel) accountForm(w http.ResponseWriter, r *http.Request, field string) (*session, store.Identity, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.",
			failure{code: codeInvalidRequest, cause: fmt.Errorf("oauth: account form: %w", err)})
		return nil, store.Identity{}, "", false
	}
	ss := f.session(r)
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		f.errorPage(w, r, http.StatusForbidden, "This form has expired", "The form was not sent by this browser's session. Open your account page again.",
			failure{code: codeAccessDenied, cause: errors.New("oauth: account form: the CSRF token is not the session's")})
		return nil, store.Identity{}, "", false
	}
	id, ok := f.identity(r, ss)
	if !ok {
		if f.saveOrFail(w, r, ss) {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, f.accountPath(), http.StatusSeeOther)
		}
		return nil, store.Identity{}, "", false
	}
	vals := r.PostForm[field]
	if len(vals) != 1 || vals[0] == "" || len(vals[0]) > maxAccountID {
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form does not say what to revoke.",
			failure{code: codeInvalidRequest, cause: fmt.Errorf("oauth: account form: %d values of %q", len(vals), field)})
		return nil, store.Identity{}, "", false
	}
	return ss, id, vals[0], true
}

// handleAccountRevokeGrant revokes one of the person's grants (POST
// /account/grants/revoke, field grant): its refresh tokens, its access tokens and the
// consent behind it (Server.RevokeGrant). A grant that is not theirs, or no longer
// live, is 404.
func (f *frontChannel) handleAccountRevokeGrant(w http.ResponseWriter, r *http.Request) {
	_, id, grant, ok := f.accountForm(w, r, "grant")
	if !ok {
		return
	}
	g, _, err := f.revokeGrant(r.Context(), grant, id.Subject)
	switch {
	case errors.Is(err, ErrNoGrant):
		f.errorPage(w, r, http.StatusNotFound, "Not found", "You hold no such grant. It may have been revoked already.",
			failure{code: codeNotFound, cause: err})
		return
	case err != nil:
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not revoke this access. Try again in a moment.",
			failure{code: codeServerError, clientID: g.ClientID, cause: err})
		return
	}
	zerolog.Ctx(r.Context()).Info().Str("endpoint", f.iss.endpoint(r)).Str("client_id", truncate(g.ClientID, maxLoggedClientID)).
		Str("grant", g.ID).Msg("oauth: a person revoked a grant at /account")
	f.accountDone(w, r, "grant")
}

// handleAccountRevokeSession ends one of the person's browser sessions (POST
// /account/sessions/revoke, field session): its record is deleted, so that browser is
// signed out. Revoking the session in use signs this browser out too. A session that is
// not theirs, or no longer live, is 404.
func (f *frontChannel) handleAccountRevokeSession(w http.ResponseWriter, r *http.Request) {
	ss, id, sid, ok := f.accountForm(w, r, "session")
	if !ok {
		return
	}
	sessions, err := f.store.ListSessions(r.Context(), id.Subject, f.now())
	if err != nil {
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not read your sessions. Try again in a moment.",
			failure{code: codeServerError, cause: fmt.Errorf("oauth: account: store: ListSessions: %w", err)})
		return
	}
	if !slices.ContainsFunc(sessions, func(s store.Session) bool { return s.ID == sid }) {
		f.errorPage(w, r, http.StatusNotFound, "Not found", "You have no such session. It may have ended already.",
			failure{code: codeNotFound, cause: errors.New("oauth: account: the session is not one of the person's live sessions")})
		return
	}
	log := zerolog.Ctx(r.Context())
	if sid == ss.sessionID() {
		f.clearIdentity(r, ss)
		for k := range ss.Values {
			delete(ss.Values, k)
		}
		ss.Options.MaxAge = -1
		f.saveSession(w, r, ss)
		log.Info().Str("endpoint", f.iss.endpoint(r)).Msg("oauth: a person revoked their current session at /account")
		f.accountDone(w, r, doneSignedOut)
		return
	}
	if err := f.store.DeleteSession(r.Context(), sid); err != nil {
		cause := fmt.Errorf("oauth: account: store: DeleteSession: %w", err)
		if errors.Is(err, store.ErrNotFound) {
			f.errorPage(w, r, http.StatusNotFound, "Not found", "You have no such session. It may have ended already.", failure{code: codeNotFound, cause: cause})
			return
		}
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not end this session. Try again in a moment.",
			failure{code: codeServerError, cause: cause})
		return
	}
	log.Info().Str("endpoint", f.iss.endpoint(r)).Msg("oauth: a person revoked one of their sessions at /account")
	f.accountDone(w, r, "session")
}

// accountDone sends the browser back to /account with the notice of done (303: the
// browser follows with a GET, so reloading does not send the form again).
func (f *frontChannel) accountDone(w http.ResponseWriter, r *http.Request, done string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.accountPath()+"?"+url.Values{"done": {done}}.Encode(), http.StatusSeeOther)
}
