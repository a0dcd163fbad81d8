package app

// The admin API's listener: its own http.Server next to the public one, started and
// stopped by serve, only when ADMIN_TOKEN is set.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/admin"
)

// newAdminHandler builds the admin API when ADMIN_TOKEN is set; nil otherwise.
func newAdminHandler(c config, s *setup, m *metrics, h *Handler) (http.Handler, error) {
	if c.AdminToken == "" || s.store == nil || s.as == nil {
		return nil, nil
	}
	actions := admin.NewActionsCounter()
	m.registry.MustRegister(actions)
	return admin.New(admin.Config{
		Token:    c.AdminToken,
		Sessions: s.store,
		Grants:   s.store,
		Server:   s.as,
		Log:      h.log,
		Actions:  actions,
	})
}

// startAdmin listens on ADMIN_ADDR and serves the admin API until stop is called,
// which shuts it down within ctx.
func startAdmin(h *Handler, stdout io.Writer) (stop func(ctx context.Context) error, err error) {
	if h.admin == nil {
		return func(context.Context) error { return nil }, nil
	}
	ln, err := net.Listen("tcp", h.cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h.admin,
		ReadHeaderTimeout: h.timeouts.readHeader,
		ReadTimeout:       h.timeouts.read,
		WriteTimeout:      h.timeouts.write,
		IdleTimeout:       h.timeouts.idle,
		MaxHeaderBytes:    16 << 10,
	}
	h.log.Info().Str("addr", ln.Addr().String()).Msg("admin API listening")
	fmt.Fprintf(stdout, "admin API listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return func(ctx context.Context) error {
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("admin shutdown: %w", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin serve: %w", err)
		}
		return nil
	}, nil
}
