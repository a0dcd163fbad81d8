package app

// The serve command: mcpguard listening until it is told to stop.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/mcpguard/mcpguard/store"
	"github.com/rs/zerolog"
)

// gcPercent is the collector's target when GOGC is not set. mcpguard's live heap is
// small (a few MB plus its caches) while every /auth request allocates, so the Go
// default of 100 collects dozens of times a second under load; letting the heap grow 4x
// between collections costs a few tens of MB and takes most of that work off the hot
// path (docs/benchmarks.md). GOGC in the environment wins; GOMEMLIMIT caps the heap.
const gcPercent = 400

// serve runs the decision service until ctx is cancelled. t bounds each request; the
// zero value is production's.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, t timeouts) error {
	logw := newBatchWriter(stderr, 200*time.Millisecond)
	defer logw.Close()
	h, err := NewHandler(ctx, Options{Args: args, Getenv: getenv, Log: logw, timeouts: t})
	if err != nil {
		return err
	}
	defer h.Close()
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	c, s, log := h.cfg, h.setup, h.log
	storeFailed := make(chan error, 1)
	if s.as != nil {
		up := h.metrics.newStoreUp()
		go func() {
			if err := awaitStore(ctx, s.store, s.as, s.storeDown, up, log); err != nil {
				storeFailed <- err
				return
			}
			go gcStore(ctx, s.store, 10*time.Minute, log)
			watchStore(ctx, s.store, storeCheckInterval, up, log)
		}()
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:     h,
		ConnContext: h.ConnContext,
		// Headers must arrive within ReadHeaderTimeout and an idle connection closes
		// after IdleTimeout. The whole-request read and write deadlines are set per
		// request by the handler: every endpoint but /auth gets them.
		ReadHeaderTimeout: h.timeouts.readHeader,
		IdleTimeout:       h.timeouts.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	log.Info().Str("addr", ln.Addr().String()).Str("issuer", c.issuer).Str("version", version).
		Int("resources", len(s.policy.Resources())).Int("credential_kinds", len(s.authenticators)).Msg("mcpguard listening")
	fmt.Fprintf(stdout, "mcpguard listening on http://%s\n", ln.Addr())
	if s.generatedKey != "" {
		printQuickstart(stdout, ln.Addr().String(), s.generatedKey)
	}
	if s.as != nil {
		fmt.Fprintf(stdout, "authorization server %s (%s login): %s/.well-known/oauth-authorization-server\n",
			c.issuer, c.Provider, c.issuer)
		for _, r := range s.policy.Resources() {
			fmt.Fprintf(stdout, "protected resource %s: metadata at %s\n", r.URL(), r.MetadataURL())
		}
	}

	stopAdmin, err := startAdmin(h, stdout)
	if err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
		defer cancel()
		_ = stopAdmin(sctx)
		return fmt.Errorf("serve: %w", err)
	case err := <-storeFailed:
		// The store answered at last, and refused: a failed start-up, found late.
		log.Error().Err(err).Msg("mcpguard cannot start: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
		defer cancel()
		_ = stopAdmin(sctx)
		_ = srv.Shutdown(sctx)
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	log.Info().Msg("mcpguard shutting down")
	if err := stopAdmin(sctx); err != nil {
		return err
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// printQuickstart tells a first-time user the generated key and how to try it. The key
// goes to stdout once, never to the log.
func printQuickstart(w io.Writer, addr, key string) {
	_, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(w, `
No credentials are configured, so mcpguard generated an API key for this run:

  MCP_PROXY_API_KEY=%s

Ask /auth what your proxy would ask:

  curl -i http://localhost:%s/auth -H 'X-Forwarded-Proto: http' -H 'X-Forwarded-Host: localhost' \
       -H 'X-Forwarded-Method: POST' -H 'X-Forwarded-Uri: /mcp' -H 'X-API-Key: %s'

Without the key the answer is 401 with a WWW-Authenticate challenge; the protected-resource
metadata is at http://localhost:%s/.well-known/oauth-protected-resource/mcp
`, key, port, key, port)
}

// gcStore removes expired codes, tokens and registrations every interval until ctx ends.
func gcStore(ctx context.Context, st store.Store, every time.Duration, log zerolog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := st.GC(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn().Err(err).Msg("store gc failed")
			} else if n > 0 {
				log.Debug().Int("removed", n).Msg("store gc")
			}
		}
	}
}
