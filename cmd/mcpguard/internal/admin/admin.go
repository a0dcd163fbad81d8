// Package admin is mcpguard's admin API: the JSON endpoints an operator (or `mcpguard
// admin`) calls on a listener of their own to see who holds what (clients, grants,
// browser sessions) and to revoke a session, a grant, a client or a person.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
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
	// Grants lists the grants people and clients hold.
	Grants store.GrantStore
	// Server revokes grants, clients and people, and knows the configured clients.
	Server Revoker
	// Log receives one audit line per action.
	Log zerolog.Logger
	// Actions counts actions by name; New registers nothing, the caller does.
	Actions *prometheus.CounterVec
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Revoker is what the admin API asks of the authorization server (an *oauth.Server).
type Revoker interface {
	Clients(ctx context.Context) ([]store.Client, error)
	RevokeGrant(ctx context.Context, id, subject string) (store.Grant, oauth.Revoked, error)
	RevokeClient(ctx context.Context, id string) (kind string, n oauth.Revoked, err error)
	RevokePerson(ctx context.Context, subject string) (oauth.Revoked, error)
}

// NewActionsCounter makes mcpguard_admin_actions_total{action}.
func NewActionsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpguard_admin_actions_total",
		Help: "Actions taken through the admin API, by action (revoke_session, revoke_grant, revoke_client, revoke_person).",
	}, []string{"action"})
}

// New returns the admin API's handler. Every request needs Authorization: Bearer Token.
func New(c Config) (http.Handler, error) {
	if len(c.Token) < MinTokenLen {
		return nil, fmt.Errorf("admin: the token must be at least %d characters long", MinTokenLen)
	}
	if c.Sessions == nil || c.Grants == nil {
		return nil, errors.New("admin: no session or grant store")
	}
	if c.Server == nil {
		return nil, errors.New("admin: no authorization server")
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
	mux.Handle("GET /v1/clients", handleListClients(c))
	mux.Handle("GET /v1/grants", handleListGrants(c))
	mux.Handle("GET /v1/sessions", handleListSessions(c))
	mux.Handle("POST /v1/sessions/revoke", handleRevokeSession(c))
	mux.Handle("POST /v1/grants/revoke", handleRevokeGrant(c))
	mux.Handle("POST /v1/clients/revoke", handleRevokeClient(c))
	mux.Handle("POST /v1/people/revoke", handleRevokePerson(c))
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

// readID reads the body {"id": ID} of a revoke action; on failure it has answered.
func readID(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req RevokeRequest
	if !readJSON(w, r, &req) {
		return "", false
	}
	if req.ID == "" {
		writeError(w, http.StatusBadRequest, "id is required")
		return "", false
	}
	return req.ID, true
}

// failed answers err, when there is one: 404 with notFoundMsg when it is notFound,
// otherwise 503 (the store failed; the log gets the cause). It reports whether it
// answered.
func failed(c Config, w http.ResponseWriter, err, notFound error, notFoundMsg string) bool {
	switch {
	case err == nil:
		return false
	case notFound != nil && errors.Is(err, notFound):
		writeError(w, http.StatusNotFound, notFoundMsg)
	default:
		storeFailed(c, w, "revoke", err)
	}
	return true
}

// storeFailed answers 503 for a failure of the store, which the log gets.
func storeFailed(c Config, w http.ResponseWriter, what string, err error) {
	c.Log.Error().Err(err).Msg("admin: " + what)
	writeError(w, http.StatusServiceUnavailable, "the store did not answer")
}

// answer writes out, the answer of action on target, after its audit line.
func answer(c Config, w http.ResponseWriter, r *http.Request, action, target string, out Revoked) {
	audit(c, r, action, target, out.Revoked, out.Subjects...)
	writeJSON(w, http.StatusOK, out)
}

// audit writes the one line an action leaves and counts it: who (the admin API and
// the caller's address), what, on what, how many records, and for a person the
// subjects revoked. Never a token.
func audit(c Config, r *http.Request, action, target string, records int, subjects ...string) {
	c.Actions.WithLabelValues(action).Inc()
	ev := c.Log.Info().Str("audit", "admin").Str("who", "admin API").Str("remote_addr", r.RemoteAddr).
		Str("action", action).Str("target", target).Int("records", records)
	if len(subjects) > 0 {
		ev = ev.Strs("subjects", subjects)
	}
	ev.Msg("admin action")
}
