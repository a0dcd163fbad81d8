package auth

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// errOutcome returns the sentinel an Authenticate or ParseBearer error wraps: nil,
// ErrNoCredentials or ErrInvalidCredential. Any other error fails the test: the caller
// would treat it as an internal fault.
func errOutcome(tb testing.TB, err error) error {
	tb.Helper()
	checkOnePrefix(tb, err)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoCredentials):
		return ErrNoCredentials
	case errors.Is(err, ErrInvalidCredential):
		return ErrInvalidCredential
	}
	tb.Fatalf("error %v wraps neither ErrNoCredentials nor ErrInvalidCredential", err)
	return nil
}

// checkOnePrefix fails unless err's text names the package once: `auth: jwt issuer
// "https://x": token expired: invalid credential`, not `...: auth: invalid credential`.
func checkOnePrefix(tb testing.TB, err error) {
	tb.Helper()
	if err != nil && strings.Count(err.Error(), "auth: ") != 1 {
		tb.Errorf("error %q: want the prefix \"auth: \" exactly once", err)
	}
}

// checkNoLeak fails when the error text contains the secret value.
func checkNoLeak(tb testing.TB, err error, value string) {
	tb.Helper()
	if err != nil && len(value) >= 6 && strings.Contains(err.Error(), value) {
		tb.Errorf("error %q contains the presented value", err)
	}
}

var parseBearerTests = []struct {
	name    string
	header  http.Header
	want    string
	wantErr error
}{
	{"absent", http.Header{}, "", ErrNoCredentials},
	{"nil header", nil, "", ErrNoCredentials},
	{"other header only", http.Header{"X-Api-Key": {"abc"}}, "", ErrNoCredentials},
	{"basic scheme", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, "", ErrNoCredentials},
	{"digest scheme", http.Header{"Authorization": {`Digest username="u"`}}, "", ErrNoCredentials},
	{"empty authorization", http.Header{"Authorization": {""}}, "", ErrNoCredentials},
	{"scheme prefix only", http.Header{"Authorization": {"Bearerabc"}}, "", ErrNoCredentials},
	{"plain", http.Header{"Authorization": {"Bearer abc.def-ghi_jkl~mno+pq/rs=="}}, "abc.def-ghi_jkl~mno+pq/rs==", nil},
	{"lower case scheme", http.Header{"Authorization": {"bearer abc"}}, "abc", nil},
	{"upper case scheme", http.Header{"Authorization": {"BEARER abc"}}, "abc", nil},
	{"multiple spaces", http.Header{"Authorization": {"Bearer    abc"}}, "abc", nil},
	{"surrounding whitespace", http.Header{"Authorization": {" \tBearer abc \t"}}, "abc", nil},
	{"two authorization headers", http.Header{"Authorization": {"Bearer abc", "Bearer abc"}}, "", ErrInvalidCredential},
	{"bearer and basic", http.Header{"Authorization": {"Basic dXNlcjpwYXNz", "Bearer abc"}}, "", ErrInvalidCredential},
	{"two basic headers", http.Header{"Authorization": {"Basic a", "Basic b"}}, "", ErrNoCredentials},
	{"scheme only", http.Header{"Authorization": {"Bearer"}}, "", ErrInvalidCredential},
	{"empty token", http.Header{"Authorization": {"Bearer "}}, "", ErrInvalidCredential},
	{"tab separator", http.Header{"Authorization": {"Bearer\tabc"}}, "", ErrInvalidCredential},
	{"colon separator", http.Header{"Authorization": {"Bearer:abc"}}, "", ErrInvalidCredential},
	{"token with space", http.Header{"Authorization": {"Bearer abc def"}}, "", ErrInvalidCredential},
	{"token with comma", http.Header{"Authorization": {"Bearer abc,Bearer def"}}, "", ErrInvalidCredential},
	{"token with quote", http.Header{"Authorization": {`Bearer "abc"`}}, "", ErrInvalidCredential},
	{"token with NUL", http.Header{"Authorization": {"Bearer abc\x00"}}, "", ErrInvalidCredential},
	{"token with CRLF", http.Header{"Authorization": {"Bearer abc\r\nX-Evil: 1"}}, "", ErrInvalidCredential},
	{"token with DEL", http.Header{"Authorization": {"Bearer abc\x7f"}}, "", ErrInvalidCredential},
	{"auth-param form", http.Header{"Authorization": {"Bearer token=abc"}}, "", ErrInvalidCredential},
	{"padding only", http.Header{"Authorization": {"Bearer =="}}, "", ErrInvalidCredential},
	{"padding in the middle", http.Header{"Authorization": {"Bearer ab=c"}}, "", ErrInvalidCredential},
	{"non-ASCII", http.Header{"Authorization": {"Bearer t\u00f6ken"}}, "", ErrInvalidCredential},
	{"fullwidth letters", http.Header{"Authorization": {"Bearer \uff41\uff42\uff43"}}, "", ErrInvalidCredential},
	{"16 KiB token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 16<<10)}}, strings.Repeat("a", 16<<10), nil},
	{"16 KiB+1 token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 16<<10+1)}}, "", ErrInvalidCredential},
}

func TestParseBearer(t *testing.T) {
	for _, tt := range parseBearerTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBearer(tt.header)
			if gotErr := errOutcome(t, err); got != tt.want || gotErr != tt.wantErr {
				t.Errorf("ParseBearer(%.40q) = %.40q, %v; want %.40q, %v", tt.header["Authorization"], got, err, tt.want, tt.wantErr)
			}
			for _, v := range tt.header["Authorization"] {
				if _, tok, _ := strings.Cut(v, " "); tok != "" {
					checkNoLeak(t, err, strings.TrimSpace(tok))
				}
			}
		})
	}
}

var looksLikeJWTTests = []struct {
	name  string
	token string
	want  bool
}{
	{"jwt", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_", true},
	{"short segments", "a.b.c", true},
	{"generated api key", "mcpg_q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83", false},
	{"two segments", "a.b", false},
	{"four segments", "a.b.c.d", false},
	{"empty segment", "a..c", false},
	{"empty last segment", "a.b.", false},
	{"padding", "YQ==.Yg.Yw", false},
	{"standard base64", "a+b.c/d.e", false},
	{"empty", "", false},
	{"dots only", "..", false},
}

func TestLooksLikeJWT(t *testing.T) {
	for _, tt := range looksLikeJWTTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksLikeJWT(tt.token); got != tt.want {
				t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

// b64tokenRE is RFC 6750 §2.1's b64token, written independently of isB64Token.
var b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

func FuzzParseBearer(f *testing.F) {
	for _, tt := range parseBearerTests {
		if v := tt.header["Authorization"]; len(v) > 0 {
			f.Add(v[0], len(v) > 1)
		}
	}
	f.Fuzz(func(t *testing.T, v string, repeat bool) {
		h := http.Header{"Authorization": {v}}
		if repeat {
			h["Authorization"] = append(h["Authorization"], v)
		}
		tok, err := ParseBearer(h)
		if errOutcome(t, err) != nil {
			if tok != "" {
				t.Errorf("ParseBearer(%q) = %q with error %v, want an empty token", v, tok, err)
			}
			return
		}
		if repeat {
			t.Fatalf("ParseBearer(two copies of %q) = %q, want an error", v, tok)
		}
		if !b64tokenRE.MatchString(tok) || len(tok) > maxBearerLen {
			t.Errorf("ParseBearer(%q) = %q, not a b64token of at most %d bytes", v, tok, maxBearerLen)
		}
		rest := strings.Trim(v, " \t")
		if len(rest) < 7 || !strings.EqualFold(rest[:6], "bearer") || rest[6] != ' ' || !strings.HasSuffix(rest, tok) {
			t.Errorf("ParseBearer(%q) = %q, want the token verbatim after a Bearer scheme", v, tok)
		}
		if strings.TrimLeft(rest[6:], " ") != tok {
			t.Errorf("ParseBearer(%q) = %q, want everything after the scheme", v, tok)
		}
	})
}

func TestRequestBearerOnce(t *testing.T) {
	r := &Request{Header: http.Header{"Authorization": {"Bearer abc.def.ghi"}}}
	tok, err := r.Bearer()
	if tok != "abc.def.ghi" || err != nil {
		t.Fatalf("Bearer() = %q, %v", tok, err)
	}
	r.Header.Set("Authorization", "Bearer changed") // parsed once: the memo stands
	if tok, _ := r.Bearer(); tok != "abc.def.ghi" {
		t.Fatalf("second Bearer() = %q, want the memoized value", tok)
	}
	bad := &Request{Header: http.Header{"Authorization": {"Bearer a b"}}}
	if _, err := bad.Bearer(); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("Bearer() of a malformed header = %v, want ErrInvalidCredential", err)
	}
}

func TestRequestBearerJWT(t *testing.T) {
	for _, tt := range []struct {
		header  string
		tok     string
		jwt     bool
		invalid bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true, false},
		{"Bearer mcpg_0123456789abcdef", "mcpg_0123456789abcdef", false, false},
		{"Bearer abc.def", "abc.def", false, false},
		{"Bearer a b", "", false, true},
	} {
		r := &Request{Header: http.Header{"Authorization": {tt.header}}}
		for range 2 { // the second answer is the memo
			tok, jwt, err := r.BearerJWT()
			if tok != tt.tok || jwt != tt.jwt || errors.Is(err, ErrInvalidCredential) != tt.invalid {
				t.Errorf("BearerJWT(%q) = %q, %v, %v; want %q, %v, invalid %v", tt.header, tok, jwt, err, tt.tok, tt.jwt, tt.invalid)
			}
		}
	}
	h := http.Header{"Authorization": {"Bearer abc.def.ghi"}}
	if got := testing.AllocsPerRun(10, func() {
		r := Request{Header: h}
		r.BearerJWT()
	}); got > 0 {
		t.Errorf("BearerJWT allocations = %v, want 0", got)
	}
}
