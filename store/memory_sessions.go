package store

import (
	"context"
	"time"
)

// CreateSession implements [SessionStore]; an ended session with the same ID is replaced.
func (m *memory) CreateSession(ctx context.Context, s Session) error {
	if err := s.validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if old, ok := m.sessions[s.ID]; ok && old.live(m.now()) {
		return ErrExists
	}
	m.sessions[s.ID] = s.clone()
	return nil
}

// GetSession implements [SessionStore].
func (m *memory) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	if err := m.lock(ctx); err != nil {
		return Session{}, err
	}
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || !s.live(now) {
		return Session{}, ErrNotFound
	}
	return s.clone(), nil
}

// TouchSession implements [SessionStore].
func (m *memory) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (Session, error) {
	if err := m.lock(ctx); err != nil {
		return Session{}, err
	}
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || !s.live(now) {
		return Session{}, ErrNotFound
	}
	s = touchedSession(s, now, idle)
	m.sessions[id] = s
	return s.clone(), nil
}

// DeleteSession implements [SessionStore].
func (m *memory) DeleteSession(ctx context.Context, id string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.sessions[id]; !ok {
		return ErrNotFound
	}
	delete(m.sessions, id)
	return nil
}

// ListSessions implements [SessionStore].
func (m *memory) ListSessions(ctx context.Context, subject string, now time.Time) ([]Session, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []Session
	for _, s := range m.sessions {
		if s.Identity.Subject == subject && s.live(now) {
			out = append(out, s.clone())
		}
	}
	sortSessions(out)
	return out, nil
}

// gcSessions deletes the sessions ended at now; the caller holds the mutex.
func (m *memory) gcSessions(now time.Time) int {
	n := 0
	for id, s := range m.sessions {
		if !s.live(now) {
			delete(m.sessions, id)
			n++
		}
	}
	return n
}
