package oauth

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

// parsePages parses the embedded HTML pages.
func parsePages() (*template.Template, error) {
	return template.ParseFS(templateFS, "templates/*.html")
}

// pageData is what every page template reads.
type pageData struct {
	Title    string
	Message  string
	Error    string // the login form's error
	Action   string // the form's action
	CSRF     string
	Email    string // the login form's email, kept on a failed attempt
	ReqID    string
	Logout   string // the logout URL, on pages where another account may help
	Return   string // the logout form's rd: where the browser goes after signing out
	Next     string // a link the page offers next, with NextText as its text
	NextText string
	Consent  *consentView
	Account  *accountView
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
func (f *frontChannel) writePage(w http.ResponseWriter, r *http.Request, status int, name string, data pageData, formTarget string) {
	var buf bytes.Buffer
	if err := f.pages.ExecuteTemplate(&buf, name, data); err != nil {
		const msg = "oauth: page could not be rendered"
		logFailure(r, f.iss, http.StatusInternalServerError, msg, failure{code: codeServerError, cause: fmt.Errorf("oauth: render %s: %w", name, err)})
		http.Error(w, msg, http.StatusInternalServerError)
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
	retryLater(h, status)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a plain error page and logs it: the one writer of the front
// channel's error pages. message is the page's text; fl.cause is for the log only.
func (f *frontChannel) errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string, fl failure) {
	status, fl = fl.whenStoreDown(status)
	logFailure(r, f.iss, status, title, fl)
	f.writePage(w, r, status, "error.html", pageData{Title: title, Message: message}, "")
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
