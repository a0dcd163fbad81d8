package auth

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxNumericDate is 9999-12-31T23:59:59Z: a NumericDate beyond it is refused rather
// than converted with overflow.
const maxNumericDate = 253402300799

// claimPath names a claim: a top-level name, or a path into nested objects.
type claimPath struct {
	name string   // looked up first, as a top-level claim; "" for none
	segs []string // the path, when name is not a top-level claim
}

// newClaimPath returns the path for a configured claim name: the name itself, and,
// when it has dots, its dot-separated segments.
func newClaimPath(name string) claimPath {
	c := claimPath{name: name}
	if strings.Contains(name, ".") {
		c.segs = strings.Split(name, ".")
	}
	return c
}

// lookup returns the claim's value in claims.
func (c claimPath) lookup(claims map[string]any) (any, bool) {
	if c.name != "" {
		if v, ok := claims[c.name]; ok {
			return v, true
		}
	}
	if len(c.segs) == 0 {
		return nil, false
	}
	var cur any = claims
	for _, s := range c.segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[s]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// jwt is what Verify reads from a token before it checks the signature.
type jwt struct {
	alg, kid string
	payload  []byte         // the decoded payload segment
	claims   map[string]any // payload as JSON, numbers as float64
	exp      time.Time
	aud      []string
	// validFrom, set when checkClaims refuses a token whose nbf or iat is in the future,
	// is when the clock skew allows that claim.
	validFrom time.Time
}

// route decodes token's header and payload, without verifying anything, and returns
// the configured issuer its iss names.
func (v *JWTVerifier) route(token string) (*issuer, *jwt, error) {
	v.decodes.Add(1)
	h64, rest, _ := strings.Cut(token, ".")
	p64, _, _ := strings.Cut(rest, ".")
	var t jwt
	var header map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(h64); err != nil || json.Unmarshal(b, &header) != nil || header == nil {
		return nil, nil, errJWTHeader
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return nil, nil, errJWTHeader
	}
	t.alg = alg
	if kid, ok := header["kid"]; ok {
		if t.kid, ok = kid.(string); !ok {
			return nil, nil, errJWTHeader
		}
	}
	if _, ok := header["crit"]; ok {
		return nil, nil, errJWTCrit
	}
	var err error
	if t.payload, err = base64.RawURLEncoding.DecodeString(p64); err != nil {
		return nil, nil, errJWTPayload
	}
	if json.Unmarshal(t.payload, &t.claims) != nil || t.claims == nil {
		return nil, nil, errJWTPayload
	}
	iss, _ := t.claims["iss"].(string)
	is := v.byName[iss]
	if is == nil {
		return nil, nil, errJWTUnknownIssuer
	}
	return is, &t, nil
}

// checkClaims checks t's exp, nbf, iat and aud against the issuer's rules at now, and
// sets t.exp and t.aud, and t.validFrom when nbf or iat is in the future. It runs
// before the signature check, so a token that would be refused anyway costs no
// cryptography; the signature check then confirms the payload is the one checked here.
func (is *issuer) checkClaims(t *jwt, now time.Time) error {
	if !slices.Contains(is.algs, t.alg) {
		return errJWTAlg
	}
	exp, ok, err := numericDate(t.claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return errJWTNoExp
	case !now.Before(exp.Add(is.skew)):
		return errJWTExpired
	}
	t.exp = exp
	late := now.Add(is.skew)
	if nbf, ok, err := numericDate(t.claims, "nbf"); err != nil {
		return err
	} else if ok && nbf.After(late) {
		t.validFrom = nbf.Add(-is.skew)
		return errJWTNotYetValid
	}
	if iat, ok, err := numericDate(t.claims, "iat"); err != nil {
		return err
	} else if ok && iat.After(late) {
		t.validFrom = iat.Add(-is.skew)
		return errJWTIssuedLater
	}

	// aud is a string or an array of strings (RFC 7519 §4.1.3).
	switch aud := t.claims["aud"].(type) {
	case string:
		t.aud = []string{aud}
	case []any:
		t.aud = make([]string, 0, len(aud))
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return errJWTNoAudience
			}
			t.aud = append(t.aud, s)
		}
	}
	if len(t.aud) == 0 {
		return errJWTNoAudience
	}
	for _, a := range t.aud {
		if slices.Contains(is.audiences, a) {
			return nil
		}
	}
	return errJWTAudience
}

// numericDate returns the NumericDate claim name (RFC 7519 §2) and whether it is
// present; a value that is not a number in [0, year 9999] is an error.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, errJWTTime
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// principal maps a token's claims to the Principal they stand for. Verify calls it
// before the signature check, so that a token without a usable subject costs no
// cryptography, and returns the result only once the signature verifies.
func (is *issuer) principal(claims map[string]any, aud []string) (Principal, error) {
	sub, _ := stringClaim(claims, is.userClaim)
	if !validText(sub) {
		return Principal{}, errJWTSubject
	}
	p := Principal{
		Subject:   sub,
		Source:    SourceJWT,
		Issuer:    is.name,
		Audiences: aud,
	}
	if email, ok := stringClaim(claims, is.emailClaim); ok && validText(email) {
		p.Email = email
		if v, present := claims["email_verified"]; present {
			// Some issuers (Amazon Cognito) send the string "true".
			p.EmailVerified = v == true || v == "true"
		} else {
			p.EmailVerified = is.emailsVerified
		}
	}
	if name, ok := claims["name"].(string); ok && validText(name) {
		p.Name = name
	}
	for _, c := range is.clientIDClaims {
		if id, ok := stringClaim(claims, c); ok && validText(id) {
			p.ClientID = id
			break
		}
	}
	if v, ok := is.groupsClaim.lookup(claims); ok {
		for _, g := range stringValues(v) {
			if validText(g) && !strings.Contains(g, ",") && !slices.Contains(p.Groups, g) {
				p.Groups = append(p.Groups, g)
			}
		}
	}
	for _, c := range is.scopeClaims {
		v, ok := c.lookup(claims)
		if !ok {
			continue
		}
		for _, s := range stringValues(v) {
			for _, sc := range strings.Fields(s) {
				if isScopeToken(sc) && !slices.Contains(p.Scopes, sc) {
					p.Scopes = append(p.Scopes, sc)
				}
			}
		}
	}
	return p, nil
}

// stringClaim returns the claim at c when it is a string.
func stringClaim(claims map[string]any, c claimPath) (string, bool) {
	v, _ := c.lookup(claims)
	s, ok := v.(string)
	return s, ok
}

// stringValues returns v when it is a string, or its strings when it is a list; other
// values (numbers, objects) are ignored.
func stringValues(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// validText reports whether a claim value may become part of a Principal (and so a
// response header and a log field): 1-256 bytes of UTF-8 without control characters.
func validText(s string) bool {
	return s != "" && len(s) <= maxNameLen && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
