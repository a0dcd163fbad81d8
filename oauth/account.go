package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// /account: a signed-in person's own page. It lists the applications holding grants for
// them (store.GrantStore.ListGrants joined with the client registry) and their browser
// sessions, each with a revoke button: a POST carrying the session's CSRF token, answered
// with a redirect back to /account and a short notice (POST-redirect-GET).

// revokeGrantFunc revokes the grant id held by subject: Server.RevokeGrant, which the
// front channel is given rather than the whole Server.
type revokeGrantFunc func(ctx context.Context, id, subject string) (store.Grant, Revoked, error)

// accountNotices are the notices /account shows after an action, keyed by its done
// parameter: fixed texts, so the URL cannot put words on the page.
var accountNotices = map[string]string{
	"grant":   "Access revoked. The application's tokens no longer work; it has to ask you again to reconnect.",
	"session": "Session revoked. That browser is signed out.",
}

// doneSignedOut is the done parameter after a person revoked the session they used.
const doneSignedOut = "signed-out"

// maxAccountID bounds a grant or session id in the /account forms.
const maxAccountID = 256

// accountView is what /account shows.
type accountView struct {
	User          string
	Notice        string
	Grants        []grantView
	Sessions      []sessionView
	GrantAction   string // the grant revoke form's action
	SessionAction string // the session revoke form's action
}

// grantView is one grant on /account.
type grantView struct {
	ID         string
	ClientName string
	ClientID   string
	Kind       string // "DCR", "CIMD", "static", or "" for a client that no longer exists
	Scopes     []string
	Resource   string
	Granted    string
	LastUsed   string
}

// sessionView is one browser session on /account.
type sessionView struct {
	ID        string
	Current   bool
	Created   string
	LastUsed  string
	Addr      string
	UserAgent string
}

// accountPath is /account under the issuer's path.
func (f *frontChannel) accountPath() string { return f.iss.path + "/account" }

// handleAccountPage shows /account (GET). Without a login it sends the browser to the
// login page, which returns here afterwards; after the person revoked this very session
// it says they are signed out instead.
func (f *frontChannel) handleAccountPage(w http.ResponseWriter, r *http.Request) {
	ss := f.session(r)
	id, ok := f.identity(r, ss)
	if !ok {
		if r.URL.Query().Get("done") == doneSignedOut {
			if !f.saveOrFail(w, r, ss) {
				return
			}
			f.writePage(w, r, http.StatusOK, "message.html", pageData{Title: "Signed out",
				Message: "You revoked this browser's session and are signed out of mcpguard.",
				Next:    f.accountPath(), NextText: "Sign in again"}, "")
			return
		}
		if !f.saveOrFail(w, r, ss) {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, f.iss.path+"/login?rd="+f.accountPath(), http.StatusFound)
		return
	}
	view, err := f.accountView(r.Context(), id.Subject, ss.sessionID())
	if err != nil {
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not read your account. Try again in a moment.",
			failure{code: codeServerError, cause: err})
		return
	}
	view.User = who(id)
	view.Notice = accountNotices[r.URL.Query().Get("done")]
	data := pageData{Title: "Your account", CSRF: ss.csrf(), Logout: f.iss.path + "/logout", Account: &view}
	if !f.saveOrFail(w, r, ss) {
		return
	}
	f.writePage(w, r, http.StatusOK, "account.html", data, "")
}

// accountView reads subject's grants and sessions; current is the store id of the
// session viewing them.
func (f *frontChannel) accountView(ctx context.Context, subject, current string) (accountView, error) {
	now := f.now()
	grants, err := f.store.ListGrants(ctx, subject, "", now)
	if err != nil {
		return accountView{}, fmt.Errorf("oauth: account: store: ListGrants: %w", err)
	}
	sessions, err := f.store.ListSessions(ctx, subject, now)
	if err != nil {
		return accountView{}, fmt.Errorf("oauth: account: store: ListSessions: %w", err)
	}
	v := accountView{GrantAction: f.accountPath() + "/grants/revoke", SessionAction: f.accountPath() + "/sessions/revoke"}
	for _, g := range grants {
		name, kind, err := f.clients.describe(ctx, g.ClientID)
		if err != nil {
			return accountView{}, err
		}
		v.Grants = append(v.Grants, grantView{
			ID: g.ID, ClientName: name, ClientID: g.ClientID, Kind: kind, Scopes: g.Scopes,
			Resource: g.Resource, Granted: shownTime(g.GrantedAt), LastUsed: shownTime(g.LastUsedAt),
		})
	}
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, sessionView{
			ID: s.ID, Current: s.ID == current, Created: shownTime(s.CreatedAt), LastUsed: shownTime(s.LastUsedAt),
			Addr: s.ClientAddr, UserAgent: s.UserAgent,
		})
	}
	return v, nil
}

// describe returns the name and kind /account shows for the client id: the configured
// or registered client's, a Client ID Metadata Document's as last fetched (never
// fetched for the page), or the id itself and no kind for a client that no longer
// exists. Only a store failure is an error.
func (reg *registry) describe(ctx context.Context, id string) (name, kind string, err error) {
	kinds := map[string]string{kindStatic: "static", kindDCR: "DCR", kindCIMD: "CIMD"}
	if c, ok := reg.static[id]; ok {
		return cmpName(c.Name, id), kinds[c.Kind], nil
	}
	c, err := reg.store.GetClient(ctx, id)
	switch {
	case err == nil:
		return cmpName(c.Name, id), kinds[c.Kind], nil
	case !errors.Is(err, store.ErrNotFound):
		return "", "", fmt.Errorf("oauth: account: client %q: store: GetClient: %w", id, err)
	}
	if reg.cimd.isURL(id) {
		reg.cimd.mu.Lock()
		e, ok := reg.cimd.entries[id]
		reg.cimd.mu.Unlock()
		if ok && e.err == nil {
			return cmpName(e.client.Name, id), "CIMD", nil
		}
		return id, "CIMD", nil
	}
	return id, "", nil
}

// cmpName is name, or id when the client has none.
func cmpName(name, id string) string {
	if strings.TrimSpace(name) == "" {
		return id
	}
	return name
}

// shownTime is t as /account shows it, in UTC to the minute; "" for the zero time.
func shownTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
