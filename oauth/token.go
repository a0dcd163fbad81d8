package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// Grant types (RFC 6749 §4.1.3, §6) the token endpoint serves.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
)

// tokenEndpoint serves /token (the authorization code and refresh token grants) and
// /revoke, which authenticates clients the same way. Access tokens are minted and
// verified by the Server's keys, through mint and verifySignature.
type tokenEndpoint struct {
	iss             issuer
	store           store.Store
	now             func() time.Time
	ttl             lifetimes
	scopes          scopeSet
	clients         *registry
	accounts        *accounts
	deny            *denylist
	mint            func(g grant, now time.Time) (token string, exp time.Time, err error)
	verifySignature func(ctx context.Context, token string, now time.Time) (*auth.OwnTokenClaims, error)
	verifyToken     func(ctx context.Context, token string) (auth.Principal, error) // as /auth does: times, audience, revocation
	onGrant         func(grant, result string)                                      // Config.OnGrant
	offers          offers                                                          // what the configured clients add: client_credentials, private_key_jwt
	idps            []*enterpriseIdP                                                // whose ID-JAGs the jwt-bearer grant accepts
	workloads       []*workloadIssuer                                               // whose workload tokens the jwt-bearer grant accepts
}

// routes adds /token, /revoke and their CORS preflights, and /introspect, to mux,
// under the issuer's path.
func (t *tokenEndpoint) routes(mux routeSet) {
	p := t.iss.path
	mux.HandleFunc("POST "+p+"/token", t.handleToken)
	mux.HandleFunc("OPTIONS "+p+"/token", preflight("POST, OPTIONS"))
	mux.HandleFunc("POST "+p+"/revoke", t.handleRevoke)
	mux.HandleFunc("OPTIONS "+p+"/revoke", preflight("POST, OPTIONS"))
	// Routed always, so the deploy recipes need not depend on configuration; without a
	// resource server configured every caller gets invalid_client. Server to server: no CORS.
	mux.HandleFunc("POST "+p+"/introspect", t.handleIntrospect)
}

// tokenError is an RFC 6749 §5.2 error answer of /token or /revoke.
type tokenError struct {
	status      int
	description string
	basic       bool // the client authenticated with HTTP Basic: answer with a Basic challenge
	failure
}

func badRequest(code, description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, description: description, failure: failure{code: code}}
}

// because sets e's internal cause.
func (e *tokenError) because(cause error) *tokenError {
	e.cause = cause
	return e
}

// invalidClient is the answer to a failed client authentication (RFC 6749 §5.2).
func invalidClient(basic bool, cause error) *tokenError {
	return &tokenError{status: http.StatusUnauthorized, description: "client authentication failed", basic: basic, failure: failure{code: codeInvalidClient, cause: cause}}
}

// serverError is the answer to a store or signing failure; its cause is logged, not shown.
// An unreachable store is 503 temporarily_unavailable instead (see failure.whenStoreDown).
func serverError(cause error) *tokenError {
	status, f := failure{code: codeServerError, cause: cause}.whenStoreDown(http.StatusInternalServerError)
	if status == http.StatusServiceUnavailable {
		return &tokenError{status: status, description: "the authorization server is temporarily unavailable; try again in a moment", failure: f}
	}
	return &tokenError{status: status, description: "the authorization server could not complete the request", failure: f}
}

// fail writes e with the headers every token answer carries, and logs it.
func (t *tokenEndpoint) fail(w http.ResponseWriter, r *http.Request, e *tokenError) {
	logFailure(r, t.iss, e.status, e.description, e.failure)
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Pragma", "no-cache")
	if e.basic && e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="mcpguard", charset="UTF-8"`)
	}
	writeJSONError(w, e.status, e.code, e.description)
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// handleToken is the token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2).
func (t *tokenEndpoint) handleToken(w http.ResponseWriter, r *http.Request) {
	form, terr := readForm(w, r)
	grantType := form.Get("grant_type")
	var resp *tokenResponse
	if terr == nil {
		switch grantType {
		case grantAuthorizationCode:
			resp, terr = t.codeGrant(r, form)
		case grantRefreshToken:
			resp, terr = t.refreshGrant(r, form)
		case grantClientCredentials:
			if !t.offers.clientCredentials {
				// Not advertised: as unknown as any other grant (RFC 6749 §5.2).
				terr = badRequest(codeUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
				break
			}
			resp, terr = t.clientCredentialsGrant(r, form)
		case grantJWTBearer:
			if !t.offers.jwtBearer {
				terr = badRequest(codeUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
				break
			}
			resp, terr = t.jwtBearerGrant(r, form)
		case "":
			terr = badRequest(codeInvalidRequest, "grant_type is required")
		default:
			terr = badRequest(codeUnsupportedGrantType, "grant_type must be authorization_code, refresh_token or client_credentials")
		}
	}
	if t.onGrant != nil {
		label := grantType
		if label != grantAuthorizationCode && label != grantRefreshToken && label != grantClientCredentials && label != grantJWTBearer {
			label = "other"
		}
		result := "ok"
		if terr != nil {
			result = terr.code
		}
		t.onGrant(label, result)
	}
	if terr != nil {
		if terr.clientID == "" {
			terr.clientID = claimedClientID(r, form)
		}
		t.fail(w, r, terr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(resp)
}

// readForm reads a form-encoded POST body of at most maxFormBytes whose parameters
// each appear once (RFC 6749 §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *tokenError) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return url.Values{}, badRequest(codeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return url.Values{}, badRequest(codeInvalidRequest, "the body is not a form of at most 64 KiB").because(err)
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return r.PostForm, badRequest(codeInvalidRequest, "parameter "+errorText(k)+" is repeated")
		}
	}
	return r.PostForm, nil
}

// claimedClientID is the client a request names, authenticated or not, for the log.
func claimedClientID(r *http.Request, form url.Values) string {
	if user, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil {
			return u
		}
	}
	return form.Get("client_id")
}

// authenticateClient identifies the client of a /token or /revoke request (RFC 6749
// §2.3): a confidential client by client_secret_basic or client_secret_post (either is
// accepted unless its configuration names one) or by private_key_jwt (RFC 7523 §2.2,
// see authenticateAssertion), a public client by client_id alone. Secrets are compared as SHA-256 in
// constant time.
func (t *tokenEndpoint) authenticateClient(r *http.Request, form url.Values) (store.Client, *tokenError) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return t.authenticateAssertion(r, form)
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	basic := false
	if user, pass, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return store.Client{}, badRequest(codeInvalidRequest, "use one client authentication method")
		}
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (id != "" && id != u) {
			return store.Client{}, invalidClient(true, errors.New("oauth: the Basic credentials do not decode, or name another client than client_id"))
		}
		id, secret, basic = u, p, true
	} else if r.Header.Get("Authorization") != "" {
		return store.Client{}, invalidClient(false, errors.New("oauth: the Authorization header is not HTTP Basic"))
	}
	if id == "" {
		return store.Client{}, invalidClient(basic, errors.New("oauth: no client_id"))
	}
	c, err := t.clients.lookup(r.Context(), id)
	if err != nil {
		if !errors.Is(err, ErrUnknownClient) {
			return store.Client{}, &tokenError{status: http.StatusServiceUnavailable, description: "the client's registration could not be loaded",
				failure: failure{code: codeTemporarilyUnavailable, clientID: id, cause: err}}
		}
		return store.Client{}, invalidClient(basic, err)
	}
	ca := t.clients.auth[c.ID]
	switch {
	case ca == nil:
	case ca.method == authMethodPrivateKeyJWT:
		return store.Client{}, invalidClient(basic, fmt.Errorf("oauth: client %q must authenticate with private_key_jwt", id))
	case ca.method == authMethodSecretBasic && !basic, ca.method == authMethodSecretPost && basic:
		return store.Client{}, invalidClient(basic, fmt.Errorf("oauth: client %q must authenticate with %s", id, ca.method))
	}
	switch {
	case c.SecretHash == "" && secret == "":
		return c, nil // a public client (an empty Basic password included)
	case c.SecretHash == "":
		return store.Client{}, invalidClient(basic, fmt.Errorf("oauth: client %q is public but sent a secret", id))
	case secret == "":
		return store.Client{}, invalidClient(basic, fmt.Errorf("oauth: client %q is confidential but sent no secret", id))
	}
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(c.SecretHash)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return store.Client{}, invalidClient(basic, fmt.Errorf("oauth: client %q: the secret does not match", id))
	}
	return c, nil
}
