package oauth

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"github.com/mcpguard/mcpguard/store"
)

// frontChannel serves what the user's browser goes through while a client is being
// authorized: /authorize, then /login (the local form) or the upstream provider and
// /callback, then /consent, which issues the code; /logout; and /account, where a person
// sees and revokes their grants and sessions. A request in progress
// lives only in the browser cookie; the store keeps the login (store.Session), the
// code and the consent.
type frontChannel struct {
	iss       issuer
	store     store.Store
	now       func() time.Time
	codeTTL   time.Duration
	resources []string // Config.Resources; the first is the default
	// legacyHosts are the MCP origins whose /authorize goes on to the issuer (legacy.go).
	legacyHosts map[string]bool
	// returnOrigins are the resources' origins a login may return to (browserlogin.go).
	returnOrigins map[string]bool
	scopes        scopeSet
	clients       *registry
	accounts      *accounts
	cookies       *sessions.CookieStore          // the browser session
	cookieName    string                         // "__Host-mcpguard", or "mcpguard_session" over http
	sessionTTL    time.Duration                  // Config.SessionTTL: a login's longest life
	sessionIdle   time.Duration                  // Config.SessionIdle: a login unused this long ends
	clientAddr    func(*http.Request) netip.Addr // Config.ClientAddr, for the session's display
	pages         *template.Template             // the HTML pages
	onLogin       func(result string)            // Config.OnLogin
	revokeGrant   revokeGrantFunc                // Server.RevokeGrant, for /account
}

// newFrontChannel prepares the session keys and the pages.
func newFrontChannel(c Config, iss issuer, scopes scopeSet, ttl lifetimes, clients *registry, acc *accounts, now func() time.Time) (*frontChannel, error) {
	f := &frontChannel{
		iss:           iss,
		store:         c.Store,
		now:           now,
		codeTTL:       ttl.code,
		resources:     c.Resources,
		legacyHosts:   legacyHosts(iss, c.Resources),
		returnOrigins: returnOrigins(c.Resources),
		scopes:        scopes,
		clients:       clients,
		accounts:      acc,
		onLogin:       c.OnLogin,
		sessionTTL:    cmp.Or(c.SessionTTL, defaultSessionTTL),
		sessionIdle:   cmp.Or(c.SessionIdle, defaultSessionIdle),
		clientAddr:    c.ClientAddr,
	}
	if err := f.initSessions(c.SessionSecret); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("oauth: pages: %w", err)
	}
	f.pages = pages
	return f, nil
}

// routes adds the front channel's endpoints to mux, under the issuer's path.
func (f *frontChannel) routes(mux routeSet) {
	p := f.iss.path
	mux.HandleFunc("GET "+p+"/authorize", f.handleAuthorize)
	mux.HandleFunc("GET "+p+"/login", f.handleLoginPage)
	mux.HandleFunc("POST "+p+"/login", f.handleLoginSubmit)
	mux.HandleFunc("GET "+p+"/callback", f.handleCallback)
	mux.HandleFunc("GET "+p+"/consent", f.handleConsentPage)
	mux.HandleFunc("POST "+p+"/consent", f.handleConsentSubmit)
	mux.HandleFunc("GET "+p+"/logout", f.handleLogoutPage)
	mux.HandleFunc("POST "+p+"/logout", f.handleLogout)
	mux.HandleFunc("GET "+p+"/account", f.handleAccountPage)
	mux.HandleFunc("POST "+p+"/account/grants/revoke", f.handleAccountRevokeGrant)
	mux.HandleFunc("POST "+p+"/account/sessions/revoke", f.handleAccountRevokeSession)
}

// redirectToClient sends the user to the client's redirect URI with params, state
// (when the request had one) and iss (RFC 9207) added to its query; the registered
// query is kept as it is.
func (f *frontChannel) redirectToClient(w http.ResponseWriter, redirectURI string, params url.Values, state string) {
	if state != "" {
		params.Set("state", state)
	}
	params.Set("iss", f.iss.url)
	sep := "?"
	switch {
	case strings.HasSuffix(redirectURI, "?"):
		sep = ""
	case strings.Contains(redirectURI, "?"):
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Location", redirectURI+sep+params.Encode())
	w.WriteHeader(http.StatusFound)
}

// redirectError sends the user back to the client of ar with an RFC 6749 §4.1.2.1
// error response, and logs it.
func (f *frontChannel) redirectError(w http.ResponseWriter, r *http.Request, ar authRequest, description string, fl failure) {
	fl.clientID = ar.ClientID
	logFailure(r, f.iss, http.StatusFound, description, fl)
	f.redirectToClient(w, ar.RedirectURI, url.Values{"error": {fl.code}, "error_description": {description}}, ar.State)
}

// saveOrFail saves the session, or shows an error page and returns false.
func (f *frontChannel) saveOrFail(w http.ResponseWriter, r *http.Request, ss *session) bool {
	clientID := ss.get(keyReqClient)
	if err := f.saveSession(w, r, ss); err != nil {
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"mcpguard could not keep your session: the request or your account data is too large for a browser cookie.",
			failure{code: codeServerError, clientID: clientID, cause: fmt.Errorf("oauth: save the session: %w", err)})
		return false
	}
	return true
}
