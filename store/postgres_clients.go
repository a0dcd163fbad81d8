package store

// The registered clients in PostgreSQL.

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreateClient implements [Store]; an expired client with the same ID is replaced, in
// one statement.
func (p *postgresStore) CreateClient(ctx context.Context, c Client) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := p.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(c)
	if err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, `INSERT INTO mcpguard_clients (id, data, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at
		WHERE mcpguard_clients.expires_at <= $4`, c.ID, raw, nullTime(c.ExpiresAt), p.now())
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// liveClient returns the client with id, its row locked until tx ends, unless it is missing or expired at now.
func (p *postgresStore) liveClient(ctx context.Context, tx pgx.Tx, id string, now time.Time) (Client, bool, error) {
	c, ok, err := scanJSON[Client](tx.QueryRow(ctx, "SELECT data FROM mcpguard_clients WHERE id = $1 FOR UPDATE", id))
	if err != nil || !ok || expired(c.ExpiresAt, now) {
		return Client{}, false, err
	}
	return c, true, nil
}

// GetClient implements [Store].
func (p *postgresStore) GetClient(ctx context.Context, id string) (Client, error) {
	if err := p.begin(ctx); err != nil {
		return Client{}, err
	}
	c, ok, err := scanJSON[Client](p.db.QueryRow(ctx, "SELECT data FROM mcpguard_clients WHERE id = $1", id))
	switch {
	case err != nil:
		return Client{}, err
	case !ok || expired(c.ExpiresAt, p.now()):
		return Client{}, ErrNotFound
	}
	return c, nil
}

// TouchClient implements [Store].
func (p *postgresStore) TouchClient(ctx context.Context, id string, now time.Time, ttl time.Duration) error {
	return p.inTx(ctx, func(tx pgx.Tx) error {
		c, ok, err := p.liveClient(ctx, tx, id, now)
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		c = touched(c, now, ttl)
		raw, err := encode(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE mcpguard_clients SET data = $2, expires_at = $3 WHERE id = $1", id, raw, nullTime(c.ExpiresAt)); err != nil {
			return pgError(err)
		}
		return nil
	})
}

// DeleteClient implements [Store].
func (p *postgresStore) DeleteClient(ctx context.Context, id string) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, "DELETE FROM mcpguard_clients WHERE id = $1", id)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// CountClients implements [Store].
func (p *postgresStore) CountClients(ctx context.Context) (int, error) {
	if err := p.begin(ctx); err != nil {
		return 0, err
	}
	var n int
	err := p.db.QueryRow(ctx, "SELECT count(*) FROM mcpguard_clients WHERE expires_at IS NULL OR expires_at > $1", p.now()).Scan(&n)
	if err != nil {
		return 0, pgError(err)
	}
	return n, nil
}
