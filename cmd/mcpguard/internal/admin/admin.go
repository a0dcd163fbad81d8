// Package admin is mcpguard's admin API: the JSON endpoints an operator (or `mcpguard
// admin`) calls on a listener of their own to see and end people's browser sessions.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// MinTokenLen is the shortest admin token New accepts.
const MinTokenLen = 32

// maxBody bounds the JSON body of an action.
const maxBody = 8 << 10

// Config is what the admin API needs.
type Config struct {
	// Token is the bearer token every request must present; at least MinTokenLen long.
	Token string
	// Sessions are the authorization server's browser sessions.
	Sessions store.SessionStore
	// Log receives one audit line per action.
	Log zerolog.Logger
	// Actions counts actions by name; New registers nothing, the caller does.
	Actions *prometheus.CounterVec
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewActionsCounter makes mcpguard_admin_actions_total{action}.
func NewActionsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpguard_admin_actions_total",
		Help: "Actions taken through the admin API, by action (revoke_session).",
	}, []string{"action"})
}

// New returns the admin API's handler. Every request needs Authorization: Bearer Token.
func New(c Config) (http.Handler, error) {
	if len(c.Token) < MinTokenLen {
		return nil, fmt.Errorf("admin: the token must be at least %d characters long", MinTokenLen)
	}
	if c.Sessions == nil {
		return nil, errors.New("admin: no session store")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Actions == nil {
		c.Actions = NewActionsCounter()
	}
	mux := http.NewServeMux()
	addRoutes(mux, c)
	return requireToken(c.Token)(mux), nil
}

// addRoutes lists the admin API's whole surface.
func addRoutes(mux *http.ServeMux, c Config) {
	mux.Handle("GET /v1/sessions", handleListSessions(c))
	mux.Handle("POST /v1/sessions/revoke", handleRevokeSession(c))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	}))
}

// requireToken answers 401 to a request without Authorization: Bearer token. The
// comparison is of SHA-256 digests in constant time, so neither the content nor the
// length of the token leaks through timing.
func requireToken(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := r.Header.Get("Authorization")
			const prefix = "Bearer "
			ok := len(got) > len(prefix) && got[:len(prefix)] == prefix
			sum := sha256.Sum256([]byte(got[min(len(got), len(prefix)):]))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mcpguard-admin"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong admin token")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// errorBody is every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// writeError writes status with msg, the message the CLI shows.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes r's body of at most maxBody bytes into v, refusing unknown fields
// and trailing data; on failure it has written the answer and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body is not the expected JSON object")
		return false
	}
	return true
}
