package oauthtest

import (
	"net/http"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The enterprise IdP's side of Enterprise-Managed Authorization (SEP-990): an
// application holding an ID token of a person exchanges it at the IdP's token endpoint
// (RFC 8693 token exchange) for an Identity Assertion JWT Authorization Grant (ID-JAG)
// addressed to the authorization server of an MCP server.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDJAG     = "urn:ietf:params:oauth:token-type:id-jag"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	typIDJAG           = "oauth-id-jag+jwt"
	idjagLifetime      = 5 * time.Minute
)

// IDToken returns an ID token of the current user for the provider's client, as the
// client holds after the person signed in (the subject_token of a token exchange).
func (p *Provider) IDToken(t testing.TB) string {
	t.Helper()
	p.mu.Lock()
	u := p.user
	p.mu.Unlock()
	tok, err := p.idToken(u, nil)
	if err != nil {
		t.Fatalf("oauthtest: ID token: %v", err)
	}
	return tok
}

// AllowIDJAG makes the token exchange issue ID-JAGs for the authorization server whose
// issuer is audience, naming clientID (the application's client id there) in their
// client_id claim. Other audiences are refused with invalid_target.
func (p *Provider) AllowIDJAG(audience, clientID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jag[audience] = clientID
}

// IDJAGs returns the ID-JAGs the token exchange issued, oldest first.
func (p *Provider) IDJAGs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

// exchangeIDJAG answers a token exchange of one of the provider's own ID tokens for an
// ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant §4.3): ES256, header typ
// oauth-id-jag+jwt, with iss, sub, aud (the audience), client_id, resource, scope,
// jti, iat and exp, and the person's email, name and groups from the ID token.
func (p *Provider) exchangeIDJAG(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	switch {
	case f.Get("requested_token_type") != tokenTypeIDJAG:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "requested_token_type must be " + tokenTypeIDJAG})
		return
	case f.Get("subject_token_type") != tokenTypeIDToken:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "subject_token_type must be " + tokenTypeIDToken})
		return
	}
	person, ok := p.verifyIDToken(f.Get("subject_token"))
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "subject_token is not a valid ID token of this provider"})
		return
	}
	p.mu.Lock()
	clientID, known := p.jag[f.Get("audience")]
	p.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_target", "error_description": "no application is set up for this audience"})
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": p.URL(), "sub": person["sub"], "aud": f.Get("audience"), "client_id": clientID,
		"jti": random(), "iat": now.Unix(), "exp": now.Add(idjagLifetime).Unix(),
	}
	for _, k := range []string{"email", "email_verified", "name", "groups"} {
		if v, ok := person[k]; ok {
			claims[k] = v
		}
	}
	for _, k := range []string{"resource", "scope"} {
		if f.Has(k) {
			claims[k] = f.Get(k)
		}
	}
	jag, err := signJWT(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: p.ecKey, KeyID: "k2"}}, typIDJAG, claims)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	p.mu.Lock()
	p.issued = append(p.issued, jag)
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	resp := map[string]any{"issued_token_type": tokenTypeIDJAG, "access_token": jag, "token_type": "N_A", "expires_in": int(idjagLifetime / time.Second)}
	if f.Has("scope") {
		resp["scope"] = f.Get("scope")
	}
	writeJSON(w, http.StatusOK, resp)
}

// verifyIDToken returns the claims of raw when it is an unexpired ID token the
// provider signed for its client.
func (p *Provider) verifyIDToken(raw string) (map[string]any, bool) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, false
	}
	var std jwt.Claims
	var all map[string]any
	if tok.Claims(p.key.Public(), &std, &all) != nil {
		return nil, false
	}
	if std.ValidateWithLeeway(jwt.Expected{Issuer: p.URL(), AnyAudience: jwt.Audience{p.clientID}, Time: time.Now()}, 0) != nil {
		return nil, false
	}
	return all, true
}
