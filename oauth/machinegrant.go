package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// authenticateAssertion authenticates a client by private_key_jwt (RFC 7523 §2.2, §3):
// client_assertion_type is the JWT bearer type, the assertion's iss names the client
// (and equals client_id when that is sent too), and verifyAssertion checks the rest.
// Every failure is 401 invalid_client; the description never repeats the assertion.
func (t *tokenEndpoint) authenticateAssertion(r *http.Request, form url.Values) (store.Client, *tokenError) {
	if _, _, ok := r.BasicAuth(); ok || form.Has("client_secret") {
		return store.Client{}, badRequest(codeInvalidRequest, "use one client authentication method")
	}
	if form.Get("client_assertion_type") != assertionTypeJWTBearer {
		return store.Client{}, invalidClient(false, errors.New("oauth: client_assertion_type is not "+assertionTypeJWTBearer))
	}
	raw := form.Get("client_assertion")
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		return store.Client{}, invalidClient(false, fmt.Errorf("oauth: the client assertion is not a JWS of ES256, RS256 or EdDSA: %w", err))
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer == "" {
		return store.Client{}, invalidClient(false, errors.New("oauth: the client assertion has no iss"))
	}
	id := unverified.Issuer
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return store.Client{}, invalidClient(false, fmt.Errorf("oauth: client_id %q differs from the assertion's iss %q", cid, id))
	}
	ca := t.clients.auth[id]
	c, ok := t.clients.static[id]
	if !ok || ca == nil || ca.method != authMethodPrivateKeyJWT {
		return store.Client{}, invalidClient(false, fmt.Errorf("oauth: client %q is not a configured private_key_jwt client: %w", id, ErrUnknownClient))
	}
	cause, storeErr := t.verifyAssertion(r.Context(), id, ca.keys, raw)
	if storeErr != nil {
		terr := serverError(storeErr)
		terr.clientID = id
		return store.Client{}, terr
	}
	if cause != nil {
		terr := invalidClient(false, cause)
		terr.clientID = id
		terr.replay = errors.Is(cause, errReplayedAssertion)
		return store.Client{}, terr
	}
	return cloneClient(c), nil
}

// clientCredentialsGrant issues an access token to a configured confidential client
// for itself (RFC 6749 §4.4): for the resource it asks (RFC 8707; by default the first
// it may use) and the scopes it asks within its own (by default all of them). No
// refresh token (§4.4.3). The token's Grant marks it, so /auth sees Source "client".
func (t *tokenEndpoint) clientCredentialsGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := t.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	ca := t.clients.auth[c.ID]
	if ca == nil || !ca.credentials {
		return nil, badRequest(codeUnauthorizedClient, "the client is not registered for the client_credentials grant")
	}
	resource := ca.resources[0]
	if form.Has("resource") {
		resource = form.Get("resource")
		if !slices.Contains(ca.resources, resource) {
			return nil, badRequest(codeInvalidTarget, "the resource is not one this client may use")
		}
	}
	scopes := ca.scopes
	if form.Has("scope") {
		req, why := t.scopes.parse(form.Get("scope"))
		if why != "" {
			return nil, badRequest(codeInvalidScope, why)
		}
		for _, sc := range req {
			if !slices.Contains(ca.scopes, sc) {
				return nil, badRequest(codeInvalidScope, "scope "+sc+" is not one this client may use")
			}
		}
		if len(req) > 0 {
			scopes = req
		}
	}
	now := t.now()
	g := grant{
		clientID: c.ID,
		resource: resource,
		scopes:   scopes,
		identity: store.Identity{Subject: c.ID, Name: c.Name},
		family:   "cc-" + randomString(12), // its own: no refresh token shares it
		machine:  true,
	}
	at, exp, err := t.mint(g, now)
	if err != nil {
		return nil, serverError(fmt.Errorf("oauth: mint an access token: %w", err))
	}
	return &tokenResponse{
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(exp.Sub(now) / time.Second),
		Scope:       strings.Join(scopes, " "),
	}, nil
}

// grantTypeMachine is the OwnTokenClaims.Grant of a machine's token.
const grantTypeMachine = auth.GrantClientCredentials
