package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreateSession implements [SessionStore]: one statement, which replaces an ended session
// with the same ID and leaves a live one alone.
func (p *postgresStore) CreateSession(ctx context.Context, s Session) error {
	if err := s.validate(); err != nil {
		return err
	}
	if err := p.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(s)
	if err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, `INSERT INTO mcpguard_sessions (id, subject, data, ends_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET subject = EXCLUDED.subject, data = EXCLUDED.data, ends_at = EXCLUDED.ends_at
		WHERE mcpguard_sessions.ends_at <= $5`, s.ID, s.Identity.Subject, raw, s.end(), p.now())
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// GetSession implements [SessionStore].
func (p *postgresStore) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	if err := p.begin(ctx); err != nil {
		return Session{}, err
	}
	s, ok, err := scanJSON[Session](p.db.QueryRow(ctx, "SELECT data FROM mcpguard_sessions WHERE id = $1 AND ends_at > $2", id, now))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return s, err
}

// TouchSession implements [SessionStore]: a transaction that locks the session's row
// (SELECT ... FOR UPDATE) before it decides.
func (p *postgresStore) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (s Session, err error) {
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		var ok bool
		s, ok, err = scanJSON[Session](tx.QueryRow(ctx, "SELECT data FROM mcpguard_sessions WHERE id = $1 AND ends_at > $2 FOR UPDATE", id, now))
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		s = touchedSession(s, now, idle)
		raw, err := encode(s)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE mcpguard_sessions SET data = $2, ends_at = $3 WHERE id = $1", id, raw, s.end()); err != nil {
			return pgError(err)
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// DeleteSession implements [SessionStore].
func (p *postgresStore) DeleteSession(ctx context.Context, id string) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, "DELETE FROM mcpguard_sessions WHERE id = $1", id)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ListSessions implements [SessionStore].
func (p *postgresStore) ListSessions(ctx context.Context, subject string, now time.Time) ([]Session, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	rows, _ := p.db.Query(ctx, "SELECT data FROM mcpguard_sessions WHERE subject = $1 AND ends_at > $2", subject, now)
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, pgError(err)
	}
	var out []Session
	for _, raw := range raws {
		s, err := decodeSession(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sortSessions(out)
	return out, nil
}

// decodeSession decodes a session row's data.
func decodeSession(raw []byte) (s Session, err error) {
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("store: decode a postgres record %T: %w", s, err)
	}
	return s, nil
}
