package whoami

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// The identity assertion mcpguard hands an upstream that asks for one
// (identity_assertion in its policy file): a JWT of this typ, in this header by default.
const (
	AssertionType          = "mcpguard-identity+jwt"
	DefaultAssertionHeader = "X-Mcpguard-Assertion"
	// VerifiedSubjectHeader is where RequireAssertion puts the verified subject for the
	// tools; any copy the request arrived with is dropped first.
	VerifiedSubjectHeader = "X-Verified-Subject"
)

// AssertionOptions say which identity assertions RequireAssertion accepts.
type AssertionOptions struct {
	// Issuer is mcpguard's issuer URL: the assertion's iss, and where its keys are
	// (Issuer + "/jwks" unless JWKSURL is set).
	Issuer string
	// Audience is this MCP server's resource URL, as mcpguard's policy names it: the
	// assertion's aud.
	Audience string
	// Header carries the assertion; empty means DefaultAssertionHeader.
	Header string
	// JWKSURL overrides where the keys are fetched from.
	JWKSURL string
}

// AssertionClaims are the claims of a verified identity assertion.
type AssertionClaims struct {
	Subject    string   `json:"sub"`
	Email      string   `json:"email"`
	Groups     []string `json:"groups"`
	ClientID   string   `json:"client_id"`
	AuthSource string   `json:"auth_source"`
}

// AssertionVerifier checks mcpguard's identity assertions against its /jwks.
type AssertionVerifier struct {
	header   string
	verifier *oidc.IDTokenVerifier
}

// NewAssertionVerifier returns a verifier for o. Keys are fetched from the JWKS when
// first needed and again for an unknown kid (go-oidc's remote key set); ctx bounds
// those fetches.
func NewAssertionVerifier(ctx context.Context, o AssertionOptions) (*AssertionVerifier, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("whoami: an identity assertion needs its issuer and audience")
	}
	jwks := o.JWKSURL
	if jwks == "" {
		jwks = strings.TrimSuffix(o.Issuer, "/") + "/jwks"
	}
	header := o.Header
	if header == "" {
		header = DefaultAssertionHeader
	}
	keys := oidc.NewRemoteKeySet(ctx, jwks)
	return &AssertionVerifier{
		header:   header,
		verifier: oidc.NewVerifier(o.Issuer, keys, &oidc.Config{ClientID: o.Audience, SupportedSigningAlgs: []string{oidc.ES256}}),
	}, nil
}

// Verify checks the assertion of h: exactly one, of typ AssertionType, ES256 signed by
// a key of the issuer's JWKS, with the issuer, the audience and an exp in the future.
func (v *AssertionVerifier) Verify(ctx context.Context, h http.Header) (AssertionClaims, error) {
	vals := h.Values(v.header)
	if len(vals) != 1 || vals[0] == "" {
		return AssertionClaims{}, fmt.Errorf("whoami: no single %s header", v.header)
	}
	raw := strings.TrimPrefix(vals[0], "Bearer ")
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return AssertionClaims{}, fmt.Errorf("whoami: identity assertion: %w", err)
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != AssertionType {
		return AssertionClaims{}, fmt.Errorf("whoami: identity assertion: typ %q is not %s", typ, AssertionType)
	}
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return AssertionClaims{}, fmt.Errorf("whoami: identity assertion: %w", err)
	}
	var c AssertionClaims
	if err := tok.Claims(&c); err != nil {
		return AssertionClaims{}, fmt.Errorf("whoami: identity assertion: %w", err)
	}
	if c.Subject == "" {
		return AssertionClaims{}, errors.New("whoami: identity assertion: no sub")
	}
	return c, nil
}

// RequireAssertion answers 401 to a request without a valid identity assertion, and
// passes the others on with the verified subject in VerifiedSubjectHeader.
func RequireAssertion(v *AssertionVerifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(VerifiedSubjectHeader)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			next.ServeHTTP(w, r) // a preflight carries no credential
			return
		}
		c, err := v.Verify(r.Context(), r.Header)
		if err != nil {
			http.Error(w, "Unauthorized: no valid identity assertion from mcpguard", http.StatusUnauthorized)
			return
		}
		r.Header.Set(VerifiedSubjectHeader, c.Subject)
		next.ServeHTTP(w, r)
	})
}
