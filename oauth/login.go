package oauth

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// startLogin sends the browser to the login step: the form for local users, the
// upstream identity provider otherwise. The session (with the pending request) is saved.
func (f *frontChannel) startLogin(w http.ResponseWriter, r *http.Request, ss *session) {
	if f.accounts.upstream != nil {
		f.startUpstream(w, r, ss)
		return
	}
	if !f.saveOrFail(w, r, ss) {
		return
	}
	http.Redirect(w, r, f.iss.path+"/login", http.StatusFound)
}

// handleLoginPage shows the login form, or starts the upstream login. rd, when a safe
// local path or a URL on a resource's origin (safeReturn), is where a login that is not
// part of an authorization request returns; a person already signed in goes there at
// once.
func (f *frontChannel) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	ss := f.session(r)
	if rd, ok := f.safeReturn(r.URL.Query().Get("rd")); ok {
		if _, signedIn := f.identity(r, ss); signedIn {
			// Already signed in (the app's host did not get the cookie yet, or the
			// person came back): straight on.
			if f.saveOrFail(w, r, ss) {
				http.Redirect(w, r, rd, http.StatusFound)
			}
			return
		}
		ss.set(keyReturn, rd)
	}
	if f.accounts.upstream != nil {
		f.startUpstream(w, r, ss)
		return
	}
	f.loginForm(w, r, ss, http.StatusOK, "", "", failure{})
}

// loginForm renders the local login form with a CSRF token bound to the session. A
// form shown again after a failed attempt carries problem, and fl is logged.
func (f *frontChannel) loginForm(w http.ResponseWriter, r *http.Request, ss *session, status int, email, problem string, fl failure) {
	data := pageData{Title: "Sign in", Action: f.iss.path + "/login", CSRF: ss.csrf(), Email: email, Error: problem}
	if !f.saveOrFail(w, r, ss) {
		return
	}
	ar, _ := ss.pending()
	if problem != "" {
		fl.clientID = ar.ClientID
		logFailure(r, f.iss, status, problem, fl)
	}
	f.writePage(w, r, status, "login.html", data, ar.RedirectURI)
}

// handleLoginSubmit checks the local login form.
func (f *frontChannel) handleLoginSubmit(w http.ResponseWriter, r *http.Request) {
	if f.accounts.upstream != nil {
		f.errorPage(w, r, http.StatusNotFound, "Not found", "This server signs you in with your identity provider.", failure{code: codeInvalidRequest})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.",
			failure{code: codeInvalidRequest, cause: fmt.Errorf("oauth: login form: %w", err)})
		return
	}
	ss := f.session(r)
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		f.loginForm(w, r, ss, http.StatusForbidden, email, "The form expired. Please sign in again.",
			failure{code: codeAccessDenied, cause: errors.New("oauth: login form: the CSRF token is not the session's")})
		return
	}
	// The email is not logged: people type their password into it.
	th, now := f.accounts.throttle, f.now()
	account, addr := th.keys(r, email)
	if wait := th.wait(account, addr, now); wait > 0 {
		// Locked out: the password is not even checked.
		f.loginResult("locked_out")
		f.throttled(w, r, ss, email, wait, errors.New("oauth: local login: too many failed attempts for this account or address"))
		return
	}
	var u LocalUser
	var ok bool
	if !th.hash(r.Context(), func() { u, ok = f.accounts.checkPassword(email, r.PostForm.Get("password")) }) {
		f.loginResult("busy")
		f.throttled(w, r, ss, email, time.Second, errors.New("oauth: local login: every password check slot stayed busy"))
		return
	}
	if !ok {
		f.loginResult("wrong_password")
		th.failed(account, addr, now)
		f.loginForm(w, r, ss, http.StatusUnauthorized, email, "Incorrect email or password.",
			failure{code: codeAccessDenied, cause: errors.New("oauth: local login: unknown email or wrong password")})
		return
	}
	th.succeeded(account)
	f.loginResult("ok")
	id := store.Identity{
		Subject:       strings.ToLower(u.Email),
		Email:         u.Email,
		EmailVerified: true, // the operator wrote it in the users file
		Name:          u.Name,
		Groups:        u.Groups,
	}
	f.loggedIn(w, r, ss, id)
}

// throttled answers a login attempt that must wait: 429 with Retry-After and the form,
// saying when to try again.
func (f *frontChannel) throttled(w http.ResponseWriter, r *http.Request, ss *session, email string, wait time.Duration, cause error) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	f.loginForm(w, r, ss, http.StatusTooManyRequests, email,
		fmt.Sprintf("Too many sign-in attempts. Try again in %s.", retryIn(secs)),
		failure{code: codeTemporarilyUnavailable, cause: cause})
}

// loginResult reports a local login's result to Config.OnLogin.
func (f *frontChannel) loginResult(result string) {
	if f.onLogin != nil {
		f.onLogin(result)
	}
}

// retryIn says secs as a person reads it.
func retryIn(secs int) string {
	switch {
	case secs == 1:
		return "1 second"
	case secs < 120:
		return strconv.Itoa(secs) + " seconds"
	}
	return strconv.Itoa((secs+59)/60) + " minutes"
}

// loggedIn records a successful login and continues: the authorization request in
// progress, else the rd the login started with, else a confirmation page. An identity
// the allowlists refuse gets a 403 page and no session.
func (f *frontChannel) loggedIn(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity) {
	ss.clearUpstream()
	if !f.accounts.admits(id) {
		clientID := ss.get(keyReqClient)
		f.clearIdentity(r, ss)
		ss.clearPending()
		ss.set(keyReturn, "")
		f.saveSession(w, r, ss)
		f.errorPage(w, r, http.StatusForbidden, "Access denied",
			fmt.Sprintf("The account %s is not allowed to use this service. Ask your administrator for access, or sign in with another account.", who(id)),
			failure{code: codeAccessDenied, clientID: clientID, cause: fmt.Errorf("oauth: login: %q is not on the login allowlists", who(id))})
		return
	}
	if err := f.setIdentity(r, ss, id); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		f.errorPage(w, r, status, "Something went wrong", "mcpguard could not keep your session. Try again in a moment.",
			failure{code: codeServerError, clientID: ss.get(keyReqClient), cause: err})
		return
	}
	if ar, ok := ss.pending(); ok {
		if _, ok := f.pendingClient(w, r, ss, ar); !ok {
			return
		}
		f.proceed(w, r, ss, id, ar)
		return
	}
	rd := ss.get(keyReturn)
	ss.set(keyReturn, "")
	if !f.saveOrFail(w, r, ss) {
		return
	}
	if rd != "" {
		http.Redirect(w, r, rd, http.StatusFound)
		return
	}
	f.writePage(w, r, http.StatusOK, "message.html", pageData{Title: "Signed in", Message: "You are signed in as " + who(id) + ".",
		Next: f.accountPath(), NextText: "Your account: applications and sessions"}, "")
}

// unsafeReturn matches what browsers may read as another host in a path: two slashes
// or backslashes, possibly with whitespace or dot segments between them
// (oauth2-proxy's invalidRedirectRegex, CVE-2020-11053).
var unsafeReturn = regexp.MustCompile(`[/\\](?:[\s\v]*|\.{1,2})[/\\]`)

// safeReturnPath returns rd when it is a local path: one leading '/', no scheme or
// host, no backslash, control or non-ASCII character, no '//' or '/./\' pattern even
// after percent-decoding. Anything else is refused: browsers read such paths as
// another host (open redirects through the login's return address).
func safeReturnPath(rd string) (string, bool) {
	if len(rd) == 0 || len(rd) > 2048 || rd[0] != '/' {
		return "", false
	}
	check := func(p string) bool {
		for i := 0; i < len(p); i++ {
			if c := p[i]; c < 0x20 || c >= 0x7f || c == '\\' {
				return false
			}
		}
		return !unsafeReturn.MatchString(p)
	}
	if !check(rd) {
		return "", false
	}
	decoded := rd
	for range 3 { // nested encodings: %252F
		d, err := url.PathUnescape(decoded)
		if err != nil {
			return "", false
		}
		if d == decoded {
			break
		}
		if !check(d) {
			return "", false
		}
		decoded = d
	}
	return rd, true
}
