package oauth

// Starting the server: what needs the store to answer, done by New or, when the store
// could not be reached then, by a later Start.

import (
	"context"
	"errors"
	"net/http"

	"github.com/mcpguard/mcpguard/store"
)

// errNotStarted is Ready's answer until Start has succeeded.
var errNotStarted = errors.New("oauth: starting: the signing keys are loaded once the store answers")

// Start loads the signing keys, generating and storing the first one when the store
// has none, and starts the work that needs the store: the key reloads and rotations,
// and hearing the revocations other replicas publish. New calls it. Until it has
// succeeded every endpoint answers 503 temporarily_unavailable with Retry-After, Ready
// fails, and the verifier of AccessTokens answers the store's error for a token it has
// no key for.
//
// A store that cannot be reached gives an error wrapping store.ErrUnavailable: call
// Start again, with backoff, until it returns nil or another error, which is fatal (a
// key in the store that does not parse). Once started it returns nil at once. It is
// safe for concurrent use; the background work lives as long as New's ctx.
func (s *Server) Start(ctx context.Context) error {
	if s.started.Load() {
		return nil
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started.Load() {
		return nil
	}
	if err := s.initKeys(ctx); err != nil {
		return err
	}
	go s.keepKeys(s.flowCtx)
	if b, ok := s.cfg.Store.(store.Broadcaster); ok {
		go s.hearRevocations(s.flowCtx, b)
	}
	s.started.Store(true)
	return nil
}

// routeSet is where the parts of the server register their endpoints: the gatedMux
// of Routes, or a plain http.ServeMux.
type routeSet interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// gatedMux registers every endpoint on mux behind s.untilStarted.
type gatedMux struct {
	mux *http.ServeMux
	s   *Server
}

// Handle registers h for pattern, answering 503 until the server has started.
func (g gatedMux) Handle(pattern string, h http.Handler) {
	g.mux.Handle(pattern, g.s.untilStarted(h))
}

// HandleFunc registers h for pattern, answering 503 until the server has started.
func (g gatedMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	g.Handle(pattern, http.HandlerFunc(h))
}

// untilStarted answers 503 temporarily_unavailable (RFC 6749 §5.2), with Retry-After,
// until the server has started: there are no signing keys to sign or publish yet, and
// no endpoint can reach the store. CORS preflights are answered regardless, so that a
// browser-based client sees the 503 itself. The application logs the store's state
// once per change, so these answers write no log line of their own.
func (s *Server) untilStarted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.started.Load() || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		writeJSONError(w, http.StatusServiceUnavailable, codeTemporarilyUnavailable,
			"the authorization server is starting: its store has not answered yet; try again in a moment")
	})
}
