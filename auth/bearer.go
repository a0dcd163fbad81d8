package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// maxBearerLen bounds a bearer token, in bytes. Real access tokens (JWTs with a few
// dozen claims) stay well under it; anything longer is refused before it is parsed.
const maxBearerLen = 16 << 10

// Errors of ParseBearer. They are built once: the hot path allocates nothing.
var (
	errBearerRepeated = invalid("more than one authorization header")
	errBearerEmpty    = invalid("empty bearer token")
	errBearerTooLong  = invalid(fmt.Sprintf("bearer token longer than %d bytes", maxBearerLen))
	errBearerSyntax   = invalid("bearer token is not a b64token (RFC 6750 §2.1)")
)

// ParseBearer returns the token of the request's "Authorization: Bearer <token>" header
// (RFC 6750 §2.1). h must be in canonical form, as net/http produces it.
//
// It returns ErrNoCredentials when there is no Authorization header or its scheme is not
// Bearer (Basic, Digest, ...). The scheme is matched case-insensitively (RFC 7235 §2.1)
// and may be followed by more than one space (1*SP). When the scheme is Bearer, an error
// wrapping ErrInvalidCredential is returned if the Authorization header is present more
// than once, or the token is empty, longer than 16 KiB, or not a b64token (the token68
// syntax: letters, digits, "-._~+/", then optional "=" padding; no space, comma, quote,
// control or non-ASCII character).
func ParseBearer(h http.Header) (token string, err error) {
	vals := h["Authorization"]
	switch len(vals) {
	case 0:
		return "", ErrNoCredentials
	case 1:
		return parseBearerValue(vals[0])
	}
	// Two Authorization headers are ambiguous: proxies and servers disagree about which
	// one counts. Refuse when either claims to be a bearer token.
	for _, v := range vals {
		if _, ok := bearerCredentials(v); ok {
			return "", errBearerRepeated
		}
	}
	return "", ErrNoCredentials
}

// parseBearerValue parses one Authorization header value.
func parseBearerValue(v string) (string, error) {
	rest, ok := bearerCredentials(v)
	if !ok {
		return "", ErrNoCredentials
	}
	if rest == "" {
		return "", errBearerEmpty
	}
	if rest[0] != ' ' {
		// "Bearer\tabc", "Bearer:abc": the scheme is Bearer, the separator is wrong.
		return "", errBearerSyntax
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", errBearerEmpty
	}
	if len(tok) > maxBearerLen {
		return "", errBearerTooLong
	}
	if !isB64Token(tok) {
		return "", errBearerSyntax
	}
	return tok, nil
}

// bearerCredentials reports whether the Authorization value v uses the Bearer scheme and
// returns what follows the scheme name. Optional whitespace around the value is ignored,
// as net/http strips it from a header read off the wire.
func bearerCredentials(v string) (rest string, ok bool) {
	v = strings.Trim(v, " \t")
	n := 0
	for n < len(v) && isTChar(v[n]) {
		n++
	}
	if !strings.EqualFold(v[:n], "Bearer") {
		return "", false
	}
	return v[n:], true
}

// isTChar reports whether c may appear in an HTTP token such as an auth-scheme
// (RFC 9110 §5.6.2).
func isTChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	return body != "" && allIn(body, classB64Token)
}

// Character classes of charClass. Every request's bearer token is scanned byte by byte,
// so the classes are a table lookup rather than a chain of comparisons.
const (
	classB64Token  = 1 << iota // RFC 6750 b64token, without '=': ALPHA DIGIT - . _ ~ + /
	classBase64URL             // RFC 4648 §5 base64url, without '=': ALPHA DIGIT - _
)

// charClass maps each byte to the classes it belongs to.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if isAlnum(byte(c)) {
			t[c] = classB64Token | classBase64URL
		}
	}
	for _, c := range "-._~+/" {
		t[c] |= classB64Token
	}
	t['-'] |= classBase64URL
	t['_'] |= classBase64URL
	return t
}()

// LooksLikeJWT reports whether token has the shape of a JWS compact serialization
// (RFC 7515 §7.1): three non-empty base64url segments (no padding) separated by '.'.
// It checks the shape only; it says nothing about validity. APIKeys uses it to leave
// JWT bearer tokens to the token authenticators.
func LooksLikeJWT(token string) bool {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	return ok && isBase64URL(header) && isBase64URL(payload) && isBase64URL(sig)
}

// isBase64URL reports whether s is a non-empty string of the unpadded base64url
// alphabet (RFC 4648 §5).
func isBase64URL(s string) bool {
	if s == "" {
		return false
	}
	return allIn(s, classBase64URL)
}

// allIn reports whether every byte of s belongs to class. It reads every byte, without a
// branch per byte: tokens are scanned on every request, and they are almost always valid.
func allIn(s string, class uint8) bool {
	acc := class
	i := 0
	for ; i+4 <= len(s); i += 4 {
		acc &= charClass[s[i]] & charClass[s[i+1]] & charClass[s[i+2]] & charClass[s[i+3]]
	}
	for ; i < len(s); i++ {
		acc &= charClass[s[i]]
	}
	return acc != 0
}
