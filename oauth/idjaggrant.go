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

	"github.com/mcpguard/mcpguard/store"
)

// idjagGrant issues an access token for the person an enterprise IdP's ID-JAG names
// (RFC 7523 §2.1, SEP-990), checking in the order of the MCP conformance scenario:
// client authentication, assertion present, typ, signature, iss, aud, client_id,
// resource, exp/iat/nbf, jti single-use; then the scopes (only narrowed) and the
// login allowlists. No refresh token. A failure is invalid_grant naming the check,
// never repeating the assertion.
func (t *tokenEndpoint) idjagGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	c, terr := t.authenticateClient(r, form)
	if terr != nil {
		return nil, terr
	}
	ca := t.clients.auth[c.ID]
	if ca == nil || !ca.jwtBearer {
		return nil, badRequest(codeUnauthorizedClient, "the client is not registered for the jwt-bearer grant")
	}
	raw := form.Get("assertion")
	if raw == "" {
		return nil, grantFailed("assertion is missing")
	}
	if len(raw) > maxAssertionBytes {
		return nil, grantFailed("assertion is too long")
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		return nil, grantFailed("assertion is not a JWS of ES256, RS256 or EdDSA")
	}
	typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string)
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), typIDJAG) {
		return nil, grantFailed("typ is not " + typIDJAG)
	}
	var unverified idjagClaims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, grantFailed("claims are malformed")
	}
	var idp *enterpriseIdP
	for _, e := range t.idps {
		if e.Issuer == unverified.Issuer {
			idp = e
		}
	}
	if idp == nil {
		return nil, grantFailed("iss is not a trusted enterprise IdP")
	}
	now := t.now()
	var cl idjagClaims
	var all map[string]any
	verified, err := idp.verify(r.Context(), tok, now, &cl, &all)
	if err != nil {
		return nil, idpUnavailable(idp.Issuer, err)
	}
	if !verified {
		return nil, grantFailed("signature does not verify with a key of the IdP")
	}
	resource := ca.resources[0]
	if form.Has("resource") {
		resource = form.Get("resource")
	}
	iss := t.iss.url
	switch {
	case cl.Issuer != idp.Issuer:
		return nil, grantFailed("iss is not a trusted enterprise IdP")
	case len(cl.Audience) != 1 || (cl.Audience[0] != iss && cl.Audience[0] != iss+"/"):
		return nil, grantFailed("aud is not this authorization server")
	case cl.ClientID != c.ID || !idp.mayUse(c.ID):
		return nil, grantFailed("client_id is not the authenticated client")
	case cl.Resource != resource || !slices.Contains(ca.resources, resource):
		return nil, grantFailed("resource is not the requested resource")
	case cl.Expiry == nil || !now.Before(cl.Expiry.Time().Add(assertionSkew)):
		return nil, grantFailed("exp is missing or past")
	case cl.IssuedAt == nil || cl.IssuedAt.Time().After(now.Add(assertionSkew)):
		return nil, grantFailed("iat is missing or in the future")
	case cl.NotBefore != nil && cl.NotBefore.Time().After(now.Add(assertionSkew)):
		return nil, grantFailed("nbf is in the future")
	case cl.ID == "":
		return nil, grantFailed("jti is missing")
	}
	switch err := t.store.UseAssertionID(r.Context(), "id-jag "+idp.Issuer, cl.ID, cl.Expiry.Time().Add(assertionSkew)); {
	case errors.Is(err, store.ErrReplayed):
		terr := grantFailed("jti was used before")
		terr.replay = true
		return nil, terr
	case err != nil:
		return nil, serverError(fmt.Errorf("oauth: store: UseAssertionID: %w", err))
	}
	scopes, terr := t.idjagScopes(ca, cl.Scope, form)
	if terr != nil {
		return nil, terr
	}
	id := idjagIdentity(idp, cl.Subject, all)
	if id.Subject == "" {
		return nil, grantFailed("sub is missing")
	}
	if !t.accounts.admits(id) {
		return nil, grantFailed("the person is not allowed to sign in")
	}
	g := grant{clientID: c.ID, resource: resource, scopes: scopes, identity: id, family: "jag-" + randomString(12)}
	at, exp, err := t.mint(g, now)
	if err != nil {
		return nil, serverError(fmt.Errorf("oauth: mint an access token: %w", err))
	}
	return &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(now) / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// idpUnavailable is the answer when an IdP's keys cannot be had: 503, for the client
// to try again, not invalid_grant, which would make it give up on a good assertion.
func idpUnavailable(issuer string, cause error) *tokenError {
	return &tokenError{status: http.StatusServiceUnavailable, description: "the enterprise IdP's keys could not be fetched; try again in a moment",
		failure: failure{code: codeTemporarilyUnavailable, cause: fmt.Errorf("oauth: enterprise IdP %q: %w", issuer, cause)}}
}

// idjagScopes are the scopes of the token: those asked (by default all) within the
// client's and, when the ID-JAG has a scope claim, within it: only ever narrowed.
func (t *tokenEndpoint) idjagScopes(ca *clientAuth, claim string, form url.Values) ([]string, *tokenError) {
	ceiling := slices.Clone(ca.scopes)
	if claim != "" {
		granted := strings.Fields(claim)
		ceiling = slices.DeleteFunc(ceiling, func(s string) bool { return !slices.Contains(granted, s) })
	}
	if !form.Has("scope") {
		return ceiling, nil
	}
	req, why := t.scopes.parse(form.Get("scope"))
	if why != "" {
		return nil, badRequest(codeInvalidScope, why)
	}
	for _, s := range req {
		if !slices.Contains(ceiling, s) {
			return nil, badRequest(codeInvalidScope, "scope "+s+" is beyond what the client and the ID-JAG allow")
		}
	}
	if len(req) == 0 {
		return ceiling, nil
	}
	return req, nil
}

// idjagIdentity is the person an ID-JAG names: its sub, and the mapped email (only
// when email_verified is true) and groups.
func idjagIdentity(idp *enterpriseIdP, sub string, all map[string]any) store.Identity {
	id := store.Identity{Subject: sub}
	emailClaim, groupsClaim := idp.EmailClaim, idp.GroupsClaim
	if emailClaim == "" {
		emailClaim = "email"
	}
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	if e, ok := all[emailClaim].(string); ok {
		id.Email = e
		id.EmailVerified = all["email_verified"] == true || all["email_verified"] == "true" // "true" from some IdPs, as at login
	}
	if name, ok := all["name"].(string); ok {
		id.Name = name
	}
	if gs, ok := all[groupsClaim].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	}
	return id
}
