package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxStateLen bounds the client's state: it travels in the session cookie, which
// browsers cap at 4 KiB.
const maxStateLen = 512

// authorizeError is a refused authorization request. It is shown to the user as a page
// when it cannot go back to the client: before the client and its redirect URI are
// established, or when the user's login failed; otherwise it goes back to the client
// as an RFC 6749 §4.1.2.1 error response.
type authorizeError struct {
	page        bool
	status      int    // of the page
	title       string // of the page
	description string // the page's message, or error_description
	failure            // failure.code is the error of a redirect
}

func pageError(status int, title, description string, fl failure) *authorizeError {
	return &authorizeError{page: true, status: status, title: title, description: description, failure: fl}
}

func clientError(code, description string) *authorizeError {
	return &authorizeError{description: description, failure: failure{code: code}}
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OAuth 2.1 §4.1.1).
func (f *frontChannel) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if f.forwardLegacyAuthorize(w, r) {
		return
	}
	ar, aerr := f.parseAuthorize(r.Context(), r.URL.Query())
	if aerr != nil {
		if aerr.page {
			f.errorPage(w, r, aerr.status, aerr.title, aerr.description, aerr.failure)
			return
		}
		f.redirectError(w, r, ar, aerr.description, aerr.failure)
		return
	}
	forceLogin := ar.Prompt == "login"
	if forceLogin {
		ar.Prompt = "" // satisfied by the login about to happen
	}
	ss := f.session(r)
	ss.setPending(ar)
	id, ok := f.identity(r, ss)
	if ok && (forceLogin || !f.accounts.admits(id)) {
		f.clearIdentity(r, ss)
		ok = false
	}
	if !ok {
		if ar.Prompt == "none" {
			ss.clearPending()
			f.saveSession(w, r, ss)
			f.redirectError(w, r, ar, "the user is not logged in", failure{code: codeLoginRequired})
			return
		}
		f.startLogin(w, r, ss)
		return
	}
	f.proceed(w, r, ss, id, ar)
}

// parseAuthorize checks an authorization request in the order RFC 6749 §4.1.2.1 asks:
// first the client and its redirect URI, whose failures are never redirected, then
// everything else, whose failures are. The returned request carries the redirect URI
// and state an error response needs.
func (f *frontChannel) parseAuthorize(ctx context.Context, q url.Values) (authRequest, *authorizeError) {
	var ar authRequest
	clientID, ok := single(q, "client_id")
	if !ok || clientID == "" {
		return ar, pageError(http.StatusBadRequest, "Invalid request", "The request has no client_id, or more than one.", failure{code: codeInvalidRequest})
	}
	c, err := f.clients.lookup(ctx, clientID)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return ar, pageError(http.StatusBadRequest, "Unknown application", "mcpguard does not know the application that sent you here. Ask it to register again.",
			failure{code: codeInvalidClient, clientID: clientID, cause: err})
	case err != nil:
		return ar, pageError(http.StatusBadGateway, "Application not available", "The application's registration could not be loaded. Try again in a moment.",
			failure{code: codeTemporarilyUnavailable, clientID: clientID, cause: err})
	}
	redirectURI, ok := single(q, "redirect_uri")
	switch {
	case !ok || redirectURI == "":
		return ar, pageError(http.StatusBadRequest, "Invalid request", "The request has no redirect_uri, or more than one.", failure{code: codeInvalidRequest, clientID: clientID})
	case strings.Contains(redirectURI, "#") || !redirectAllowed(c, redirectURI):
		return ar, pageError(http.StatusBadRequest, "Invalid redirect URI", "The redirect URI is not registered for this application, so mcpguard will not send you there.",
			failure{code: codeInvalidRequest, clientID: clientID})
	}
	ar.ClientID, ar.RedirectURI = clientID, redirectURI

	// From here on, errors go back to the client.
	state, ok := single(q, "state")
	if !ok {
		return ar, clientError(codeInvalidRequest, "state is repeated")
	}
	if len(state) > maxStateLen {
		return ar, clientError(codeInvalidRequest, fmt.Sprintf("state is longer than %d bytes", maxStateLen))
	}
	ar.State = state
	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			return ar, clientError(codeInvalidRequest, "parameter "+errorText(k)+" is repeated")
		}
	}
	switch {
	case q.Has("request"):
		return ar, clientError(codeRequestNotSupported, "request objects are not supported")
	case q.Has("request_uri"):
		return ar, clientError(codeRequestURINotSupported, "request_uri is not supported")
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return ar, clientError(codeInvalidRequest, "response_type is required")
	case rt != "code":
		return ar, clientError(codeUnsupportedResponseType, "only response_type=code is supported")
	case len(c.ResponseTypes) > 0 && !slices.Contains(c.ResponseTypes, "code"),
		len(c.GrantTypes) > 0 && !slices.Contains(c.GrantTypes, grantAuthorizationCode):
		return ar, clientError(codeUnauthorizedClient, "the client is not registered for the authorization code grant")
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "":
		return ar, clientError(codeInvalidRequest, "PKCE S256 is required: code_challenge is missing")
	case method == "" || method == "plain":
		return ar, clientError(codeInvalidRequest, "PKCE S256 is required: code_challenge_method must be S256")
	case method != "S256":
		return ar, clientError(codeInvalidRequest, "code_challenge_method must be S256")
	case len(challenge) != 43 || !onlyBase64URL(challenge):
		return ar, clientError(codeInvalidRequest, "code_challenge is not a base64url SHA-256 (43 characters)")
	}
	ar.Challenge = challenge
	switch res := q["resource"]; {
	case len(res) == 0:
		ar.Resource = f.resources[0]
	case len(res) > 1:
		return ar, clientError(codeInvalidTarget, "request one resource at a time")
	case !slices.Contains(f.resources, res[0]):
		return ar, clientError(codeInvalidTarget, "the resource is not one this server issues tokens for")
	default:
		ar.Resource = res[0]
	}
	scopes, why := f.scopes.parse(q.Get("scope"))
	if why != "" {
		return ar, clientError(codeInvalidScope, why)
	}
	if len(scopes) == 0 {
		// RFC 6749 §3.3: an omitted scope gets a pre-defined default, every allowed scope.
		scopes = slices.Clone(f.scopes.defaults)
	}
	ar.Scopes = scopes
	for p := range strings.FieldsSeq(q.Get("prompt")) {
		switch p {
		case "none", "login", "consent":
			if ar.Prompt != "" && ar.Prompt != p {
				return ar, clientError(codeInvalidRequest, "prompt=none cannot be combined with other values")
			}
			ar.Prompt = p
		}
	}
	ar.ID = randomString(16)
	return ar, nil
}

// single returns the value of parameter k, and false when it is repeated (RFC 6749
// §3.1: parameters MUST NOT be included more than once).
func single(q url.Values, k string) (string, bool) {
	v := q[k]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// onlyBase64URL reports whether s is made of the unpadded base64url alphabet.
func onlyBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
