package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/prometheus/client_golang/prometheus"
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

// authenticate is a.Authenticate(r), called on the concrete type of each credential
// kind mcpguard has, so that r stays on the caller's stack: /auth allocates nothing for it.
func authenticate(a authenticator, r *auth.Request) (auth.Principal, error) {
	switch a := a.(type) {
	case *auth.APIKeys:
		return a.Authenticate(r)
	case *auth.JWTVerifier:
		return a.Authenticate(r)
	case *auth.ProxyIdentity:
		return a.Authenticate(r)
	case *oauth.AccessTokenVerifier:
		return a.Authenticate(r)
	}
	// Another kind gets a copy on the heap and hands back what it memoized.
	cp := *r
	p, err := a.Authenticate(&cp)
	*r = cp
	return p, err
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
	// outcomes caches an *outcome by outcomeKey.
	outcomes sync.Map
}

// errUnrecognized marks an Authorization header that no configured credential kind accepts.
var errUnrecognized = errors.New("authorization header of no configured credential kind")

// verdict is the outcome of one /auth request, before it is written.
type verdict struct {
	status int
	reason string
	// principal is who the credential proved, when authenticated is set.
	principal     auth.Principal
	authenticated bool
	decision      policy.Decision
	orig          forwarded.Original
	cause         error // internal cause, logged, never sent
}

// handleAuth answers forwardAuth, auth_request, forward_auth and ext_authz subrequests:
// 200 with identity headers, 401 with an RFC 9728 challenge, or 403. envoy marks the
// /auth/<path> form, where the original path follows the prefix.
func handleAuth(d *decider, prefix string, envoy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := d.now()
		if r.ContentLength != 0 {
			// A subrequest with a body (Envoy's with_request_body): net/http reads what
			// is left of it after the answer, within this deadline (see withDeadlines).
			setDeadlines(w, false)
		}
		var envoyPath string
		if envoy {
			envoyPath = strings.TrimPrefix(r.URL.EscapedPath(), prefix)
			if r.URL.RawQuery != "" {
				envoyPath += "?" + r.URL.RawQuery
			}
		}
		var v verdict
		d.judge(r, envoyPath, &v)
		d.write(w, r, &v)
		d.record(r, &v, d.now().Sub(start))
	})
}

// judge decides one request into v. It never allows on an error.
func (d *decider) judge(r *http.Request, envoyPath string, v *verdict) {
	if !d.peerTrusted(r) {
		v.status, v.reason, v.cause = http.StatusForbidden, "untrusted_peer", errors.New("peer is not in TRUSTED_PROXIES")
		return
	}
	var err error
	if v.orig, err = forwarded.Parse(r, envoyPath); err != nil {
		v.status, v.reason, v.cause = http.StatusForbidden, "malformed_request", err
		return
	}
	req := policy.Request{
		Method: v.orig.Method,
		Host:   v.orig.Host,
		Path:   v.orig.Path,
		Preflight: v.orig.Method == http.MethodOptions &&
			r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "",
	}
	if req.MCPProtocolVersion, err = forwarded.MCPHeader(r.Header, "Mcp-Protocol-Version"); err == nil {
		if req.MCPMethod, err = forwarded.MCPHeader(r.Header, "Mcp-Method"); err == nil {
			req.MCPName, err = forwarded.MCPHeader(r.Header, "Mcp-Name")
		}
	}
	if err != nil {
		v.status, v.reason, v.cause = http.StatusForbidden, "malformed_request", err
		return
	}

	in := policy.Input{Request: req}
	var credErr error
	ar := auth.Request{Header: r.Header}
	if d.needClient {
		ar.Client = forwarded.ClientAddr(r.Header)
	}
	for _, a := range d.authenticators {
		p, err := authenticate(a, &ar)
		if errors.Is(err, auth.ErrNoCredentials) {
			continue
		}
		if err != nil {
			credErr = err
			break
		}
		v.principal, v.authenticated = p, true
		break
	}
	if !v.authenticated && credErr == nil && len(r.Header["Authorization"]) > 0 {
		// A credential no configured kind recognises (a JWT with no issuer configured,
		// Basic auth) is an invalid credential, not an absent one.
		credErr = errUnrecognized
	}
	if credErr != nil {
		if !errors.Is(credErr, auth.ErrInvalidCredential) && credErr != errUnrecognized {
			v.status, v.reason, v.cause = http.StatusInternalServerError, "internal_error", credErr
			return
		}
		in.CredentialInvalid = true
	}
	var id policy.Identity
	if v.authenticated {
		p := &v.principal
		id = policy.Identity{
			Subject:       p.Subject,
			Email:         p.Email,
			EmailVerified: p.EmailVerified,
			Groups:        p.Groups,
			Scopes:        p.Scopes,
			AllScopes:     p.AllScopes,
			Source:        policy.Source(p.Source),
			ClientID:      p.ClientID,
			Issuer:        p.Issuer,
			Audiences:     p.Audiences,
		}
		in.Identity = &id
	}
	v.decision = d.policy.Decide(in)
	v.reason, v.cause = string(v.decision.Reason), credErr
	switch v.decision.Result {
	case policy.Allow:
		v.status = http.StatusOK
	case policy.Challenge:
		v.status = http.StatusUnauthorized
	default:
		v.status = http.StatusForbidden
	}
}

// peerTrusted reports whether the TCP peer of r is a trusted proxy: what the server's
// ConnContext (connPeers) found once for the connection, or else found now.
func (d *decider) peerTrusted(r *http.Request) bool {
	if cp, ok := r.Context().Value(connPeerKey{}).(*connPeer); ok && cp.remoteAddr == r.RemoteAddr {
		return cp.trusted
	}
	return forwarded.PeerTrusted(r.RemoteAddr, d.trustedProxies)
}

// connPeerKey is the context key of a connection's connPeer.
type connPeerKey struct{}

// connPeer is what /auth needs to know of a connection's peer, found once per
// connection instead of once per request.
type connPeer struct {
	remoteAddr string
	trusted    bool
}

// connPeers is an http.Server ConnContext that judges each connection's peer against
// TRUSTED_PROXIES once.
func (d *decider) connPeers(ctx context.Context, c net.Conn) context.Context {
	addr := c.RemoteAddr().String()
	return context.WithValue(ctx, connPeerKey{}, &connPeer{remoteAddr: addr, trusted: forwarded.PeerTrusted(addr, d.trustedProxies)})
}

// write sends the verdict. Only 200, 401, 403 and (for internal faults) 500 are ever
// written: nginx turns any other status into a 500, Envoy denies anything but 200.
func (d *decider) write(w http.ResponseWriter, r *http.Request, v *verdict) {
	h := w.Header()
	if v.status == http.StatusOK {
		// Only the identity headers: a proxy copies what it lists and drops the rest of an
		// allow, and each header more is paid for on every MCP request.
		if v.authenticated {
			setIdentity(h, v.principal.HeaderValues())
		} else {
			setIdentity(h, &anonymousValues)
		}
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
	h["Cache-Control"] = noStoreValue // a denial's body reaches the client
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
func (d *decider) denial(v *verdict) denial {
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
func renderDenial(v *verdict) denial {
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

// anonymousValues are the identity header values of a request allowed without a
// credential.
var anonymousValues = auth.HeaderValues{User: emptyValue, Email: emptyValue, Groups: emptyValue,
	Scopes: emptyValue, Source: anonymousValue, ClientID: emptyValue}

// setIdentity writes every identity header, empty when unknown. The values are shared,
// never copied: net/http only reads them.
func setIdentity(h http.Header, hv *auth.HeaderValues) {
	h[hdrUser] = hv.User
	h[hdrEmail] = hv.Email
	h[hdrGroups] = hv.Groups
	h[hdrScopes] = hv.Scopes
	h[hdrSource] = hv.Source
	h[hdrClientID] = hv.ClientID
}

// record writes the audit line and the metrics of one decision. The line names who,
// what and the outcome; it never holds a credential, a cookie or the query string.
func (d *decider) record(r *http.Request, v *verdict, took time.Duration) {
	source := string(policy.SourceAnonymous)
	var user, client string
	if v.authenticated {
		source, client = v.principal.Source, v.principal.ClientID
		user = v.principal.Email
		if user == "" {
			user = v.principal.Subject
		}
	}
	oc := d.outcome(outcomeKey{v.decision.Resource, v.status, v.reason, source})
	oc.decisions.Inc()
	d.metrics.latency.Observe(took.Seconds())

	e := oc.log.WithLevel(oc.level)
	if e == nil {
		return
	}
	e = e.Str("user", user).Str("client_id", client).Str("method", v.orig.Method).
		Str("host", v.orig.Host).Str("path", v.orig.Path).Str("peer", r.RemoteAddr).
		Int64("us", took.Microseconds())
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

// outcomeKey names a kind of decision: what its metrics and audit line share with every
// other decision of the kind. The keys are bounded by the configuration (resources ×
// statuses × reasons × credential kinds).
type outcomeKey struct {
	resource *policy.Resource
	status   int
	reason   string
	source   string
}

// outcome is a kind of decision, prepared once: its counter, and a logger whose context
// already holds the fields every line of the kind starts with.
type outcome struct {
	decisions prometheus.Counter
	log       zerolog.Logger
	level     zerolog.Level
}

// outcome returns the prepared outcome of k, preparing it on first use.
func (d *decider) outcome(k outcomeKey) *outcome {
	if oc, ok := d.outcomes.Load(k); ok {
		return oc.(*outcome)
	}
	result := "allow"
	switch k.status {
	case http.StatusUnauthorized:
		result = "challenge"
	case http.StatusForbidden:
		result = "deny"
	case http.StatusInternalServerError:
		result = "error"
	}
	var resource string
	if k.resource != nil {
		resource = k.resource.URL()
	}
	oc := &outcome{
		decisions: d.metrics.decisions.WithLabelValues(result, k.reason, k.source),
		log: d.log.With().Str("decision", result).Int("status", k.status).Str("reason", k.reason).
			Str("source", k.source).Str("resource", resource).Logger(),
		level: zerolog.InfoLevel,
	}
	if k.status == http.StatusInternalServerError {
		oc.level = zerolog.ErrorLevel
	}
	actual, _ := d.outcomes.LoadOrStore(k, oc)
	return actual.(*outcome)
}
