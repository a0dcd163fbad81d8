// Package auth establishes who is calling: it turns the credential on a request into a Principal.
//
// # Authenticators
//
// Every credential kind is an authenticator: a concrete type with the method
//
//	Authenticate(r *Request) (Principal, error)
//
// (OwnTokens, JWTVerifier, APIKeys and ProxyIdentity). The package declares no
// interface for it: the consumer (the /auth handler) holds its own list of
// authenticators and asks each in turn. Authenticate has exactly
// three outcomes, and a caller branches on them with errors.Is, never on error text:
//
//   - ErrNoCredentials: the request carries no credential of this kind. Try the next
//     authenticator; when none is left, the request is anonymous.
//   - an error wrapping ErrInvalidCredential: a credential of this kind was presented and
//     is not valid (unknown, expired, malformed, repeated). Stop: the answer is a 401 with
//     error="invalid_token" (RFC 6750 §3.1). Falling through to the next kind would let a
//     broken credential be ignored instead of reported.
//   - a Principal and a nil error: the caller is authenticated. Stop.
//
// Any other error is an internal fault and must fail closed.
//
// A Principal that Authenticate returns may share its slices with the authenticator's
// own state (a key's groups, a cached token's scopes): callers read them and never
// change them. That is what lets a repeat credential cost no allocation.
//
// # What is read, and what never is
//
// Authenticators look at request headers only, never at the query string: a token in
// ?access_token= or ?api_key= is not read (RFC 6750 §2.3 is forbidden by the MCP
// authorization spec), so it cannot be accepted or leak into a log through this package.
// Header names are looked up in the canonical form in which net/http stores them, so
// "x-api-key" and "X-API-KEY" on the wire are the same header, while variants with an
// underscore or a dot (X_API_Key, X.Api.Key) are different header names and are never read.
// Configured header names are restricted to letters, digits and '-' for the same reason.
//
// Every length is bounded before a value is hashed or parsed. Errors name the condition
// (empty, repeated, too long, unknown key) and never contain a key, token or header value,
// so they are safe to log.
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
)

// Credential kinds a Principal can come from; the values are those of the X-Auth-Source
// response header (SourceOAuth, mcpguard's own tokens, is in owntoken.go).
const (
	SourceAPIKey = "apikey"
	SourceProxy  = "proxy"
	SourceJWT    = "jwt"
	// SourceSession is a person's browser session at mcpguard's authorization server.
	SourceSession = "session"
)

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the caller within its Source: a key name, a proxy user, a
	// token's user claim.
	Subject string
	// Email is the caller's email address when known, as given (policy parses it strictly).
	Email string
	// EmailVerified reports whether Email was verified (or asserted by the operator);
	// policy counts an email for allowlists only when it is.
	EmailVerified bool
	// Name is a display name, when known.
	Name string
	// Groups the caller belongs to.
	Groups []string
	// Scopes granted to the credential.
	Scopes []string
	// AllScopes reports that the credential is not scope-limited (the single API key,
	// a trusted proxy identity).
	AllScopes bool
	// Source is the credential kind: one of the Source constants.
	Source string
	// ClientID identifies the client software or key, when known.
	ClientID string
	// Issuer is the issuer (iss) of the token the caller presented; "" for credentials
	// that are not tokens.
	Issuer string
	// Audiences are the audiences (aud) of the token the caller presented.
	Audiences []string

	// headers are the identity header values Prepare rendered; see HeaderValues.
	headers *HeaderValues
}

// ErrNoCredentials and ErrInvalidCredential are the two outcomes of a failed Authenticate
// call; see the package documentation.
var (
	// ErrNoCredentials means the authenticator found no credential of its kind: try the next one.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidCredential means a credential of the authenticator's kind was presented and
	// is not valid. Authenticators return errors that wrap it and name the condition; their
	// text names the package once: "auth: <condition>: invalid credential".
	ErrInvalidCredential = errors.New("auth: invalid credential")
)

// invalidError is an error that wraps ErrInvalidCredential and names the package once.
// Wrapping ErrInvalidCredential with %w would repeat the prefix ("auth: <condition>:
// auth: invalid credential"); its text is "auth: <condition>: invalid credential".
type invalidError struct {
	text   string
	reason error // the condition, for errors.Is within the package; nil when none
}

// invalid returns the error for condition, a text without the package prefix.
func invalid(condition string) error {
	return &invalidError{text: "auth: " + condition + ": invalid credential"}
}

// Error implements error.
func (e *invalidError) Error() string { return e.text }

// Unwrap returns ErrInvalidCredential, and the condition when there is one.
func (e *invalidError) Unwrap() []error {
	if e.reason == nil {
		return []error{ErrInvalidCredential}
	}
	return []error{ErrInvalidCredential, e.reason}
}

// Request is what an authenticator may look at.
type Request struct {
	// Header holds the original request's headers, in canonical form as net/http
	// produces them.
	Header http.Header
	// Client is the client address as the edge proxy saw it (the last X-Forwarded-For
	// hop); the zero Addr when unknown.
	Client netip.Addr

	// bearer memoizes Bearer and BearerJWT: every authenticator of a chain reads the
	// same header.
	bearer struct {
		done  bool
		token string
		err   error
		// jwt is LooksLikeJWT(token), when jwtDone.
		jwt, jwtDone bool
	}
}

// Bearer returns ParseBearer(r.Header), parsed once per Request however many
// authenticators ask. A Request is used by one goroutine at a time.
func (r *Request) Bearer() (string, error) {
	if !r.bearer.done {
		r.bearer.token, r.bearer.err = ParseBearer(r.Header)
		r.bearer.done = true
	}
	return r.bearer.token, r.bearer.err
}

// BearerJWT returns Bearer and whether the token looks like a JWT (LooksLikeJWT), each
// found once per Request: a token is scanned once however many authenticators ask.
func (r *Request) BearerJWT() (token string, jwt bool, err error) {
	token, err = r.Bearer()
	if err != nil {
		return "", false, err
	}
	if !r.bearer.jwtDone {
		r.bearer.jwt, r.bearer.jwtDone = LooksLikeJWT(token), true
	}
	return token, r.bearer.jwt, nil
}

// maxHeaderNameLen bounds a configured header name.
const maxHeaderNameLen = 128

// headerName validates a configured header name (def when name is empty) and returns
// its canonical form. Only letters, digits and '-' are allowed: proxies disagree about
// '_' and '.' (nginx drops them, others map '_' to '-'), and a name that one hop rewrites
// is a name a client can spoof.
func headerName(name, def string) (string, error) {
	if name == "" {
		name = def
	}
	if len(name) > maxHeaderNameLen {
		return "", fmt.Errorf("auth: header name longer than %d bytes", maxHeaderNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '-' {
			return "", fmt.Errorf("auth: header name %q: only letters, digits and '-' are allowed", name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return "", fmt.Errorf("auth: header name %q must not start or end with '-'", name)
	}
	return http.CanonicalHeaderKey(name), nil
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isVisibleASCII reports whether s consists only of visible ASCII (%x21-7E): no space,
// no control character, no byte of a multi-byte sequence.
func isVisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
