package store

import (
	"context"
	"time"
)

// AcquireLease implements [RotationStore] in one INSERT ... ON CONFLICT statement: the
// conflicting row is locked while its WHERE is checked, so two replicas racing get one
// winner.
func (p *postgresStore) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, err
	}
	if err := p.begin(ctx); err != nil {
		return false, err
	}
	tag, err := p.db.Exec(ctx, `INSERT INTO mcpguard_leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
		WHERE mcpguard_leases.holder = EXCLUDED.holder OR mcpguard_leases.expires_at <= $4`,
		name, holder, now.Add(ttl), now)
	if err != nil {
		return false, pgError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteSigningKey implements [RotationStore].
func (p *postgresStore) DeleteSigningKey(ctx context.Context, id string) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, "DELETE FROM mcpguard_signing_keys WHERE id = $1", id)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
