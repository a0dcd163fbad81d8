package admin

// Browser sessions: list a person's, end one.

import (
	"errors"
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// Session is one browser session as the admin API shows it.
type Session struct {
	ID         string    `json:"id"`
	Subject    string    `json:"subject"`
	Email      string    `json:"email,omitempty"`
	Created    time.Time `json:"created"`
	LastUsed   time.Time `json:"last_used"`
	Expires    time.Time `json:"expires"`
	ClientAddr string    `json:"client_addr,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
}

// Sessions is the answer of GET /v1/sessions.
type Sessions struct {
	Sessions []Session `json:"sessions"`
}

// RevokeRequest is the body of a revoke action: the id of what to revoke.
type RevokeRequest struct {
	ID string `json:"id"`
}

// Revoked is the answer of a revoke action: how many records it removed.
type Revoked struct {
	Revoked int `json:"revoked"`
}

// handleListSessions answers GET /v1/sessions?user=SUBJECT with the live sessions of
// that subject, oldest first.
func handleListSessions(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			writeError(w, http.StatusBadRequest, "user is required: ?user=SUBJECT")
			return
		}
		ss, err := c.Sessions.ListSessions(r.Context(), user, c.Now())
		if err != nil {
			c.Log.Error().Err(err).Msg("admin: list sessions")
			writeError(w, http.StatusServiceUnavailable, "the store did not answer")
			return
		}
		out := Sessions{Sessions: make([]Session, 0, len(ss))}
		for _, s := range ss {
			exp := s.ExpiresAt
			if s.IdleExpiresAt.Before(exp) {
				exp = s.IdleExpiresAt
			}
			out.Sessions = append(out.Sessions, Session{
				ID: s.ID, Subject: s.Identity.Subject, Email: s.Identity.Email,
				Created: s.CreatedAt, LastUsed: s.LastUsedAt, Expires: exp,
				ClientAddr: s.ClientAddr, UserAgent: s.UserAgent,
			})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleRevokeSession answers POST /v1/sessions/revoke {"id": ID}: the session is
// deleted from the store, so its cookie logs no one in on any replica sharing it.
func handleRevokeSession(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req RevokeRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.ID == "" {
			writeError(w, http.StatusBadRequest, "id is required")
			return
		}
		err := c.Sessions.DeleteSession(r.Context(), req.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "no session has that id")
			return
		case err != nil:
			c.Log.Error().Err(err).Msg("admin: delete session")
			writeError(w, http.StatusServiceUnavailable, "the store did not answer")
			return
		}
		audit(c, "revoke_session", req.ID, 1)
		writeJSON(w, http.StatusOK, Revoked{Revoked: 1})
	})
}

// audit writes the one line an action leaves and counts it.
func audit(c Config, action, target string, records int) {
	c.Actions.WithLabelValues(action).Inc()
	c.Log.Info().Str("audit", "admin").Str("who", "admin").Str("action", action).
		Str("target", target).Int("records", records).Msg("admin action")
}
