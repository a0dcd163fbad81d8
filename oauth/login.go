package oauth

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
)

// maxPasswordLen bounds what the login form hashes; bcrypt reads 72 bytes anyway.
const maxPasswordLen = 1024

// initLocal indexes the local users by case-folded email and prepares the hash that
// unknown emails are checked against, at the users' highest cost, so that an unknown
// email takes as long as a wrong password.
func (s *Server) initLocal() error {
	s.users = make(map[string]LocalUser, len(s.cfg.LocalUsers))
	cost := bcrypt.DefaultCost
	for i, u := range s.cfg.LocalUsers {
		local, domain, err := policy.ParseEmail(u.Email)
		if err != nil {
			return fmt.Errorf("oauth: local user %d: %w", i+1, err)
		}
		key := strings.ToLower(local) + "@" + domain
		if _, dup := s.users[key]; dup {
			return fmt.Errorf("oauth: local user %q is listed twice", u.Email)
		}
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return fmt.Errorf("oauth: local user %q: password_hash is not a bcrypt hash", u.Email)
		}
		if i == 0 || c > cost {
			cost = c
		}
		s.users[key] = u
	}
	pw := make([]byte, 32)
	rand.Read(pw)
	var err error
	if s.dummyHash, err = bcrypt.GenerateFromPassword(pw, cost); err != nil {
		return fmt.Errorf("oauth: dummy password hash: %w", err)
	}
	return nil
}

// startLogin sends the browser to the login step: the form for local users, the
// upstream identity provider otherwise. The session (with the pending request) is saved.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, ss *session) {
	if s.upstream != nil {
		s.startUpstream(w, r, ss)
		return
	}
	if !s.saveOrFail(w, r, ss) {
		return
	}
	http.Redirect(w, r, s.prefix+"/login", http.StatusFound)
}

// handleLoginPage shows the login form, or starts the upstream login. rd, when a safe
// local path, is where a login that is not part of an authorization request returns.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r)
	if rd, ok := safeReturnPath(r.URL.Query().Get("rd")); ok {
		ss.set(keyReturn, rd)
	}
	if s.upstream != nil {
		s.startUpstream(w, r, ss)
		return
	}
	s.loginForm(w, r, ss, http.StatusOK, "", "")
}

// loginForm renders the local login form with a CSRF token bound to the session.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request, ss *session, status int, email, problem string) {
	data := pageData{Title: "Sign in", Action: s.prefix + "/login", CSRF: ss.csrf(), Email: email, Error: problem}
	if !s.saveOrFail(w, r, ss) {
		return
	}
	ar, _ := ss.pending()
	s.writePage(w, status, "login.html", data, ar.RedirectURI)
}

// handleLoginSubmit checks the local login form.
func (s *Server) handleLoginSubmit(w http.ResponseWriter, r *http.Request) {
	if s.upstream != nil {
		s.errorPage(w, r, http.StatusNotFound, "Not found", "This server signs you in with your identity provider.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	ss := s.session(r)
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		s.loginForm(w, r, ss, http.StatusForbidden, email, "The form expired. Please sign in again.")
		return
	}
	u, ok := s.checkPassword(email, r.PostForm.Get("password"))
	if !ok {
		s.loginForm(w, r, ss, http.StatusUnauthorized, email, "Incorrect email or password.")
		return
	}
	id := store.Identity{
		Subject:       strings.ToLower(u.Email),
		Email:         u.Email,
		EmailVerified: true, // the operator wrote it in the users file
		Name:          u.Name,
		Groups:        u.Groups,
	}
	s.loggedIn(w, r, ss, id)
}

// checkPassword returns the local user with email and password. bcrypt always runs,
// against a dummy hash for an unknown email, so timing does not tell which emails exist.
func (s *Server) checkPassword(email, password string) (LocalUser, bool) {
	hash := s.dummyHash
	u, found := s.users[strings.ToLower(email)]
	if found {
		hash = []byte(u.PasswordHash)
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return u, found && err == nil
}

// loggedIn records a successful login and continues: the authorization request in
// progress, else the rd the login started with, else a confirmation page. An identity
// the allowlists refuse gets a 403 page and no session.
func (s *Server) loggedIn(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity) {
	ss.clearUpstream()
	if !s.gate.admits(id) {
		ss.clearIdentity()
		ss.clearPending()
		ss.set(keyReturn, "")
		s.saveSession(w, r, ss)
		who := id.Email
		if who == "" {
			who = id.Subject
		}
		s.writePage(w, http.StatusForbidden, "error.html", pageData{
			Title:   "Access denied",
			Message: fmt.Sprintf("The account %s is not allowed to use this service. Ask your administrator for access, or sign in with another account.", who),
		}, "")
		return
	}
	ss.setIdentity(id, s.now())
	if ar, ok := ss.pending(); ok {
		if _, ok := s.pendingClient(w, r, ss, ar); !ok {
			return
		}
		s.proceed(w, r, ss, id, ar)
		return
	}
	rd := ss.get(keyReturn)
	ss.set(keyReturn, "")
	if !s.saveOrFail(w, r, ss) {
		return
	}
	if rd != "" {
		http.Redirect(w, r, rd, http.StatusFound)
		return
	}
	who := id.Email
	if who == "" {
		who = id.Subject
	}
	s.writePage(w, http.StatusOK, "message.html", pageData{Title: "Signed in", Message: "You are signed in as " + who + "."}, "")
}

// gate is the login allowlist (AllowedEmails, AllowedDomains, AllowedGroups), with the
// semantics of a policy resource's: when any list is set, an identity is admitted when
// its verified email is listed, or its domain is, or one of its groups is.
type gate struct {
	emails, domains, groups map[string]bool
}

// newGate validates and compiles the allowlists.
func newGate(emails, domains, groups []string) (gate, error) {
	g := gate{emails: map[string]bool{}, domains: map[string]bool{}, groups: map[string]bool{}}
	for _, e := range emails {
		local, domain, err := policy.ParseEmail(e)
		if err != nil {
			return gate{}, fmt.Errorf("oauth: allowed email: %w", err)
		}
		g.emails[strings.ToLower(local)+"@"+domain] = true
	}
	for _, d := range domains {
		_, domain, err := policy.ParseEmail("x@" + d)
		if err != nil || strings.Contains(d, "@") {
			return gate{}, fmt.Errorf("oauth: allowed domain %q is not a domain name", d)
		}
		g.domains[domain] = true
	}
	for _, gr := range groups {
		if gr == "" {
			return gate{}, fmt.Errorf("oauth: empty allowed group")
		}
		g.groups[gr] = true
	}
	return g, nil
}

// admits reports whether id may log in. Emails count only when verified and parsed
// strictly (one '@', case-folded): "a@evil.com@allowed.com" matches nothing.
func (g gate) admits(id store.Identity) bool {
	if len(g.emails)+len(g.domains)+len(g.groups) == 0 {
		return true
	}
	if id.EmailVerified && id.Email != "" {
		if local, domain, err := policy.ParseEmail(id.Email); err == nil {
			if g.emails[strings.ToLower(local)+"@"+domain] || g.domains[domain] {
				return true
			}
		}
	}
	for _, gr := range id.Groups {
		if g.groups[gr] {
			return true
		}
	}
	return false
}

// unsafeReturn matches what browsers may read as another host in a path: two slashes
// or backslashes, possibly with whitespace or dot segments between them
// (oauth2-proxy's invalidRedirectRegex, CVE-2020-11053).
var unsafeReturn = regexp.MustCompile(`[/\\](?:[\s\v]*|\.{1,2})[/\\]`)

// safeReturnPath returns rd when it is a local path: one leading '/', no scheme or
// host, no backslash, control or non-ASCII character, no '//' or '/./\' pattern even
// after percent-decoding. Anything else is refused (reference/forwardauth-proxies.md
// §3.2 row 7).
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
