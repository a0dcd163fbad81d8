package oauth

import (
	"encoding/json"
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

// Workload identity federation (SEP-1933, a draft MCP extension): the jwt-bearer grant
// (RFC 7523 §2.1) with a token a workload platform issued (a Kubernetes projected
// service-account token, a SPIFFE JWT-SVID, a cloud identity token). The workload
// token is the credential: no client registration, no client authentication.
const (
	// maxWorkloadLifetime bounds how far ahead a workload token's exp may be.
	maxWorkloadLifetime = time.Hour
)

// WorkloadIssuer is a workload platform whose tokens the jwt-bearer grant accepts
// (policy file workload_issuers:).
type WorkloadIssuer struct {
	// Issuer is the platform's issuer identifier: a workload token's iss must equal it.
	Issuer string `json:"issuer"`
	// JWKSURI is where its signing keys are; empty (and no JWKS) means the jwks_uri of
	// its OpenID discovery document (Issuer + /.well-known/openid-configuration).
	JWKSURI string `json:"jwks_uri,omitempty"`
	// JWKS is an inline JWK Set (the policy file's jwks_file is read into it).
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Subjects map a token's sub to a principal; the first that matches wins, and a
	// sub no entry matches is refused.
	Subjects []WorkloadSubject `json:"subjects"`
}

// WorkloadSubject maps the workload tokens whose sub matches Sub to the principal Name.
type WorkloadSubject struct {
	// Sub is the sub to match: exact, or ending in * to match every sub with that
	// prefix (system:serviceaccount:ci:*, spiffe://example.org/ns/ci/*).
	Sub string `json:"sub"`
	// Name is the principal at /auth: X-Forwarded-User and X-Auth-Client-Id, with
	// X-Auth-Source client. It must not be a configured client's id, nor a URL (as
	// a client ID metadata document's id is).
	Name string `json:"name"`
	// Scope is the space-separated scopes it may have; the token gets those asked,
	// by default all.
	Scope string `json:"scope,omitempty"`
	// Resources are the resources it may ask for; the first is the default.
	Resources []string `json:"resources"`
}

// workloadIssuer is a configured WorkloadIssuer with its keys, found on first use.
type workloadIssuer struct {
	WorkloadIssuer
	discovered *enterpriseIdP // the discovery and key fetching the ID-JAG IdPs use
}

// newWorkloadIssuers checks the configured workload issuers.
func newWorkloadIssuers(c []WorkloadIssuer, reg *registry, scopes scopeSet, resources []string, hc *http.Client, allowHTTP bool) ([]*workloadIssuer, error) {
	var out []*workloadIssuer
	for i, w := range c {
		u, err := url.Parse(w.Issuer)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && !(allowHTTP && u.Scheme == "http")) {
			return nil, fmt.Errorf("oauth: workload issuer %d: issuer %q is not an https URL", i, w.Issuer)
		}
		for _, o := range out {
			if o.Issuer == w.Issuer {
				return nil, fmt.Errorf("oauth: workload issuer %q is configured twice", w.Issuer)
			}
		}
		if len(w.Subjects) == 0 {
			return nil, fmt.Errorf("oauth: workload issuer %q: subjects is empty", w.Issuer)
		}
		for _, s := range w.Subjects {
			if s.Sub == "" || strings.Contains(strings.TrimSuffix(s.Sub, "*"), "*") {
				return nil, fmt.Errorf("oauth: workload issuer %q: sub %q is not a sub or a prefix ending in *", w.Issuer, s.Sub)
			}
			if s.Name == "" {
				return nil, fmt.Errorf("oauth: workload issuer %q: sub %q has no name", w.Issuer, s.Sub)
			}
			if strings.Contains(s.Name, "://") {
				return nil, fmt.Errorf("oauth: workload issuer %q: name %q is a URL, as a CIMD client's id is", w.Issuer, s.Name)
			}
			if _, ok := reg.static[s.Name]; ok {
				return nil, fmt.Errorf("oauth: workload issuer %q: name %q is a configured client's id", w.Issuer, s.Name)
			}
			if _, why := scopes.parse(s.Scope); why != "" {
				return nil, fmt.Errorf("oauth: workload issuer %q: sub %q: %s", w.Issuer, s.Sub, why)
			}
			if len(s.Resources) == 0 {
				return nil, fmt.Errorf("oauth: workload issuer %q: sub %q has no resources", w.Issuer, s.Sub)
			}
			for _, r := range s.Resources {
				if !slices.Contains(resources, r) {
					return nil, fmt.Errorf("oauth: workload issuer %q: sub %q: resource %q is not configured", w.Issuer, s.Sub, r)
				}
			}
		}
		wi := &workloadIssuer{WorkloadIssuer: w, discovered: &enterpriseIdP{EnterpriseIdP: EnterpriseIdP{Issuer: w.Issuer}, hc: hc, allowHTTP: allowHTTP}}
		if len(w.JWKS) > 0 || w.JWKSURI != "" {
			keys, err := newClientKeys(w.JWKS, w.JWKSURI, hc, allowHTTP)
			if err != nil {
				return nil, fmt.Errorf("oauth: workload issuer %q: %w", w.Issuer, err)
			}
			wi.discovered.keys = keys
		}
		out = append(out, wi)
	}
	return out, nil
}

// subject is the mapping of sub, or nil.
func (w *workloadIssuer) subject(sub string) *WorkloadSubject {
	for i, s := range w.Subjects {
		if p, ok := strings.CutSuffix(s.Sub, "*"); ok && strings.HasPrefix(sub, p) && sub != p || s.Sub == sub {
			return &w.Subjects[i]
		}
	}
	return nil
}

// workloadFailed is an invalid_grant answer naming the failed check.
func workloadFailed(check string) *tokenError {
	return badRequest(codeInvalidGrant, "the workload token was refused: "+check)
}

// hasClientAuthentication reports whether the request carries any client authentication.
func hasClientAuthentication(r *http.Request, form url.Values) bool {
	_, _, basic := r.BasicAuth()
	return basic || form.Has("client_id") || form.Has("client_secret") || form.Has("client_assertion") || form.Has("client_assertion_type")
}

// workloadGrant issues an access token to the principal a workload token's sub maps
// to: signature by a key of a trusted workload issuer, aud this authorization server,
// exp present and at most maxWorkloadLifetime ahead, iat and nbf not in the future,
// jti single-use when present, sub mapped; then resource and scopes within the
// mapping. No refresh token. A failure is invalid_grant naming the check.
func (t *tokenEndpoint) workloadGrant(r *http.Request, form url.Values, raw string) (*tokenResponse, *tokenError) {
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		return nil, workloadFailed("assertion is not a JWS of ES256, RS256 or EdDSA")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, workloadFailed("claims are malformed")
	}
	var wi *workloadIssuer
	for _, w := range t.workloads {
		if w.Issuer == unverified.Issuer {
			wi = w
		}
	}
	if wi == nil {
		return nil, workloadFailed("iss is not a trusted workload issuer")
	}
	now := t.now()
	var cl jwt.Claims
	verified, err := wi.discovered.verify(r.Context(), tok, now, &cl)
	if err != nil {
		return nil, idpUnavailable(wi.Issuer, err)
	}
	if !verified {
		return nil, workloadFailed("signature does not verify with a key of the issuer")
	}
	iss := t.iss.url
	switch {
	case cl.Issuer != wi.Issuer:
		return nil, workloadFailed("iss is not a trusted workload issuer")
	case !cl.Audience.Contains(iss) && !cl.Audience.Contains(iss+"/"):
		return nil, workloadFailed("aud is not this authorization server")
	case cl.Expiry == nil || !now.Before(cl.Expiry.Time().Add(assertionSkew)):
		return nil, workloadFailed("exp is missing or past")
	case cl.Expiry.Time().After(now.Add(maxWorkloadLifetime + assertionSkew)):
		return nil, workloadFailed("exp is more than an hour ahead")
	case cl.IssuedAt != nil && cl.IssuedAt.Time().After(now.Add(assertionSkew)):
		return nil, workloadFailed("iat is in the future")
	case cl.NotBefore != nil && cl.NotBefore.Time().After(now.Add(assertionSkew)):
		return nil, workloadFailed("nbf is in the future")
	}
	m := wi.subject(cl.Subject)
	if m == nil {
		return nil, workloadFailed("sub is not mapped to a principal")
	}
	if cl.ID != "" {
		switch err := t.store.UseAssertionID(r.Context(), "workload "+wi.Issuer, cl.ID, cl.Expiry.Time().Add(assertionSkew)); {
		case errors.Is(err, store.ErrReplayed):
			terr := workloadFailed("jti was used before")
			terr.replay = true
			return nil, terr
		case err != nil:
			return nil, serverError(fmt.Errorf("oauth: store: UseAssertionID: %w", err))
		}
	}
	resource := m.Resources[0]
	if form.Has("resource") {
		resource = form.Get("resource")
		if !slices.Contains(m.Resources, resource) {
			return nil, badRequest(codeInvalidTarget, "the resource is not one this workload may use")
		}
	}
	scopes, _ := t.scopes.parse(m.Scope)
	if form.Has("scope") {
		req, why := t.scopes.parse(form.Get("scope"))
		if why != "" {
			return nil, badRequest(codeInvalidScope, why)
		}
		for _, sc := range req {
			if !slices.Contains(scopes, sc) {
				return nil, badRequest(codeInvalidScope, "scope "+sc+" is not one this workload may use")
			}
		}
		if len(req) > 0 {
			scopes = req
		}
	}
	g := grant{
		clientID: m.Name,
		resource: resource,
		scopes:   scopes,
		identity: store.Identity{Subject: m.Name, Name: m.Name},
		family:   "wl-" + randomString(12),
		machine:  true,
	}
	at, exp, err := t.mint(g, now)
	if err != nil {
		return nil, serverError(fmt.Errorf("oauth: mint an access token: %w", err))
	}
	return &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(now) / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// jwtBearerGrant tells the two uses of the jwt-bearer grant apart: a request with
// client authentication, or whose assertion's header typ is oauth-id-jag+jwt, is an
// ID-JAG (idjagGrant); one without client authentication and another typ is a
// workload token (workloadGrant), when workload issuers are configured.
func (t *tokenEndpoint) jwtBearerGrant(r *http.Request, form url.Values) (*tokenResponse, *tokenError) {
	raw := form.Get("assertion")
	if len(t.workloads) == 0 || raw == "" || len(raw) > maxAssertionBytes || hasClientAuthentication(r, form) {
		return t.idjagGrant(r, form)
	}
	if tok, err := jwt.ParseSigned(raw, assertionAlgs); err == nil {
		typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string)
		if strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), typIDJAG) {
			return t.idjagGrant(r, form)
		}
	}
	return t.workloadGrant(r, form, raw)
}
