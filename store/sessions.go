package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Session is a person's browser session at the authorization server. The cookie carries
// a random secret; the store keys the session by the secret's hash, so neither a copy of
// the store nor a listing of sessions gives anyone a cookie.
type Session struct {
	ID            string    // hex SHA-256 of the secret the cookie carries
	Identity      Identity  // who logged in
	CreatedAt     time.Time // the login
	LastUsedAt    time.Time
	ExpiresAt     time.Time // the absolute end: CreatedAt + SESSION_TTL
	IdleExpiresAt time.Time // LastUsedAt + SESSION_IDLE, never after ExpiresAt
	ClientAddr    string    // the address the login came from, for display
	UserAgent     string    // the browser's User-Agent at login, for display
}

// SessionStore keeps browser sessions. A session is live while now is before both its
// ExpiresAt and its IdleExpiresAt; an ended session is never returned, and GC deletes it.
type SessionStore interface {
	// CreateSession stores s; s needs ID, Identity.Subject, ExpiresAt and IdleExpiresAt.
	// ErrExists if a session has s.ID.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with id live at now; ErrNotFound if there is none.
	GetSession(ctx context.Context, id string, now time.Time) (Session, error)
	// TouchSession atomically checks the session with id is live at now, sets LastUsedAt
	// to now and IdleExpiresAt to now+idle (capped at ExpiresAt), and returns it.
	// ErrNotFound if there is no session live at now.
	TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (Session, error)
	// DeleteSession removes the session with id; ErrNotFound if there is none.
	DeleteSession(ctx context.Context, id string) error
	// ListSessions returns subject's sessions live at now, oldest CreatedAt first.
	ListSessions(ctx context.Context, subject string, now time.Time) ([]Session, error)
}

// errSessionIncomplete is returned by CreateSession for a session missing a required field.
var errSessionIncomplete = errors.New("store: session needs an id, a subject and both expiries")

// validate checks what every backend needs before storing s.
func (s Session) validate() error {
	if s.ID == "" || s.Identity.Subject == "" || s.ExpiresAt.IsZero() || s.IdleExpiresAt.IsZero() {
		return errSessionIncomplete
	}
	return nil
}

// clone returns a deep copy of s.
func (s Session) clone() Session {
	s.Identity = s.Identity.clone()
	return s
}

// end is when s ends unless it is used again.
func (s Session) end() time.Time {
	if s.IdleExpiresAt.Before(s.ExpiresAt) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}

// live reports whether s has not ended at now.
func (s Session) live(now time.Time) bool {
	return !expired(s.end(), now)
}

// touchedSession is s used at now, its idle expiry pushed to now+idle, capped at ExpiresAt.
func touchedSession(s Session, now time.Time, idle time.Duration) Session {
	s.LastUsedAt = now
	s.IdleExpiresAt = now.Add(idle)
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		s.IdleExpiresAt = s.ExpiresAt
	}
	return s
}

// sortSessions orders sessions oldest first, then by ID, the same in every backend.
func sortSessions(ss []Session) {
	slices.SortStableFunc(ss, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
