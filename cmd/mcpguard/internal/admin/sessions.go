package admin

// Browser sessions: list a person's, end one.

import (
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
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

// Revoked is the answer of a revoke action: how many records it removed in all, and
// of which kinds.
type Revoked struct {
	Revoked  int `json:"revoked"`
	Grants   int `json:"grants,omitempty"`
	Sessions int `json:"sessions,omitempty"`
	Consents int `json:"consents,omitempty"`
	// ClientDeleted: the client's registration was deleted from the store.
	ClientDeleted bool `json:"client_deleted,omitempty"`
	// TokensRefused: every access token of the person or client issued until now is
	// refused, on every replica sharing the store.
	TokensRefused bool   `json:"tokens_refused,omitempty"`
	Kind          string `json:"kind,omitempty"` // of a revoked client
	// Subjects: the subjects a person's revocation revoked, the user given first, then
	// those whose sessions or grants carry it as their email.
	Subjects []string `json:"subjects,omitempty"`
	Note     string   `json:"note,omitempty"` // what the revocation did not do
}

// revoked is the answer for n.
func revoked(n oauth.Revoked) Revoked {
	out := Revoked{Grants: n.Grants, Sessions: n.Sessions, Consents: n.Consents, ClientDeleted: n.Client, TokensRefused: n.Tokens}
	out.Revoked = n.Grants + n.Sessions + n.Consents
	if n.Client {
		out.Revoked++
	}
	return out
}

// handleListSessions answers GET /v1/sessions?user=USER with the live sessions of
// that person, oldest first. USER is a subject or an email: the sessions of every
// subject it names (see subjectsOf), each once.
func handleListSessions(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subjects, ok := userSubjects(c, w, r, true)
		if !ok {
			return
		}
		lists := make([][]store.Session, 0, len(subjects))
		for _, sub := range subjects {
			ss, err := c.Sessions.ListSessions(r.Context(), sub, c.Now())
			if err != nil {
				storeFailed(c, w, "list sessions", err)
				return
			}
			lists = append(lists, ss)
		}
		ss := mergeSessions(lists)
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
		id, ok := readID(w, r)
		if !ok {
			return
		}
		err := c.Sessions.DeleteSession(r.Context(), id)
		if failed(c, w, err, store.ErrNotFound, "no session has that id") {
			return
		}
		answer(c, w, r, "revoke_session", id, Revoked{Revoked: 1, Sessions: 1})
	})
}
