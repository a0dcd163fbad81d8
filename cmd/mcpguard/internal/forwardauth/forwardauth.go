// Package forwardauth answers the subrequest an edge proxy sends before it forwards a
// request to an MCP server (Traefik forwardAuth, nginx auth_request, Caddy forward_auth,
// Envoy ext_authz): it rebuilds the original request, finds who is calling, asks the
// policy, and answers 200 with identity headers, 401 with an RFC 9728 challenge, or 403,
// writing one audit line per decision.
package forwardauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Authenticator turns a request's credential into a principal. Each credential kind
// (mcpguard's own access tokens, external JWTs, API keys, trusted proxy identity)
// implements it; it returns auth.ErrNoCredentials when its kind of credential is absent
// and an error wrapping auth.ErrInvalidCredential when the credential is not valid.
type Authenticator interface {
	Authenticate(r *auth.Request) (auth.Principal, error)
}

// requests recycles the auth.Request of each /auth call. The authenticators take it
// through the Authenticator interface, which escape analysis cannot see into, so a
// fresh one per call would be an allocation on every request.
var requests = sync.Pool{New: func() any { return new(auth.Request) }}

// needsClientAddr reports whether an authenticator reads the client address.
func needsClientAddr(list []Authenticator) bool {
	for _, a := range list {
		if _, ok := a.(*auth.ProxyIdentity); ok {
			return true
		}
	}
	return false
}

// Options are what a Decider judges with.
type Options struct {
	// Policy decides every request.
	Policy *policy.Policy
	// Authenticators are tried in order; the first that finds its kind of credential
	// decides who is calling.
	Authenticators []Authenticator
	// TrustedProxies are the TCP peers whose forwarded headers are believed; a request
	// from any other peer gets 403.
	TrustedProxies []netip.Prefix
	// PassUpstreamAuthorization copies the request's X-Upstream-Authorization into the
	// Authorization header of a 200, so a client can hand the MCP server its own upstream
	// credential without mcpguard ever forwarding the token it verified.
	PassUpstreamAuthorization bool
	// Log receives the audit line of every decision.
	Log zerolog.Logger
	// BodyReadTimeout bounds reading what is left of a subrequest's body after the
	// answer (Envoy's with_request_body); zero means 15 seconds. A subrequest without a
	// body gets no deadline of its own.
	BodyReadTimeout time.Duration
	// Now is the clock decisions are timed with; nil means time.Now.
	Now func() time.Time
	// CredentialHint, when set, is the error_description of a 401 for a request that
	// presented no credential: where the credential goes. mcpguard sets it when no
	// authorization server runs, so a client (and the person reading its error) learns
	// which header takes the API key instead of looking for an OAuth flow.
	CredentialHint string
	// Sessions, when set, is the session credential kind (mcpguard's browser session
	// cookie), tried only for resources that list `session` and only when the request
	// has no other credential.
	Sessions Authenticator
	// LoginURL, when set, is the login page (<issuer>/login) a 401 sends a browser to,
	// as Location with the original URL as rd, on resources that list `session`.
	LoginURL string
	// Assertions signs the identity assertion of resources that set identity_assertion;
	// without it their header is sent empty.
	Assertions Asserter
}

// Decider is what /auth needs to judge a request. Its caches are bounded by the
// configuration, not by the traffic.
type Decider struct {
	policy                    *policy.Policy
	authenticators            []Authenticator
	trustedProxies            []netip.Prefix
	passUpstreamAuthorization bool
	log                       zerolog.Logger
	decisions                 *prometheus.CounterVec
	latency                   prometheus.Histogram
	bodyReadTimeout           time.Duration
	now                       func() time.Time
	credentialHint            string
	sessions                  Authenticator
	loginURL                  string
	assertions                Asserter
	// needClient is set when an authenticator reads the client address (proxy identity).
	needClient bool
	// denials caches rendered denials by denialKey; the keys are bounded by the
	// configuration (resources × reasons × statuses).
	denials sync.Map
	// outcomes caches an *outcome by outcomeKey.
	outcomes sync.Map
	// untrusted holds the peers outside TRUSTED_PROXIES already warned about, at most
	// maxUntrustedPeers of them.
	untrusted      sync.Map
	untrustedCount atomic.Int64
}

// maxUntrustedPeers bounds the peers warned about one by one.
const maxUntrustedPeers = 1000

// New returns a Decider for o.
func New(o Options) *Decider {
	d := &Decider{
		policy:                    o.Policy,
		authenticators:            o.Authenticators,
		trustedProxies:            o.TrustedProxies,
		passUpstreamAuthorization: o.PassUpstreamAuthorization,
		log:                       o.Log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpguard_decisions_total",
			Help: "Decisions of /auth by result (allow, challenge, deny, error), reason and credential source.",
		}, []string{"result", "reason", "source"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mcpguard_decision_duration_seconds",
			Help:    "Time /auth took to decide, from request to answer.",
			Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 250e-3},
		}),
		bodyReadTimeout: o.BodyReadTimeout,
		now:             o.Now,
		credentialHint:  o.CredentialHint,
		sessions:        o.Sessions,
		loginURL:        o.LoginURL,
		assertions:      o.Assertions,
		needClient:      needsClientAddr(o.Authenticators),
	}
	if d.bodyReadTimeout <= 0 {
		d.bodyReadTimeout = 15 * time.Second
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Collectors are the Decider's Prometheus series, for the caller to register:
// mcpguard_decisions_total{result,reason,source} and mcpguard_decision_duration_seconds.
func (d *Decider) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.decisions, d.latency}
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
	envoyPath     string // the original path of the Envoy dialect, for a login's rd
	// redirect marks the redirecting form of /auth (?login=redirect): a 401 that sends a
	// browser to the login page is answered as a 302 instead (redirectForm).
	redirect bool
	// assertHeader is the header of the resource's identity assertion ("" when it asks
	// for none), assertion its value.
	assertHeader, assertion string
	cause                   error // internal cause, logged, never sent
}

// Handler answers forwardAuth, auth_request, forward_auth and ext_authz subrequests at
// prefix: 200 with identity headers, 401 with an RFC 9728 challenge, or 403, to any
// method (proxies send GET, HEAD or the original one). envoy marks the
// prefix/<original path> form of Envoy ext_authz, where the original path follows the
// prefix.
func (d *Decider) Handler(prefix string, envoy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := d.now()
		if r.ContentLength != 0 {
			// A subrequest with a body (Envoy's with_request_body): net/http reads what
			// is left of it after the answer, within this deadline. Without a body, the
			// answer is a few hundred bytes the kernel takes at once, and the two timers
			// a deadline costs are a measurable part of a decision.
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(d.bodyReadTimeout))
		}
		var envoyPath string
		if envoy {
			envoyPath = strings.TrimPrefix(r.URL.EscapedPath(), prefix)
			if r.URL.RawQuery != "" {
				envoyPath += "?" + r.URL.RawQuery
			}
		}
		v := verdict{envoyPath: envoyPath, redirect: !envoy && redirectForm(r)}
		d.judge(r, envoyPath, &v)
		d.write(w, r, &v)
		d.record(r, &v, d.now().Sub(start))
	})
}

// judge decides one request into v. It never allows on an error.
func (d *Decider) judge(r *http.Request, envoyPath string, v *verdict) {
	if !d.peerTrusted(r) {
		v.status, v.reason, v.cause = http.StatusForbidden, "untrusted_peer", errors.New("peer is not in TRUSTED_PROXIES")
		d.warnUntrusted(r.RemoteAddr)
		return
	}
	var err error
	if v.orig, err = forwarded.Parse(r, envoyPath); err != nil {
		v.status, v.reason, v.cause = http.StatusForbidden, "malformed_request", err
		if errors.Is(err, forwarded.ErrAmbiguousPath) {
			v.reason = "ambiguous_path"
		}
		return
	}
	req := policy.Request{
		Method:     v.orig.Method,
		Host:       v.orig.Host,
		Path:       v.orig.Path,
		PathParams: v.orig.PathParams,
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
	ar := requests.Get().(*auth.Request)
	*ar = auth.Request{Header: r.Header}
	if d.needClient {
		ar.Client = forwarded.ClientAddr(r.Header)
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
		v.principal, v.authenticated = p, true
		break
	}
	*ar = auth.Request{}
	requests.Put(ar)
	if !v.authenticated && credErr == nil && len(r.Header["Authorization"]) > 0 {
		// A credential no configured kind recognises (a JWT with no issuer configured,
		// Basic auth) is an invalid credential, not an absent one.
		credErr = errUnrecognized
	}
	if credErr != nil {
		if !errors.Is(credErr, auth.ErrInvalidCredential) && credErr != errUnrecognized {
			v.fault(credErr)
			return
		}
		in.CredentialInvalid = true
	}
	var id policy.Identity
	if v.authenticated {
		id = identityOf(&v.principal)
		in.Identity = &id
	}
	v.decision = d.policy.Decide(in)
	v.reason, v.cause = string(v.decision.Reason), credErr
	if d.sessions != nil && !v.authenticated && credErr == nil && wantsSession(v.decision) && !d.judgeSession(r, v, &in) {
		return
	}
	switch v.decision.Result {
	case policy.Allow:
		v.status = http.StatusOK
		d.assert(v)
	case policy.Challenge:
		v.status = http.StatusUnauthorized
	default:
		v.status = http.StatusForbidden
	}
}

// fault makes v the answer to an authenticator's internal error: 500, or 503 when it is
// a store that cannot be reached (a first-seen own token's revocation check, a browser
// session's record), an outage rather than a failed credential, never 401.
func (v *verdict) fault(err error) {
	v.status, v.reason, v.cause = http.StatusInternalServerError, "internal_error", err
	if errors.Is(err, store.ErrUnavailable) {
		v.status, v.reason = http.StatusServiceUnavailable, "store_unavailable"
	}
}

// identityOf is what policy needs to know of p.
func identityOf(p *auth.Principal) policy.Identity {
	return policy.Identity{
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
}

// peerTrusted reports whether the TCP peer of r is a trusted proxy: what the server's
// ConnContext found once for the connection, or else found now.
func (d *Decider) peerTrusted(r *http.Request) bool {
	if cp, ok := r.Context().Value(connPeerKey{}).(*connPeer); ok && cp.remoteAddr == r.RemoteAddr {
		return cp.trusted
	}
	return forwarded.PeerTrusted(r.RemoteAddr, d.trustedProxies)
}

// warnUntrusted logs, once per peer address, that a peer outside TRUSTED_PROXIES called
// /auth, with the fix: most often it is the operator's own proxy on another address.
func (d *Decider) warnUntrusted(remoteAddr string) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if _, seen := d.untrusted.Load(host); seen || d.untrustedCount.Load() >= maxUntrustedPeers {
		return
	}
	if _, seen := d.untrusted.LoadOrStore(host, struct{}{}); seen {
		return
	}
	if d.untrustedCount.Add(1) == maxUntrustedPeers {
		d.log.Warn().Int("peers", maxUntrustedPeers).Msg("more peers outside TRUSTED_PROXIES called /auth; no more are named one by one")
	}
	d.log.Warn().Str("peer", host).Msgf("a peer outside TRUSTED_PROXIES called /auth and got 403: if %s is your proxy, add it to TRUSTED_PROXIES", host)
}

// connPeerKey is the context key of a connection's connPeer.
type connPeerKey struct{}

// connPeer is what /auth needs to know of a connection's peer, found once per
// connection instead of once per request.
type connPeer struct {
	remoteAddr string
	trusted    bool
}

// ConnContext is an http.Server ConnContext hook that judges each connection's peer
// against the trusted proxies once, instead of once per request. Without it, each
// request's peer is judged on its own.
func (d *Decider) ConnContext(ctx context.Context, c net.Conn) context.Context {
	addr := c.RemoteAddr().String()
	return context.WithValue(ctx, connPeerKey{}, &connPeer{remoteAddr: addr, trusted: forwarded.PeerTrusted(addr, d.trustedProxies)})
}
