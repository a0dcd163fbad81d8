package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpguard/mcpguard/store"
)

// startUpstream sends the browser to the upstream's authorization endpoint with a new
// state, nonce and PKCE verifier, kept in the session for the callback.
func (f *frontChannel) startUpstream(w http.ResponseWriter, r *http.Request, ss *session) {
	u := f.accounts.upstream
	p := u.provider.Load()
	if p == nil {
		f.saveSession(w, r, ss)
		f.errorPage(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The identity provider cannot be reached yet. Try again in a moment.",
			failure{code: codeTemporarilyUnavailable, clientID: ss.get(keyReqClient), upstream: true, cause: u.ready()})
		return
	}
	state, nonce, verifier := randomString(32), randomString(32), oauth2.GenerateVerifier()
	ss.set(keyUpState, state)
	ss.set(keyUpNonce, nonce)
	ss.set(keyUpVerifier, verifier)
	if !f.saveOrFail(w, r, ss) {
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if u.hd != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", u.hd))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.config.AuthCodeURL(state, opts...), http.StatusFound)
}

// handleCallback is the upstream's redirect back: it checks state, exchanges the code
// (with the PKCE verifier), verifies the ID token (signature, iss, aud, exp, nonce),
// applies Google's hd and the allowlists, and logs the user in.
func (f *frontChannel) handleCallback(w http.ResponseWriter, r *http.Request) {
	u := f.accounts.upstream
	if u == nil {
		f.errorPage(w, r, http.StatusNotFound, "Not found", "This server has no upstream identity provider.", failure{code: codeInvalidRequest})
		return
	}
	ss := f.session(r)
	clientID := ss.get(keyReqClient)
	q := r.URL.Query()
	want, nonce, verifier := ss.get(keyUpState), ss.get(keyUpNonce), ss.get(keyUpVerifier)
	ss.clearUpstream() // single use, whatever happens next
	if want == "" {
		f.saveSession(w, r, ss)
		f.errorPage(w, r, http.StatusBadRequest, "No sign-in in progress", "This browser has no sign-in in progress (or its session cookie was lost). Start again from your application.",
			failure{code: codeInvalidRequest, clientID: clientID, cause: errors.New("oauth: callback: the session has no upstream login in progress")})
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(want)) != 1 {
		f.saveSession(w, r, ss)
		f.errorPage(w, r, http.StatusBadRequest, "Sign-in failed", "The identity provider's answer does not belong to this browser's sign-in (state mismatch). Start again from your application.",
			failure{code: codeInvalidRequest, clientID: clientID, cause: errors.New("oauth: callback: state is not the session's")})
		return
	}
	if e := q.Get("error"); e != "" {
		f.saveSession(w, r, ss)
		f.errorPage(w, r, http.StatusForbidden, "Sign-in refused", "The identity provider did not sign you in ("+truncate(e, 64)+").",
			failure{code: codeAccessDenied, clientID: clientID, upstream: e != codeAccessDenied,
				cause: fmt.Errorf("oauth: upstream: the identity provider answered error %q", errorText(e))})
		return
	}
	id, aerr := u.identity(r.Context(), q.Get("code"), verifier, nonce)
	if aerr != nil {
		f.saveSession(w, r, ss)
		aerr.clientID = clientID
		f.errorPage(w, r, aerr.status, aerr.title, aerr.description, aerr.failure)
		return
	}
	f.loggedIn(w, r, ss, id)
}

// signInFailed is the page of a failed upstream login.
func signInFailed(status int, message string, fl failure) *authorizeError {
	return pageError(status, "Sign-in failed", message, fl)
}

// identity redeems code and returns who logged in, or the page explaining why not.
func (u *upstream) identity(ctx context.Context, code, verifier, nonce string) (store.Identity, *authorizeError) {
	p := u.provider.Load()
	switch {
	case code == "":
		return store.Identity{}, signInFailed(http.StatusBadRequest, "The identity provider sent no authorization code.",
			failure{code: codeInvalidRequest, cause: errors.New("oauth: callback: no code")})
	case p == nil:
		return store.Identity{}, signInFailed(http.StatusBadRequest, "The identity provider sent no authorization code.",
			failure{code: codeInvalidRequest, upstream: true, cause: u.ready()})
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, u.client)
	tok, err := p.config.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return store.Identity{}, signInFailed(http.StatusBadGateway, "The identity provider did not accept the sign-in. Start again from your application.",
			failure{code: codeServerError, upstream: true, cause: upstreamCause("token exchange", err, code, verifier, p.config.ClientSecret)})
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return store.Identity{}, signInFailed(http.StatusBadGateway, "The identity provider sent no ID token.",
			failure{code: codeServerError, upstream: true, cause: errors.New("oauth: upstream: the token response has no id_token")})
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return store.Identity{}, signInFailed(http.StatusForbidden, "The identity provider's ID token could not be verified.",
			failure{code: codeAccessDenied, upstream: true, cause: upstreamCause("ID token verification", err, raw, code, verifier, p.config.ClientSecret)})
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return store.Identity{}, signInFailed(http.StatusForbidden, "The identity provider's ID token does not belong to this sign-in (nonce mismatch).",
			failure{code: codeAccessDenied, cause: errors.New("oauth: upstream: the ID token's nonce is not this login's")})
	}
	var c upstreamClaims
	if err := idt.Claims(&c); err != nil {
		return store.Identity{}, signInFailed(http.StatusForbidden, "The identity provider's ID token could not be read.",
			failure{code: codeAccessDenied, upstream: true, cause: fmt.Errorf("oauth: upstream: ID token claims: %w", err)})
	}
	id := store.Identity{
		Subject:       idt.Subject,
		Email:         c.Email,
		EmailVerified: c.EmailVerified == true || c.EmailVerified == "true",
		Name:          c.Name,
		Groups:        claimStrings(c.Groups),
	}
	if id.Name == "" {
		id.Name = c.PreferredUsername
	}
	if u.google {
		// Google asserts email_verified for every account it vouches for; hd is the
		// only trustworthy sign of a Workspace domain (the email's domain is not).
		if id.Email == "" || !id.EmailVerified {
			return store.Identity{}, signInFailed(http.StatusForbidden, "Your Google account's email address is not verified.",
				failure{code: codeAccessDenied, cause: fmt.Errorf("oauth: upstream: Google account %q has no verified email", who(id))})
		}
		if u.hd != "" && !strings.EqualFold(c.HostedDomain, u.hd) {
			return store.Identity{}, signInFailed(http.StatusForbidden, "Sign in with an account of "+u.hd+".",
				failure{code: codeAccessDenied, cause: fmt.Errorf("oauth: upstream: Google account %q has hd %q, not %q", who(id), c.HostedDomain, u.hd)})
		}
	}
	return id, nil
}

// upstreamCause describes a failed call to the upstream provider for the log, without
// what the failure may carry: an oauth2.RetrieveError keeps its status, error code and
// a bounded error_description, never the response body (which may hold tokens); a
// url.Error loses its URL's userinfo, query and fragment. secrets (the code, the PKCE
// verifier, the client secret) are cut out of whatever text remains.
func upstreamCause(op string, err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		refusal := &upstreamRefusal{code: errorText(scrub(re.ErrorCode, secrets)), description: errorText(scrub(re.ErrorDescription, secrets))}
		if re.Response != nil {
			refusal.status = re.Response.Status
		}
		return fmt.Errorf("oauth: upstream: %s: %w", op, refusal)
	case errors.As(err, &ue):
		return fmt.Errorf("oauth: upstream: %s: %w", op, &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err})
	}
	return fmt.Errorf("oauth: upstream: %s: %w", op, &scrubbed{msg: scrub(err.Error(), secrets), err: err})
}

// scrubbed is an error whose text had secrets cut out; errors.Is and errors.As still
// see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// upstreamRefusal is an error answer of the upstream token endpoint, as much of it as
// may be logged.
type upstreamRefusal struct {
	status      string // "401 Unauthorized"
	code        string // the OAuth error code it sent, if any
	description string // its error_description, bounded
}

func (e *upstreamRefusal) Error() string {
	s := "the identity provider answered " + e.status
	if e.code != "" {
		s += " " + e.code
	}
	if e.description != "" {
		s += ": " + e.description
	}
	return s
}

// scrub replaces every occurrence of a non-empty secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// redactURL returns raw without userinfo, query and fragment, which may carry codes
// and tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "redacted", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
