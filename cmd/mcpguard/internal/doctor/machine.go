package doctor

// The machine check: a client_credentials exchange (RFC 6749 §4.4) at the token
// endpoint the metadata names, with a secret (client_secret_basic) or a private key
// (private_key_jwt, RFC 7523 §2.2), and an initialize with the token.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const checkClientCredentials = "client-credentials"

// machine is what the machine check authenticates with.
type machine struct {
	clientID, secret string
	key              crypto.Signer // --private-key; nil with a secret
	keyID            string
}

// loadPrivateKey reads a PEM private key (PKCS #8, SEC 1 or PKCS #1): ECDSA P-256,
// RSA or Ed25519.
func loadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("doctor: --private-key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("doctor: --private-key %q is not PEM", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("doctor: --private-key %q is not a PKCS #8, SEC 1 or PKCS #1 private key", path)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("doctor: --private-key %q: an EC key must be P-256 (ES256)", path)
		}
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("doctor: --private-key %q is not an ECDSA, RSA or Ed25519 key", path)
}

// assertion is a private_key_jwt client assertion for tokenEndpoint: iss = sub = the
// client id, aud the issuer, a minute of life, a fresh jti.
func (m machine) assertion(issuer string, now time.Time) (string, error) {
	alg := jose.RS256
	switch m.key.(type) {
	case *ecdsa.PrivateKey:
		alg = jose.ES256
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: m.key, KeyID: m.keyID}}, opts)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	c := jwt.Claims{Issuer: m.clientID, Subject: m.clientID, Audience: jwt.Audience{issuer},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: fmt.Sprintf("%x", jti)}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// tokenAnswer is the token endpoint's answer to a client_credentials request.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// clientCredentials asks the token endpoint for a client_credentials token for the
// resource, with scope unless empty, authenticating as the machine: client_secret_basic
// or private_key_jwt (how). A failure is recorded as check name's, with its fix, and
// reported by ok false.
func (d *diagnosis) clientCredentials(ctx context.Context, name, scope string) (tok tokenAnswer, how string, ok bool) {
	m := d.flags.machine
	resource := d.flags.mcpURL
	if d.prm != nil && d.prm.Resource != "" {
		resource = d.prm.Resource
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	how = "client_secret_basic"
	if m.key != nil {
		how = "private_key_jwt"
		a, err := m.assertion(d.asMeta.Issuer, time.Now())
		if err != nil {
			d.fail(name, "signing the client assertion: "+err.Error(), "give a P-256, RSA or Ed25519 private key in PEM")
			return tok, how, false
		}
		form.Set("client_id", m.clientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	} else {
		req, _ := http.NewRequest(http.MethodPost, "/", nil)
		req.SetBasicAuth(url.QueryEscape(m.clientID), url.QueryEscape(m.secret)) // RFC 6749 §2.3.1
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	r, err := d.do(ctx, http.MethodPost, d.asMeta.TokenEndpoint, h, []byte(form.Encode()))
	if err != nil {
		d.fail(name, "POST "+d.asMeta.TokenEndpoint+": "+err.Error(), "make the token endpoint reachable from here")
		return tok, how, false
	}
	_ = json.Unmarshal(r.body, &tok)
	if r.status != http.StatusOK || tok.AccessToken == "" {
		detail := fmt.Sprintf("POST %s (%s) = %s", d.asMeta.TokenEndpoint, how, describeStatus(r))
		if scope != "" {
			detail = fmt.Sprintf("POST %s (%s, scope %q) = %s", d.asMeta.TokenEndpoint, how, scope, describeStatus(r))
		}
		if tok.Error != "" {
			detail += " " + tok.Error
			if tok.Description != "" {
				detail += ": " + tok.Description
			}
		}
		d.fail(name, detail, tokenFix(tok.Error, how))
		return tok, how, false
	}
	return tok, how, true
}

// checkMachine runs the client_credentials exchange and an initialize with the token,
// when --client-id is given.
func (d *diagnosis) checkMachine(ctx context.Context) {
	if d.flags.machine == nil {
		return
	}
	if d.asMeta == nil || d.asMeta.TokenEndpoint == "" {
		d.skip(checkClientCredentials, "no authorization server metadata with a token_endpoint")
		return
	}
	tok, how, ok := d.clientCredentials(ctx, checkClientCredentials, "")
	if !ok {
		return
	}
	r, err := d.postInitialize(ctx, http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
	switch {
	case err != nil:
		d.fail(checkClientCredentials, "initialize with the token: "+err.Error(), "make the MCP URL reachable from here")
	case r.status != http.StatusOK:
		d.fail(checkClientCredentials, "initialize with the token = "+describeStatus(r),
			"the token was issued but the resource refuses it: check that the resource admits machines (mcpguard: credentials: lists client) and that the client's scope covers the resource's required scopes")
	default:
		d.machineToken = tok.AccessToken
		d.pass(checkClientCredentials, how+" token accepted by initialize")
	}
}

// tokenFix is how to fix a refused exchange, by the error code.
func tokenFix(code, how string) string {
	switch code {
	case "invalid_client":
		if how == "private_key_jwt" {
			return "register the public key of --private-key for this client (jwks or jwks_uri) with token_endpoint_auth_method private_key_jwt, and give its kid as --key-id"
		}
		return "check --client-id and --client-secret against the client's registration (mcpguard: clients: client_secret_hash)"
	case "unauthorized_client", "unsupported_grant_type":
		return "allow the client_credentials grant for this client (mcpguard: grant_types: [client_credentials])"
	case "invalid_target":
		return "allow the client this resource (mcpguard: the client's resources:)"
	case "invalid_scope":
		return "allow the client the scopes it asks for"
	}
	return "see the authorization server's log for why it refused the exchange"
}

// parseTool checks --tool and --tool-args: they need --client-id (the mcp-tools check
// runs with the machine's token), and the arguments are a JSON object.
func parseTool(machine bool, tool, args string) (map[string]any, error) {
	switch {
	case tool == "" && args != "":
		return nil, errors.New("doctor: --tool-args goes with --tool")
	case tool == "":
		return nil, nil
	case !machine:
		return nil, errors.New("doctor: --tool needs --client-id: the mcp-tools check calls it with the machine's token")
	case args == "":
		return map[string]any{}, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(args), &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("doctor: --tool-args %q is not a JSON object", args)
	}
	return obj, nil
}

// parseMachine checks the machine flags: --client-id with exactly one of
// --client-secret and --private-key; --key-id only with --private-key.
func parseMachine(clientID, secret, keyFile, keyID string) (*machine, error) {
	if clientID == "" {
		if secret != "" || keyFile != "" || keyID != "" {
			return nil, errors.New("doctor: --client-secret, --private-key and --key-id need --client-id")
		}
		return nil, nil
	}
	switch {
	case (secret == "") == (keyFile == ""):
		return nil, errors.New("doctor: --client-id needs exactly one of --client-secret and --private-key")
	case keyID != "" && keyFile == "":
		return nil, errors.New("doctor: --key-id goes with --private-key")
	case strings.ContainsAny(clientID, "\r\n"):
		return nil, errors.New("doctor: --client-id has a line break")
	}
	m := &machine{clientID: clientID, secret: secret, keyID: keyID}
	if keyFile != "" {
		k, err := loadPrivateKey(keyFile)
		if err != nil {
			return nil, err
		}
		m.key = k
	}
	return m, nil
}
