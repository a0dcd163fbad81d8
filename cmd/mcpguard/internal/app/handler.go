package app

// The one place the program is put together: configuration in, HTTP surface out.

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwardauth"
	"github.com/rs/zerolog"
)

// Options say where NewHandler reads its configuration from and where it logs.
type Options struct {
	// Args are the flags of serve, without the program and command names; they
	// override the environment.
	Args []string
	// Getenv reads the environment: os.Getenv in production, a map in tests.
	Getenv func(string) string
	// Log receives the log lines.
	Log io.Writer

	timeouts timeouts // zero fields: production's
}

// Handler is mcpguard's whole HTTP surface, built once from one configuration: serve
// listens with it, and tests call it in-process exactly as the proxy would. Close
// releases it.
type Handler struct {
	routes   *router
	cfg      config
	log      zerolog.Logger
	setup    *setup
	decider  *forwardauth.Decider
	timeouts timeouts
	metrics  *metrics
	admin    http.Handler // the admin API; nil without ADMIN_TOKEN
}

// NewHandler reads the configuration (the environment through o.Getenv, then o.Args),
// validates it, and builds the policy, the credential kinds, the authorization server
// when PROVIDER is set, the /auth decision and the routes of all of them. Work it
// starts in the background (JWKS discovery) stops with ctx; so do the readiness checks.
func NewHandler(ctx context.Context, o Options) (*Handler, error) {
	c, err := loadConfig(o.Args, o.Getenv)
	if err != nil {
		return nil, err
	}
	t := o.timeouts.orDefault()
	log := newLogger(c, o.Log)
	m := newMetrics()
	s, err := newSetup(ctx, &c, log, m, "")
	if err != nil {
		return nil, err
	}
	ready := &readiness{}
	ready.add("policy", func() error { return nil })
	if s.jwt != nil {
		ready.add("jwt_issuers", s.jwt.Ready)
	}
	if s.as != nil {
		ready.add("authorization_server", func() error {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return s.as.Ready(rctx)
		})
	}
	fo := forwardauth.Options{
		Policy:                    s.policy,
		Authenticators:            s.authenticators,
		TrustedProxies:            c.trustedProxies,
		PassUpstreamAuthorization: c.PassUpstreamAuthorization,
		Log:                       log,
		BodyReadTimeout:           t.read,
		CredentialHint:            credentialHint(c, s),
	}
	if err := browserOptions(c, s, &fo, log); err != nil {
		s.Close()
		return nil, err
	}
	d := forwardauth.New(fo)
	m.registry.MustRegister(d.Collectors()...)
	rt := newRouter(log, deadlines{read: t.read, write: t.write})
	addRoutes(rt, d, s.meta, s.as, ready, m, c.ProtectedPath)
	h := &Handler{routes: rt, cfg: c, log: log, setup: s, decider: d, timeouts: t, metrics: m}
	if h.admin, err = newAdminHandler(c, s, m, h); err != nil {
		s.Close()
		return nil, err
	}
	return h, nil
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.routes.ServeHTTP(w, r)
}

// ConnContext is the http.Server ConnContext hook the handler expects: it judges each
// connection's peer against TRUSTED_PROXIES once, instead of once per /auth request.
func (h *Handler) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return h.decider.ConnContext(ctx, c)
}

// Close releases the authorization server's store.
func (h *Handler) Close() error {
	return h.setup.Close()
}
