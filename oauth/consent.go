package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mcpguard/mcpguard/store"
)

// maxFormBytes bounds the body of every form and token request.
const maxFormBytes = 64 << 10

//go:embed templates/*.html
var templateFS embed.FS

// parsePages parses the embedded HTML pages.
func parsePages() (*template.Template, error) {
	return template.ParseFS(templateFS, "templates/*.html")
}

// pageData is what every page template reads.
type pageData struct {
	Title   string
	Message string
	Error   string // the login form's error
	Action  string // the form's action
	CSRF    string
	Email   string // the login form's email, kept on a failed attempt
	ReqID   string
	Logout  string // the logout URL, on pages where another account may help
	Consent *consentView
}

// consentView is what the consent page shows about a request (MCP security best
// practices: client name, redirect URI, scopes).
type consentView struct {
	ClientName     string
	NameUnverified bool // the name was chosen by whoever registered the client
	ClientID       string
	RedirectHost   string
	RedirectURI    string
	Loopback       bool // the redirect goes to a program on the user's machine
	Scopes         []string
	Offline        bool // offline_access: refresh tokens
	Resource       string
	User           string
}

// writePage renders the named page. Every page forbids framing and scripts; formTarget,
// when not empty, is the redirect URI a form on the page may end at: Chrome applies
// form-action to the redirects that follow a form submission, so that URI's origin is
// allowed besides 'self'.
func (s *Server) writePage(w http.ResponseWriter, status int, name string, data pageData, formTarget string) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "oauth: page could not be rendered", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if src := cspSource(formTarget); src != "" {
		formAction += " " + src
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a plain error page.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	s.writePage(w, status, "error.html", pageData{Title: title, Message: message}, "")
}

// cspSource returns the CSP source expression (CSP3 §2.3.1) matching redirectURI's
// origin: scheme://host[:port] for http and https, the bare scheme for private-use
// schemes (cursor:) and for IPv6 literals, which host-source cannot express; "" when
// the URI has characters a source expression cannot carry.
func cspSource(redirectURI string) string {
	if redirectURI == "" {
		return ""
	}
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	if scheme != "http" && scheme != "https" || strings.HasPrefix(u.Host, "[") {
		return scheme + ":"
	}
	for i := 0; i < len(u.Host); i++ {
		c := u.Host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':') {
			return ""
		}
	}
	if u.Host == "" {
		return ""
	}
	return scheme + "://" + u.Host
}

// proceed continues an authorization request once the user is logged in: straight to
// the code when the user already consented to this client, scopes and resource, else
// to the consent page.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity, ar authRequest) {
	if ar.Prompt != "consent" {
		ok, err := s.consented(r.Context(), id.Subject, ar)
		if err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not read your earlier consents. Try again in a moment.")
			return
		}
		if ok {
			s.approve(w, r, ss, id, ar)
			return
		}
	}
	if ar.Prompt == "none" {
		ss.clearPending()
		s.saveSession(w, r, ss)
		s.redirectToClient(w, r, ar.RedirectURI, url.Values{"error": {"consent_required"}, "error_description": {"the user has not approved this client"}}, ar.State)
		return
	}
	ss.csrf()
	if !s.saveOrFail(w, r, ss) {
		return
	}
	http.Redirect(w, r, s.prefix+"/consent", http.StatusFound)
}

// consented reports whether subject's stored consent to the client covers ar.
func (s *Server) consented(ctx context.Context, subject string, ar authRequest) (bool, error) {
	c, err := s.cfg.Store.GetConsent(ctx, subject, ar.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if c.Resource != ar.Resource {
		return false, nil
	}
	for _, sc := range ar.Scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// approve issues the authorization code for ar and sends the user back to the client
// with it (RFC 6749 §4.1.2, RFC 9207).
func (s *Server) approve(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity, ar authRequest) {
	code, err := s.issueCode(r.Context(), ar, id)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not issue the authorization code. Try again in a moment.")
		return
	}
	ss.clearPending()
	if !s.saveOrFail(w, r, ss) {
		return
	}
	s.redirectToClient(w, r, ar.RedirectURI, url.Values{"code": {code}}, ar.State)
}

// issueCode stores a new single-use code for ar and returns it. Only its hash is kept.
func (s *Server) issueCode(ctx context.Context, ar authRequest, id store.Identity) (string, error) {
	code := randomString(32)
	err := s.cfg.Store.CreateAuthCode(ctx, store.AuthCode{
		CodeHash:      hashToken(code),
		ClientID:      ar.ClientID,
		RedirectURI:   ar.RedirectURI,
		CodeChallenge: ar.Challenge,
		Resource:      ar.Resource,
		Scopes:        ar.Scopes,
		Identity:      id,
		FamilyID:      randomString(16),
		ExpiresAt:     s.now().Add(s.ttl.code),
	})
	return code, err
}

// hashToken is the key under which a code or refresh token is stored: hex SHA-256.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// handleConsentPage shows the consent page for the authorization request in progress.
func (s *Server) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r)
	ar, ok := ss.pending()
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "No authorization in progress", "Go back to your application and connect again.")
		return
	}
	id, ok := ss.identity(s.now())
	if !ok {
		s.startLogin(w, r, ss)
		return
	}
	c, ok := s.pendingClient(w, r, ss, ar)
	if !ok {
		return
	}
	data := pageData{
		Title:   "Authorize " + displayName(c),
		Action:  s.prefix + "/consent",
		CSRF:    ss.csrf(),
		ReqID:   ar.ID,
		Logout:  s.prefix + "/logout",
		Consent: newConsentView(c, ar, id),
	}
	if !s.saveOrFail(w, r, ss) {
		return
	}
	s.writePage(w, http.StatusOK, "consent.html", data, ar.RedirectURI)
}

// handleConsentSubmit takes the user's answer: Approve stores the consent and issues
// the code, Deny answers access_denied. The form must carry the session's CSRF token
// and the id of the request in progress.
func (s *Server) handleConsentSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	ss := s.session(r)
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, "This form has expired", "The form was not sent by this browser's session. Go back to your application and connect again.")
		return
	}
	ar, ok := ss.pending()
	if !ok || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("request")), []byte(ar.ID)) != 1 {
		s.errorPage(w, r, http.StatusBadRequest, "This request is no longer current", "Another authorization started in this browser since this page was shown. Go back to your application and connect again.")
		return
	}
	id, ok := ss.identity(s.now())
	if !ok {
		s.startLogin(w, r, ss)
		return
	}
	if _, ok := s.pendingClient(w, r, ss, ar); !ok {
		return
	}
	switch r.PostForm.Get("action") {
	case "approve":
		if err := s.recordConsent(r, id, ar); err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not record your consent. Try again in a moment.")
			return
		}
		s.approve(w, r, ss, id, ar)
	case "deny":
		ss.clearPending()
		if !s.saveOrFail(w, r, ss) {
			return
		}
		s.redirectToClient(w, r, ar.RedirectURI, url.Values{"error": {"access_denied"}, "error_description": {"the user denied the request"}}, ar.State)
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "Choose Approve or Deny.")
	}
}

// pendingClient looks the request's client up again (a DCR registration may have
// expired, a CIMD document changed) and checks its redirect URI once more; on failure
// it drops the request and shows an error page.
func (s *Server) pendingClient(w http.ResponseWriter, r *http.Request, ss *session, ar authRequest) (store.Client, bool) {
	c, err := s.client(r.Context(), ar.ClientID)
	if err == nil && redirectAllowed(c, ar.RedirectURI) {
		return c, true
	}
	ss.clearPending()
	s.saveSession(w, r, ss)
	if err != nil && !errors.Is(err, ErrUnknownClient) {
		s.errorPage(w, r, http.StatusBadGateway, "Application not available", "The application's registration could not be loaded. Try again in a moment.")
		return c, false
	}
	s.errorPage(w, r, http.StatusBadRequest, "Unknown application", "The application is no longer registered. Go back to it and connect again.")
	return c, false
}

// recordConsent stores the user's consent; scopes already granted for the same
// resource are kept.
func (s *Server) recordConsent(r *http.Request, id store.Identity, ar authRequest) error {
	ctx := r.Context()
	scopes := slices.Clone(ar.Scopes)
	old, err := s.cfg.Store.GetConsent(ctx, id.Subject, ar.ClientID)
	switch {
	case err == nil && old.Resource == ar.Resource:
		for _, sc := range old.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return s.cfg.Store.PutConsent(ctx, store.Consent{
		Subject:   id.Subject,
		ClientID:  ar.ClientID,
		Scopes:    scopes,
		Resource:  ar.Resource,
		GrantedAt: s.now(),
	})
}

// displayName is the client's name, or its id when it has none.
func displayName(c store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// newConsentView describes ar for the consent page.
func newConsentView(c store.Client, ar authRequest, id store.Identity) *consentView {
	v := &consentView{
		ClientName:     displayName(c),
		NameUnverified: c.Kind != "static",
		ClientID:       c.ID,
		RedirectURI:    ar.RedirectURI,
		Resource:       ar.Resource,
		User:           id.Email,
	}
	if v.User == "" {
		v.User = id.Subject
	}
	if u, err := url.Parse(ar.RedirectURI); err == nil {
		v.RedirectHost = u.Host
		if u.Scheme != "http" && u.Scheme != "https" {
			v.RedirectHost = u.Scheme + "://" + u.Host
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		v.Loopback = host == "localhost" || ip != nil && ip.IsLoopback()
	}
	for _, sc := range ar.Scopes {
		if sc == scopeOfflineAccess {
			v.Offline = true
			continue
		}
		v.Scopes = append(v.Scopes, sc)
	}
	return v
}
