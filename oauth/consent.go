package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"

	"github.com/mcpguard/mcpguard/store"
)

// maxFormBytes bounds the body of every form and token request.
const maxFormBytes = 64 << 10

// proceed continues an authorization request once the user is logged in: straight to
// the code when the user already consented to this client, scopes and resource, else
// to the consent page.
func (f *frontChannel) proceed(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity, ar authRequest) {
	if ar.Prompt != "consent" {
		ok, err := f.consented(r.Context(), id.Subject, ar)
		if err != nil {
			f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not read your earlier consents. Try again in a moment.",
				failure{code: codeServerError, clientID: ar.ClientID, cause: err})
			return
		}
		if ok {
			f.approve(w, r, ss, id, ar)
			return
		}
	}
	if ar.Prompt == "none" {
		ss.clearPending()
		f.saveSession(w, r, ss)
		f.redirectError(w, r, ar, "the user has not approved this client", failure{code: codeConsentRequired})
		return
	}
	ss.csrf()
	if !f.saveOrFail(w, r, ss) {
		return
	}
	http.Redirect(w, r, f.iss.path+"/consent", http.StatusFound)
}

// consented reports whether subject's stored consent to the client covers ar.
func (f *frontChannel) consented(ctx context.Context, subject string, ar authRequest) (bool, error) {
	c, err := f.store.GetConsent(ctx, subject, ar.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("oauth: store: GetConsent: %w", err)
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
func (f *frontChannel) approve(w http.ResponseWriter, r *http.Request, ss *session, id store.Identity, ar authRequest) {
	code, err := f.issueCode(r.Context(), ar, id)
	if err != nil {
		f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not issue the authorization code. Try again in a moment.",
			failure{code: codeServerError, clientID: ar.ClientID, cause: err})
		return
	}
	ss.clearPending()
	if !f.saveOrFail(w, r, ss) {
		return
	}
	f.redirectToClient(w, ar.RedirectURI, url.Values{"code": {code}}, ar.State)
}

// issueCode stores a new single-use code for ar and returns it. Only its hash is kept.
func (f *frontChannel) issueCode(ctx context.Context, ar authRequest, id store.Identity) (string, error) {
	code := randomString(32)
	err := f.store.CreateAuthCode(ctx, store.AuthCode{
		CodeHash:      hashToken(code),
		ClientID:      ar.ClientID,
		RedirectURI:   ar.RedirectURI,
		CodeChallenge: ar.Challenge,
		Resource:      ar.Resource,
		Scopes:        ar.Scopes,
		Identity:      id,
		FamilyID:      randomString(16),
		ExpiresAt:     f.now().Add(f.codeTTL),
	})
	if err != nil {
		return "", fmt.Errorf("oauth: store: CreateAuthCode: %w", err)
	}
	return code, nil
}

// hashToken is the key under which a code or refresh token is stored: hex SHA-256.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// handleConsentPage shows the consent page for the authorization request in progress.
func (f *frontChannel) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	ss := f.session(r)
	ar, ok := ss.pending()
	if !ok {
		f.errorPage(w, r, http.StatusBadRequest, "No authorization in progress", "Go back to your application and connect again.", failure{code: codeInvalidRequest})
		return
	}
	id, ok := f.identity(r, ss)
	if !ok {
		f.startLogin(w, r, ss)
		return
	}
	c, ok := f.pendingClient(w, r, ss, ar)
	if !ok {
		return
	}
	data := pageData{
		Title:   "Authorize " + displayName(c),
		Action:  f.iss.path + "/consent",
		CSRF:    ss.csrf(),
		ReqID:   ar.ID,
		Logout:  f.iss.path + "/logout",
		Consent: newConsentView(c, ar, id),
	}
	if !f.saveOrFail(w, r, ss) {
		return
	}
	f.writePage(w, r, http.StatusOK, "consent.html", data, ar.RedirectURI)
}

// handleConsentSubmit takes the user's answer: Approve stores the consent and issues
// the code, Deny answers access_denied. The form must carry the session's CSRF token
// and the id of the request in progress.
func (f *frontChannel) handleConsentSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.",
			failure{code: codeInvalidRequest, cause: fmt.Errorf("oauth: consent form: %w", err)})
		return
	}
	ss := f.session(r)
	pendingID := ss.get(keyReqClient)
	if !ss.checkCSRF(r.PostForm.Get("csrf")) {
		f.errorPage(w, r, http.StatusForbidden, "This form has expired", "The form was not sent by this browser's session. Go back to your application and connect again.",
			failure{code: codeAccessDenied, clientID: pendingID, cause: errors.New("oauth: consent form: the CSRF token is not the session's")})
		return
	}
	ar, ok := ss.pending()
	if !ok || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("request")), []byte(ar.ID)) != 1 {
		f.errorPage(w, r, http.StatusBadRequest, "This request is no longer current", "Another authorization started in this browser since this page was shown. Go back to your application and connect again.",
			failure{code: codeInvalidRequest, clientID: pendingID, cause: errors.New("oauth: consent form: not for the authorization request in progress")})
		return
	}
	id, ok := f.identity(r, ss)
	if !ok {
		f.startLogin(w, r, ss)
		return
	}
	if _, ok := f.pendingClient(w, r, ss, ar); !ok {
		return
	}
	switch r.PostForm.Get("action") {
	case "approve":
		if err := f.recordConsent(r, id, ar); err != nil {
			f.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "mcpguard could not record your consent. Try again in a moment.",
				failure{code: codeServerError, clientID: ar.ClientID, cause: err})
			return
		}
		f.approve(w, r, ss, id, ar)
	case "deny":
		ss.clearPending()
		if !f.saveOrFail(w, r, ss) {
			return
		}
		f.redirectError(w, r, ar, "the user denied the request", failure{code: codeAccessDenied})
	default:
		f.errorPage(w, r, http.StatusBadRequest, "Invalid request", "Choose Approve or Deny.", failure{code: codeInvalidRequest, clientID: ar.ClientID})
	}
}

// pendingClient looks the request's client up again (a DCR registration may have
// expired, a CIMD document changed) and checks its redirect URI once more; on failure
// it drops the request and shows an error page.
func (f *frontChannel) pendingClient(w http.ResponseWriter, r *http.Request, ss *session, ar authRequest) (store.Client, bool) {
	c, err := f.clients.lookup(r.Context(), ar.ClientID)
	if err == nil && redirectAllowed(c, ar.RedirectURI) {
		return c, true
	}
	ss.clearPending()
	f.saveSession(w, r, ss)
	if err != nil && !errors.Is(err, ErrUnknownClient) {
		f.errorPage(w, r, http.StatusBadGateway, "Application not available", "The application's registration could not be loaded. Try again in a moment.",
			failure{code: codeTemporarilyUnavailable, clientID: ar.ClientID, cause: err})
		return c, false
	}
	if err == nil {
		err = errors.New("oauth: the redirect URI of the request in progress is no longer registered")
	}
	f.errorPage(w, r, http.StatusBadRequest, "Unknown application", "The application is no longer registered. Go back to it and connect again.",
		failure{code: codeInvalidClient, clientID: ar.ClientID, cause: err})
	return c, false
}

// recordConsent stores the user's consent; scopes already granted for the same
// resource are kept.
func (f *frontChannel) recordConsent(r *http.Request, id store.Identity, ar authRequest) error {
	ctx := r.Context()
	scopes := slices.Clone(ar.Scopes)
	old, err := f.store.GetConsent(ctx, id.Subject, ar.ClientID)
	switch {
	case err == nil && old.Resource == ar.Resource:
		for _, sc := range old.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("oauth: store: GetConsent: %w", err)
	}
	err = f.store.PutConsent(ctx, store.Consent{
		Subject:   id.Subject,
		ClientID:  ar.ClientID,
		Scopes:    scopes,
		Resource:  ar.Resource,
		GrantedAt: f.now(),
	})
	if err != nil {
		return fmt.Errorf("oauth: store: PutConsent: %w", err)
	}
	return nil
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
		NameUnverified: c.Kind != kindStatic,
		ClientID:       c.ID,
		RedirectURI:    ar.RedirectURI,
		Resource:       ar.Resource,
		User:           who(id),
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
