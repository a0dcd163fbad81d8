package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// ID-JAG (Identity Assertion JWT Authorization Grant; MCP extension
// io.modelcontextprotocol/enterprise-managed-authorization): the JWT bearer grant
// (RFC 7523 §2.1) with an assertion an enterprise IdP issued for a person.
const (
	grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	typIDJAG       = "oauth-id-jag+jwt"
	maxDiscovery   = 1 << 20
)

// EnterpriseIdP is an enterprise identity provider whose ID-JAGs the token endpoint
// accepts (policy file enterprise_idps:).
type EnterpriseIdP struct {
	// Issuer is the IdP's issuer identifier: an ID-JAG's iss must equal it.
	Issuer string `json:"issuer"`
	// JWKSURI is where its signing keys are; empty means the jwks_uri of its OpenID
	// discovery document (Issuer + /.well-known/openid-configuration).
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Clients are the client ids that may present its assertions; empty means every
	// client whose grant_types list the jwt-bearer grant.
	Clients []string `json:"clients,omitempty"`
	// EmailClaim and GroupsClaim name the claims holding the person's email and groups;
	// empty means email and groups. The email counts only with email_verified true.
	EmailClaim  string `json:"email_claim,omitempty"`
	GroupsClaim string `json:"groups_claim,omitempty"`
}

// enterpriseIdP is a configured EnterpriseIdP with its keys, found on first use.
type enterpriseIdP struct {
	EnterpriseIdP
	hc        *http.Client
	allowHTTP bool

	mu    sync.Mutex
	keys  *clientKeys
	tried time.Time
}

// newEnterpriseIdPs checks the configured IdPs against the clients.
func newEnterpriseIdPs(c []EnterpriseIdP, reg *registry, hc *http.Client, allowHTTP bool) ([]*enterpriseIdP, error) {
	var out []*enterpriseIdP
	for i, e := range c {
		u, err := url.Parse(e.Issuer)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && !(allowHTTP && u.Scheme == "http")) {
			return nil, fmt.Errorf("oauth: enterprise IdP %d: issuer %q is not an https URL", i, e.Issuer)
		}
		for _, o := range out {
			if o.Issuer == e.Issuer {
				return nil, fmt.Errorf("oauth: enterprise IdP %q is configured twice", e.Issuer)
			}
		}
		if e.JWKSURI != "" {
			if err := checkJWKSURI(e.JWKSURI, allowHTTP); err != nil {
				return nil, fmt.Errorf("oauth: enterprise IdP %q: %w", e.Issuer, err)
			}
		}
		for _, id := range e.Clients {
			if ca := reg.auth[id]; ca == nil || !ca.jwtBearer {
				return nil, fmt.Errorf("oauth: enterprise IdP %q: client %q is not a configured client with grant type %s", e.Issuer, id, grantJWTBearer)
			}
		}
		idp := &enterpriseIdP{EnterpriseIdP: e, hc: hc, allowHTTP: allowHTTP}
		if e.JWKSURI != "" {
			idp.keys = &clientKeys{uri: e.JWKSURI, hc: hc}
		}
		out = append(out, idp)
	}
	for id, ca := range reg.auth {
		if ca.jwtBearer && len(out) == 0 {
			return nil, fmt.Errorf("oauth: client %q: grant type %s needs enterprise_idps", id, grantJWTBearer)
		}
	}
	return out, nil
}

// keySet returns the IdP's keys, reading its discovery document the first time (and
// again after a failure, at most once per jwksCooldown).
func (e *enterpriseIdP) keySet(ctx context.Context, now time.Time) (*clientKeys, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.keys != nil {
		return e.keys, nil
	}
	if now.Sub(e.tried) < jwksCooldown {
		return nil, errors.New("oauth: the enterprise IdP's discovery failed recently")
	}
	e.tried = now
	uri, err := e.discover(ctx)
	if err != nil {
		return nil, err
	}
	e.keys = &clientKeys{uri: uri, hc: e.hc}
	return e.keys, nil
}

// verify checks tok's signature with the issuer's keys (the one its kid names, or each
// when it names none) and decodes its claims into dst; it reports false when no key
// verifies it. An error means the keys could not be fetched.
func (e *enterpriseIdP) verify(ctx context.Context, tok *jwt.JSONWebToken, now time.Time, dst ...any) (bool, error) {
	keys, err := e.keySet(ctx, now)
	if err != nil {
		return false, err
	}
	cands, err := keys.candidates(ctx, tok.Headers[0].KeyID, now)
	if err != nil {
		return false, err
	}
	for _, k := range cands {
		if tok.Claims(k.Key, dst...) == nil {
			return true, nil
		}
	}
	return false, nil
}

// discover reads jwks_uri from the IdP's OpenID discovery document, whose issuer must
// be the configured one.
func (e *enterpriseIdP) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cimdTimeout)
	defer cancel()
	u := strings.TrimSuffix(e.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("oauth: GET %q: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("oauth: GET %q: status %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscovery+1))
	if err != nil || len(body) > maxDiscovery || json.Unmarshal(body, &doc) != nil {
		return "", fmt.Errorf("oauth: GET %q: not a discovery document of at most 1 MiB", u)
	}
	if doc.Issuer != e.Issuer {
		return "", fmt.Errorf("oauth: GET %q: issuer %q is not %q", u, doc.Issuer, e.Issuer)
	}
	if err := checkJWKSURI(doc.JWKSURI, e.allowHTTP); err != nil {
		return "", fmt.Errorf("oauth: GET %q: %w", u, err)
	}
	return doc.JWKSURI, nil
}

// mayUse reports whether client may present this IdP's assertions.
func (e *enterpriseIdP) mayUse(client string) bool {
	return len(e.Clients) == 0 || slices.Contains(e.Clients, client)
}

// idjagClaims are the claims of an ID-JAG this server reads.
type idjagClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Resource string `json:"resource"`
	Scope    string `json:"scope"`
}

// grantFailed is an invalid_grant answer naming the failed check.
func grantFailed(check string) *tokenError {
	return badRequest(codeInvalidGrant, "the ID-JAG was refused: "+check)
}
