package oauth

import (
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Client authentication and grant names for machines (RFC 7523, RFC 6749 §4.4).
const (
	authMethodPrivateKeyJWT = "private_key_jwt"
	grantClientCredentials  = "client_credentials"
	// assertionTypeJWTBearer is the client_assertion_type of private_key_jwt (RFC 7523 §2.2).
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// assertionAlgs are the signature algorithms a client assertion may use.
var assertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// clientAuth is what a configured client adds to its store.Client: the one
// authentication method it must use, its keys, and what client_credentials gives it.
type clientAuth struct {
	method      string      // TokenEndpointAuthMethod as configured; "" accepts Basic or post for a secret
	keys        *clientKeys // private_key_jwt
	credentials bool        // may use the client_credentials grant
	scopes      []string    // what a client_credentials token may carry; the default
	resources   []string    // what a client_credentials token may be for; the first is the default
	introspect  bool        // a resource server: may use /introspect (RFC 7662)
	jwtBearer   bool        // may use the jwt-bearer grant with an ID-JAG
}

// newClientAuth checks the machine settings of sc against the server's resources and
// scopes. Bad combinations are errors the caller prefixes with the client.
func newClientAuth(sc StaticClient, resources []string, scopes scopeSet, hc *http.Client, allowHTTP bool) (*clientAuth, error) {
	ca := &clientAuth{method: sc.TokenEndpointAuthMethod, introspect: sc.Introspection}
	for _, g := range sc.GrantTypes {
		switch g {
		case grantAuthorizationCode, grantRefreshToken:
		case grantClientCredentials:
			ca.credentials = true
		case grantJWTBearer:
			ca.jwtBearer = true
		default:
			return nil, fmt.Errorf("grant type %q is not one of authorization_code, refresh_token, client_credentials, %s", g, grantJWTBearer)
		}
	}
	if slices.Contains(sc.GrantTypes, grantRefreshToken) && !slices.Contains(sc.GrantTypes, grantAuthorizationCode) {
		return nil, errors.New("grant type refresh_token needs authorization_code")
	}
	if sc.Secret != "" && sc.SecretHash != "" {
		return nil, errors.New("give client_secret or client_secret_hash, not both")
	}
	if h := sc.SecretHash; h != "" {
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 || strings.ToLower(h) != h {
			return nil, errors.New("client_secret_hash must be the SHA-256 of the secret in 64 lower-case hex digits")
		}
	}
	secret := sc.Secret != "" || sc.SecretHash != ""
	keys := len(sc.JWKS) > 0 || sc.JWKSURI != ""
	if len(sc.JWKS) > 0 && sc.JWKSURI != "" {
		return nil, errors.New("give jwks or jwks_uri, not both")
	}
	if ca.method == "" && keys {
		ca.method = authMethodPrivateKeyJWT
	}
	switch ca.method {
	case "":
	case authMethodSecretBasic, authMethodSecretPost:
		if !secret {
			return nil, fmt.Errorf("token_endpoint_auth_method %s needs client_secret or client_secret_hash", ca.method)
		}
	case authMethodPrivateKeyJWT:
		if secret {
			return nil, errors.New("token_endpoint_auth_method private_key_jwt takes no client_secret")
		}
		if !keys {
			return nil, errors.New("token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri")
		}
	case authMethodNone:
		if secret || keys {
			return nil, errors.New("token_endpoint_auth_method none takes no secret and no keys")
		}
	default:
		return nil, fmt.Errorf("token_endpoint_auth_method %q is not one of client_secret_basic, client_secret_post, private_key_jwt, none", ca.method)
	}
	if keys && ca.method != authMethodPrivateKeyJWT {
		return nil, fmt.Errorf("jwks and jwks_uri are for private_key_jwt, not %s", ca.method)
	}
	if ca.credentials && !secret && !keys {
		return nil, errors.New("grant type client_credentials needs a confidential client: a secret or keys")
	}
	if ca.jwtBearer && !secret && !keys {
		return nil, errors.New("grant type " + grantJWTBearer + " needs a confidential client: a secret or keys")
	}
	if ca.introspect && !secret && !keys {
		return nil, errors.New("introspection needs a confidential client: a secret or keys")
	}
	if keys {
		k, err := newClientKeys(sc.JWKS, sc.JWKSURI, hc, allowHTTP)
		if err != nil {
			return nil, err
		}
		ca.keys = k
	}
	if !ca.credentials && !ca.jwtBearer {
		if sc.Scope != "" || len(sc.Resources) > 0 {
			return nil, errors.New("scope and resources are for the client_credentials and jwt-bearer grants, which grant_types does not list")
		}
		return ca, nil
	}
	ca.scopes = slices.Clone(scopes.defaults)
	if sc.Scope != "" {
		req, why := scopes.parse(sc.Scope)
		if why != "" {
			return nil, fmt.Errorf("scope: %s", why)
		}
		if slices.Contains(req, scopeOfflineAccess) {
			return nil, errors.New("scope offline_access means nothing without refresh tokens, which client_credentials and jwt-bearer do not issue")
		}
		ca.scopes = req
	}
	ca.resources = slices.Clone(resources)
	if len(sc.Resources) > 0 {
		ca.resources = nil
		for _, r := range sc.Resources {
			if !slices.Contains(resources, r) {
				return nil, fmt.Errorf("resource %q is not one this server issues tokens for", r)
			}
			if !slices.Contains(ca.resources, r) {
				ca.resources = append(ca.resources, r)
			}
		}
	}
	if len(ca.resources) == 0 {
		return nil, errors.New("grant types client_credentials and jwt-bearer need a resource, and the server has none")
	}
	return ca, nil
}

// parseInlineJWKS parses an inline JWK Set of public signing keys.
func parseInlineJWKS(raw json.RawMessage) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if err := checkKeySet(&set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return &set, nil
}

// checkKeySet refuses an empty set, private keys, RSA keys under 2048 bits (RFC 7518
// §3.3) and keys not for signatures.
func checkKeySet(set *jose.JSONWebKeySet) error {
	if len(set.Keys) == 0 {
		return errors.New("no keys")
	}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return fmt.Errorf("key %d (kid %q) is not a valid public key", i, k.KeyID)
		}
		if pub, ok := k.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < 2048 {
			return fmt.Errorf("key %d (kid %q) is an RSA key of under 2048 bits", i, k.KeyID)
		}
		if k.Use != "" && k.Use != "sig" {
			return fmt.Errorf("key %d (kid %q) has use %q, not sig", i, k.KeyID, k.Use)
		}
	}
	return nil
}

// checkJWKSURI checks a jwks_uri: https, or http when allowHTTP (tests only).
func checkJWKSURI(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || (u.Scheme != "https" && !(allowHTTP && u.Scheme == "http")) {
		return fmt.Errorf("jwks_uri %q is not an https URL", raw)
	}
	return nil
}
