package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/rs/zerolog"
)

// The identity headers /auth sets on every 200. They are always all present, empty when
// unknown, so that a client-supplied copy cannot survive a proxy that only overwrites the
// headers an auth service returns (Caddy GHSA-7r4p-vjf4-gxv4).
const (
	hdrUser     = "X-Forwarded-User"
	hdrEmail    = "X-Forwarded-Email"
	hdrGroups   = "X-Forwarded-Groups"
	hdrScopes   = "X-Forwarded-Scopes"
	hdrSource   = "X-Auth-Source"
	hdrClientID = "X-Auth-Client-Id"
)

// identityHeaders lists every header /auth sets on a 200, Authorization included; the
// proxy recipes copy exactly these.
var identityHeaders = []string{hdrUser, hdrEmail, hdrGroups, hdrScopes, hdrSource, hdrClientID, "Authorization"}

// authenticator turns a request's credential into a principal. Each credential kind
// (API keys, trusted proxy identity, and later tokens and sessions) implements it; it
// returns auth.ErrNoCredentials when its kind of credential is absent.
type authenticator interface {
	Authenticate(r *auth.Request) (auth.Principal, error)
}

// needsClientAddr reports whether an authenticator reads the client address.
func needsClientAddr(list []authenticator) bool {
	for _, a := range list {
		if _, ok := a.(*auth.ProxyIdentity); ok {
			return true
		}
	}
	return false
}

// decider is what /auth needs to judge a request.
type decider struct {
	policy         *policy.Policy
	authenticators []authenticator
	trustedProxies []netip.Prefix
	// passUpstreamAuthorization copies the request's X-Upstream-Authorization into the
	// Authorization header of a 200, so a client can hand the MCP server its own upstream
	// credential without mcpguard ever forwarding the token it verified.
	passUpstreamAuthorization bool
	log                       zerolog.Logger
	metrics                   *metrics
	now                       func() time.Time
	// needClient is set when an authenticator reads the client address (proxy identity).
	needClient bool
	// denials caches rendered denials by denialKey; the keys are bounded by the
	// configuration (resources × reasons × statuses).
	denials sync.Map
}

// errUnrecognized marks an Authorization header that no configured credential kind accepts.
var errUnrecognized = errors.New("authorization header of no configured credential kind")

// verdict is the outcome of one /auth request, before it is written.
type verdict struct {
	status    int
	reason    string
	principal *auth.Principal
	decision  policy.Decision
	orig      original
	cause     error // internal cause, logged, never sent
}

// handleAuth answers forwardAuth, auth_request, forward_auth and ext_authz subrequests:
// 200 with identity headers, 401 with an RFC 9728 challenge, or 403. envoy marks the
// /auth/<path> form, where the original path follows the prefix.
func handleAuth(d *decider, prefix string, envoy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := d.now()
		var envoyPath string
		if envoy {
			envoyPath = strings.TrimPrefix(r.URL.EscapedPath(), prefix)
			if r.URL.RawQuery != "" {
				envoyPath += "?" + r.URL.RawQuery
			}
		}
		v := d.judge(r, envoyPath)
		d.write(w, r, v)
		d.record(r, v, d.now().Sub(start))
	})
}

// judge decides one request. It never allows on an error.
func (d *decider) judge(r *http.Request, envoyPath string) verdict {
	if !peerTrusted(r.RemoteAddr, d.trustedProxies) {
		return verdict{status: http.StatusForbidden, reason: "untrusted_peer",
			cause: errors.New("peer is not in TRUSTED_PROXIES")}
	}
	orig, err := parseOriginal(r, envoyPath)
	if err != nil {
		return verdict{status: http.StatusForbidden, reason: "malformed_request", cause: err}
	}
	req := policy.Request{
		Method: orig.Method,
		Host:   orig.Host,
		Path:   orig.Path,
		Preflight: orig.Method == http.MethodOptions &&
			r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "",
	}
	if req.MCPProtocolVersion, err = mcpHeader(r.Header, "Mcp-Protocol-Version"); err == nil {
		if req.MCPMethod, err = mcpHeader(r.Header, "Mcp-Method"); err == nil {
			req.MCPName, err = mcpHeader(r.Header, "Mcp-Name")
		}
	}
	if err != nil {
		return verdict{status: http.StatusForbidden, reason: "malformed_request", orig: orig, cause: err}
	}

	in := policy.Input{Request: req}
	var principal *auth.Principal
	var credErr error
	ar := &auth.Request{Header: r.Header}
	if d.needClient {
		ar.Client = clientAddr(r.Header)
	}
	for _, a := range d.authenticators {
		p, err := a.Authenticate(ar)
		if errors.Is(err, auth.ErrNoCredentials) {
			continue
		}
		if err != nil {
			credErr = err
			break
		}
		principal = &p
		break
	}
	if principal == nil && credErr == nil && len(r.Header["Authorization"]) > 0 {
		// A credential no configured kind recognises (a JWT with no issuer configured,
		// Basic auth) is an invalid credential, not an absent one.
		credErr = errUnrecognized
	}
	if credErr != nil {
		if !errors.Is(credErr, auth.ErrInvalidCredential) && credErr != errUnrecognized {
			return verdict{status: http.StatusInternalServerError, reason: "internal_error", orig: orig, cause: credErr}
		}
		in.CredentialInvalid = true
	}
	if principal != nil {
		in.Identity = &policy.Identity{
			Subject:       principal.Subject,
			Email:         principal.Email,
			EmailVerified: principal.EmailVerified,
			Groups:        principal.Groups,
			Scopes:        principal.Scopes,
			AllScopes:     principal.AllScopes,
			Source:        policy.Source(principal.Source),
			ClientID:      principal.ClientID,
			Issuer:        principal.Issuer,
			Audiences:     principal.Audiences,
		}
	}
	dec := d.policy.Decide(in)
	v := verdict{reason: string(dec.Reason), principal: principal, decision: dec, orig: orig, cause: credErr}
	switch dec.Result {
	case policy.Allow:
		v.status = http.StatusOK
	case policy.Challenge:
		v.status = http.StatusUnauthorized
	default:
		v.status = http.StatusForbidden
	}
	return v
}

// mcpHeader reads one of the MCP 2026-07-28 mirrored headers: at most one value of at
// most 256 visible ASCII bytes.
func mcpHeader(h http.Header, name string) (string, error) {
	v, err := single(h, name)
	if err != nil {
		return "", err
	}
	if len(v) > 256 {
		return "", errors.Join(errMalformed, errors.New(name+" is longer than 256 bytes"))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] >= 0x7f {
			return "", errors.Join(errMalformed, errors.New(name+" holds a control or non-ASCII byte"))
		}
	}
	return v, nil
}

// write sends the verdict. Only 200, 401, 403 and (for internal faults) 500 are ever
// written: nginx turns any other status into a 500, Envoy denies anything but 200.
func (d *decider) write(w http.ResponseWriter, r *http.Request, v verdict) {
	h := w.Header()
	h["Cache-Control"] = noStoreValue
	if v.status == http.StatusOK {
		setIdentity(h, v.principal)
		authz := ""
		if d.passUpstreamAuthorization {
			authz = r.Header.Get("X-Upstream-Authorization")
		}
		h["Authorization"] = headerValue(authz)
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Header.Get("Origin") != "" {
		// Browser-based MCP clients must read the challenge of the proxied 401/403.
		h["Access-Control-Allow-Origin"] = anyOriginValue
		h["Access-Control-Expose-Headers"] = exposeChallengeValue
	}
	den := d.denial(v)
	if den.challenge != nil {
		h["Www-Authenticate"] = den.challenge
	}
	body := den.body
	h["Content-Type"] = jsonValue
	w.WriteHeader(v.status)
	w.Write(body)
}

// denial is the rendered answer of a 401, 403 or 500: the challenge and the JSON body.
type denial struct {
	challenge []string // nil: no WWW-Authenticate
	body      []byte
}

// denialKey names a denial that is the same for every request: one that no MCP rule
// shaped, so its scopes and message come from the resource and the reason alone.
type denialKey struct {
	resource *policy.Resource
	reason   string
	status   int
}

// denial renders v's answer, once per resource and reason when no rule applied (the
// common case), so a flood of rejected requests does not rebuild the same strings.
func (d *decider) denial(v verdict) denial {
	cacheable := len(v.decision.Rules) == 0
	key := denialKey{v.decision.Resource, v.reason, v.status}
	if cacheable {
		if den, ok := d.denials.Load(key); ok {
			return den.(denial)
		}
	}
	den := renderDenial(v)
	if cacheable {
		d.denials.Store(key, den)
	}
	return den
}

// renderDenial builds the challenge and body of a denial.
func renderDenial(v verdict) denial {
	var den denial
	code, desc := "access_denied", v.decision.Message
	switch {
	case v.status == http.StatusUnauthorized:
		c := oauth.Challenge{Scope: v.decision.Scopes}
		if res := v.decision.Resource; res != nil {
			c.ResourceMetadata = res.MetadataURL()
		}
		code = "unauthorized"
		if v.decision.Reason == policy.ReasonInvalidCredential || v.decision.Reason == policy.ReasonCredentialNotAccepted {
			c.Error, c.Description = oauth.ErrorInvalidToken, desc
		}
		den.challenge = []string{c.String()}
	case v.decision.Reason == policy.ReasonInsufficientScope:
		c := oauth.Challenge{Error: oauth.ErrorInsufficientScope, Scope: v.decision.Scopes, Description: desc}
		if res := v.decision.Resource; res != nil {
			c.ResourceMetadata = res.MetadataURL()
		}
		code = oauth.ErrorInsufficientScope
		den.challenge = []string{c.String()}
	case v.reason == "untrusted_peer":
		desc = "the request did not come through a trusted proxy"
	case v.reason == "malformed_request":
		code, desc = "invalid_request", "the forwarded request cannot be judged"
	case v.status == http.StatusInternalServerError:
		code, desc = "server_error", "internal error"
	}
	if desc == "" {
		desc = http.StatusText(v.status)
	}
	den.body, _ = json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	return den
}

// Header values shared by every response: net/http only reads them, and sharing saves
// allocations on the hot path.
var (
	emptyValue           = []string{""}
	anonymousValue       = []string{string(policy.SourceAnonymous)}
	noStoreValue         = []string{"no-store"}
	jsonValue            = []string{"application/json"}
	anyOriginValue       = []string{"*"}
	exposeChallengeValue = []string{"WWW-Authenticate"}
)

// headerValue is []string{v}, shared when v is empty.
func headerValue(v string) []string {
	if v == "" {
		return emptyValue
	}
	return []string{v}
}

// setIdentity writes every identity header, empty when unknown.
func setIdentity(h http.Header, p *auth.Principal) {
	if p == nil {
		h[hdrUser] = emptyValue
		h[hdrEmail] = emptyValue
		h[hdrGroups] = emptyValue
		h[hdrScopes] = emptyValue
		h[hdrSource] = anonymousValue
		h[hdrClientID] = emptyValue
		return
	}
	user := p.Email
	if user == "" {
		user = p.Subject
	}
	h[hdrUser] = headerValue(user)
	h[hdrEmail] = headerValue(p.Email)
	h[hdrGroups] = headerValue(strings.Join(p.Groups, ","))
	h[hdrScopes] = headerValue(strings.Join(p.Scopes, " "))
	h[hdrSource] = headerValue(p.Source)
	h[hdrClientID] = headerValue(p.ClientID)
}

// record writes the audit line and the metrics of one decision. The line names who,
// what and the outcome; it never holds a credential, a cookie or the query string.
func (d *decider) record(r *http.Request, v verdict, took time.Duration) {
	source := string(policy.SourceAnonymous)
	var user, client string
	if v.principal != nil {
		source, client = v.principal.Source, v.principal.ClientID
		user = v.principal.Email
		if user == "" {
			user = v.principal.Subject
		}
	}
	result := "allow"
	switch v.status {
	case http.StatusUnauthorized:
		result = "challenge"
	case http.StatusForbidden:
		result = "deny"
	case http.StatusInternalServerError:
		result = "error"
	}
	d.metrics.observe(result, v.reason, source, took)

	lvl := zerolog.InfoLevel
	if v.status == http.StatusInternalServerError {
		lvl = zerolog.ErrorLevel
	}
	e := d.log.WithLevel(lvl)
	if e == nil {
		return
	}
	var resource string
	if v.decision.Resource != nil {
		resource = v.decision.Resource.URL()
	}
	e = e.Str("decision", result).Int("status", v.status).Str("reason", v.reason).
		Str("source", source).Str("user", user).Str("client_id", client).
		Str("resource", resource).Str("method", v.orig.Method).Str("host", v.orig.Host).
		Str("path", v.orig.Path).Str("peer", r.RemoteAddr).Int64("us", took.Microseconds())
	if v.decision.Resource != nil {
		if m := r.Header.Get("Mcp-Method"); m != "" {
			e = e.Str("mcp_method", m).Str("tool", r.Header.Get("Mcp-Name"))
		}
	}
	if len(v.decision.Missing) > 0 {
		e = e.Strs("missing_scopes", v.decision.Missing)
	}
	if v.cause != nil {
		e = e.AnErr("cause", v.cause)
	}
	e.Msg("auth decision")
}
