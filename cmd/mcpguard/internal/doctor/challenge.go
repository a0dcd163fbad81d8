package doctor

// Parsing WWW-Authenticate challenges as RFC 9110 and RFC 6750 write them.

import (
	"errors"
	"fmt"
	"strings"
)

// authChallenge is one challenge of a WWW-Authenticate field (RFC 9110 §11.6.1).
type authChallenge struct {
	scheme  string            // as written
	token68 string            // the token68 form, if used instead of parameters
	params  map[string]string // auth-params, names lower-cased, values unquoted
}

// parseChallenges parses WWW-Authenticate field values strictly, as RFC 9110 §11.6.1
// and RFC 6750 §3 write them:
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// A field may hold several challenges separated by commas; a parameter may appear once.
func parseChallenges(values []string) ([]authChallenge, error) {
	var out []authChallenge
	for _, v := range values {
		sc := &challengeScanner{s: v}
		for {
			sc.skipListSeparators()
			if sc.eof() {
				break
			}
			c, err := sc.challenge()
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no challenge")
	}
	return out, nil
}

type challengeScanner struct {
	s string
	i int
}

func (sc *challengeScanner) eof() bool  { return sc.i >= len(sc.s) }
func (sc *challengeScanner) peek() byte { return sc.s[sc.i] }

func (sc *challengeScanner) ows() {
	for !sc.eof() && (sc.peek() == ' ' || sc.peek() == '\t') {
		sc.i++
	}
}

// skipListSeparators skips whitespace and the empty elements RFC 9110 §5.6.1 allows.
func (sc *challengeScanner) skipListSeparators() {
	for sc.ows(); !sc.eof() && sc.peek() == ','; sc.ows() {
		sc.i++
	}
}

func (sc *challengeScanner) token() string {
	start := sc.i
	for !sc.eof() && isTchar(sc.peek()) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// challenge reads one challenge; it stops before the scheme of the next one.
func (sc *challengeScanner) challenge() (authChallenge, error) {
	c := authChallenge{scheme: sc.token(), params: map[string]string{}}
	if c.scheme == "" {
		return c, fmt.Errorf("expected an auth-scheme at byte %d", sc.i)
	}
	if sc.eof() || sc.peek() == ',' {
		return c, nil
	}
	if sc.peek() != ' ' {
		return c, fmt.Errorf("expected a space after the scheme %q at byte %d", c.scheme, sc.i)
	}
	sc.ows()
	if t, ok := sc.token68(); ok {
		c.token68 = t
		return c, nil
	}
	for !sc.eof() {
		if sc.peek() == ',' { // #auth-param allows empty list elements
			sc.skipListSeparators()
			continue
		}
		start := sc.i
		name := sc.token()
		sc.ows()
		if name == "" || sc.eof() || sc.peek() != '=' {
			sc.i = start // not a parameter: the next challenge's scheme, or an error there
			if name == "" && len(c.params) == 0 {
				return c, fmt.Errorf("expected a parameter at byte %d", sc.i)
			}
			return c, nil
		}
		sc.i++
		sc.ows()
		value, err := sc.value()
		if err != nil {
			return c, fmt.Errorf("parameter %q: %w", name, err)
		}
		key := strings.ToLower(name)
		if _, dup := c.params[key]; dup {
			return c, fmt.Errorf("parameter %q appears twice (RFC 6750 §3)", name)
		}
		c.params[key] = value
		sc.ows()
		if sc.eof() {
			break
		}
		if sc.peek() != ',' {
			return c, fmt.Errorf("expected a comma after parameter %q at byte %d", name, sc.i)
		}
		sc.skipListSeparators()
	}
	return c, nil
}

// token68 reads a token68 that is the whole of a challenge's credentials, if there is one.
func (sc *challengeScanner) token68() (string, bool) {
	j := sc.i
	for j < len(sc.s) && (isAlnum(sc.s[j]) || strings.IndexByte("-._~+/", sc.s[j]) >= 0) {
		j++
	}
	if j == sc.i {
		return "", false
	}
	for j < len(sc.s) && sc.s[j] == '=' {
		j++
	}
	k := j
	for k < len(sc.s) && (sc.s[k] == ' ' || sc.s[k] == '\t') {
		k++
	}
	if k < len(sc.s) && sc.s[k] != ',' {
		return "", false
	}
	t := sc.s[sc.i:j]
	sc.i = k
	return t, true
}

// value reads a token or a quoted-string, unquoted.
func (sc *challengeScanner) value() (string, error) {
	if sc.eof() || sc.peek() != '"' {
		if t := sc.token(); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("expected a token or a quoted string at byte %d", sc.i)
	}
	sc.i++
	var b strings.Builder
	for !sc.eof() {
		ch := sc.peek()
		sc.i++
		switch {
		case ch == '"':
			return b.String(), nil
		case ch == '\\' && !sc.eof():
			b.WriteByte(sc.peek())
			sc.i++
		case ch == '\t' || ch >= 0x20 && ch != 0x7f:
			b.WriteByte(ch)
		default:
			return "", fmt.Errorf("control character in a quoted string at byte %d", sc.i-1)
		}
	}
	return "", errors.New("unterminated quoted string")
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isTchar reports whether c may appear in an RFC 9110 §5.6.2 token.
func isTchar(c byte) bool { return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 }
