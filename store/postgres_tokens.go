package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreateAuthCode implements [Store].
func (p *postgresStore) CreateAuthCode(ctx context.Context, c AuthCode) error {
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
	tag, err := p.db.Exec(ctx, "INSERT INTO mcpguard_auth_codes (code_hash, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		c.CodeHash, raw, c.ExpiresAt)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// UseAuthCode implements [Store]: the code's row is locked, checked and marked used in
// one transaction, so of two replicas racing for a code exactly one marks it.
func (p *postgresStore) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (c AuthCode, err error) {
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		var ok bool
		if c, ok, err = scanJSON[AuthCode](tx.QueryRow(ctx, "SELECT data FROM mcpguard_auth_codes WHERE code_hash = $1 FOR UPDATE", codeHash)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := useCheck(c, now); err != nil {
			return err
		}
		c.UsedAt = now
		raw, err := encode(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE mcpguard_auth_codes SET data = $2 WHERE code_hash = $1", codeHash, raw); err != nil {
			return pgError(err)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return AuthCode{}, err
	}
	return c, err
}

// lockFamily creates familyID's row if needed, locks it until tx ends and reports
// whether the family is revoked. Every change to a family's tokens starts here.
func lockFamily(ctx context.Context, tx pgx.Tx, familyID string) (revoked bool, err error) {
	var at *time.Time
	err = tx.QueryRow(ctx, `INSERT INTO mcpguard_families (family_id) VALUES ($1)
		ON CONFLICT (family_id) DO UPDATE SET family_id = EXCLUDED.family_id RETURNING revoked_at`, familyID).Scan(&at)
	if err != nil {
		return false, pgError(err)
	}
	return at != nil, nil
}

// insertToken stores t, whose family tx has locked and found not revoked.
func insertToken(ctx context.Context, tx pgx.Tx, t RefreshToken) error {
	raw, err := encode(t)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO mcpguard_refresh_tokens (token_hash, family_id, data, expires_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, t.TokenHash, t.FamilyID, raw, t.ExpiresAt)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// CreateRefreshToken implements [Store].
func (p *postgresStore) CreateRefreshToken(ctx context.Context, t RefreshToken) error {
	if err := t.validate(); err != nil {
		return err
	}
	return p.inTx(ctx, func(tx pgx.Tx) error {
		if revoked, err := lockFamily(ctx, tx, t.FamilyID); err != nil {
			return err
		} else if revoked {
			return ErrRevoked
		}
		return insertToken(ctx, tx, t)
	})
}

// RotateRefreshToken implements [Store]: one transaction that locks the family's row,
// then the old token's, decides, and writes next, old's RotatedAt or the family's revocation.
func (p *postgresStore) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time, grace time.Duration) (old RefreshToken, err error) {
	var reused bool
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		var familyID string
		err := tx.QueryRow(ctx, "SELECT family_id FROM mcpguard_refresh_tokens WHERE token_hash = $1", oldHash).Scan(&familyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return pgError(err)
		}
		revoked, err := lockFamily(ctx, tx, familyID)
		if err != nil {
			return err
		}
		var ok bool
		if old, ok, err = scanJSON[RefreshToken](tx.QueryRow(ctx, "SELECT data FROM mcpguard_refresh_tokens WHERE token_hash = $1 FOR UPDATE", oldHash)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		err = rotateCheck(old, revoked, now, grace)
		if errors.Is(err, ErrTokenReused) {
			// Commit the revocation, then report the reuse.
			reused = true
			if old.RevokedAt.IsZero() {
				old.RevokedAt = now
			}
			return revokeFamilyLocked(ctx, tx, familyID, now)
		} else if err != nil {
			return err
		}
		if next, err = nextToken(old, next); err != nil {
			return err
		}
		if err := insertToken(ctx, tx, next); err != nil {
			return err
		}
		if !old.RotatedAt.IsZero() {
			return nil
		}
		rotated := old
		rotated.RotatedAt = now
		raw, err := encode(rotated)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE mcpguard_refresh_tokens SET data = $2 WHERE token_hash = $1", oldHash, raw); err != nil {
			return pgError(err)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return RefreshToken{}, err
	case err == nil && reused:
		return old, ErrTokenReused
	}
	return old, err
}

// GetRefreshToken implements [Store].
func (p *postgresStore) GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	if err := p.begin(ctx); err != nil {
		return RefreshToken{}, err
	}
	t, ok, err := scanJSON[RefreshToken](p.db.QueryRow(ctx, "SELECT data FROM mcpguard_refresh_tokens WHERE token_hash = $1", hash))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return t, err
}

// RevokeFamily implements [Store]: the family's row is locked first, so a rotation
// racing the revocation either committed before (and its new token is revoked here) or
// waits and then finds the family revoked.
func (p *postgresStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	if familyID == "" {
		return errNoFamily
	}
	return p.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockFamily(ctx, tx, familyID); err != nil {
			return err
		}
		return revokeFamilyLocked(ctx, tx, familyID, now)
	})
}

// revokeFamilyLocked records familyID, whose row tx holds, as revoked (keeping the first
// time) and revokes its tokens.
func revokeFamilyLocked(ctx context.Context, tx pgx.Tx, familyID string, now time.Time) error {
	if _, err := tx.Exec(ctx, "UPDATE mcpguard_families SET revoked_at = COALESCE(revoked_at, $2) WHERE family_id = $1", familyID, now); err != nil {
		return pgError(err)
	}
	at, err := now.MarshalText() // as encoding/json writes a time
	if err != nil {
		return pgError(err)
	}
	zero, _ := time.Time{}.MarshalText()
	_, err = tx.Exec(ctx, `UPDATE mcpguard_refresh_tokens SET data = jsonb_set(data, '{RevokedAt}', to_jsonb($2::text))
		WHERE family_id = $1 AND data->>'RevokedAt' = $3`, familyID, string(at), string(zero))
	if err != nil {
		return pgError(err)
	}
	return notify(ctx, tx, Revocation{Family: familyID})
}

// notify publishes rev to every replica's Subscribe when tx commits.
func notify(ctx context.Context, tx pgx.Tx, rev Revocation) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", revocationChannel, rev.payload()); err != nil {
		return pgError(err)
	}
	return nil
}

// FamilyRevoked implements [Store].
func (p *postgresStore) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	if err := p.begin(ctx); err != nil {
		return false, err
	}
	var ok bool
	err := p.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM mcpguard_families WHERE family_id = $1 AND revoked_at IS NOT NULL)", familyID).Scan(&ok)
	if err != nil {
		return false, pgError(err)
	}
	return ok, nil
}

// GC implements [Store] in one transaction under an advisory lock: when another replica
// is collecting, GC returns 0 at once. Tokens go before revoked families, so a family
// whose last token expires now can go in the same pass. Rows of unrevoked families with
// no token left go too, uncounted: they are only what rotations lock.
func (p *postgresStore) GC(ctx context.Context, now time.Time) (n int, err error) {
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", pgGCLock).Scan(&mine); err != nil {
			return pgError(err)
		}
		if !mine {
			return nil
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"DELETE FROM mcpguard_clients WHERE expires_at <= $1", []any{now}},
			{"DELETE FROM mcpguard_auth_codes WHERE expires_at <= $1", []any{now}},
			{"DELETE FROM mcpguard_refresh_tokens WHERE expires_at <= $1", []any{now}},
			{`DELETE FROM mcpguard_families f WHERE revoked_at <= $1
				AND NOT EXISTS (SELECT 1 FROM mcpguard_refresh_tokens t WHERE t.family_id = f.family_id)`, []any{now.Add(-familyRetention)}},
			{"DELETE FROM mcpguard_access_denylist WHERE expires_at <= $1", []any{now}},
			{pgGCAssertions, []any{now}},
			{pgGCRates, []any{now.UnixMicro()}},
			{pgGCSubjects, []any{now}},
			{"DELETE FROM mcpguard_sessions WHERE ends_at <= $1", []any{now}},
		} {
			tag, err := tx.Exec(ctx, q.sql, q.args...)
			if err != nil {
				return pgError(err)
			}
			n += int(tag.RowsAffected())
		}
		_, err := tx.Exec(ctx, `DELETE FROM mcpguard_families WHERE family_id IN (
			SELECT family_id FROM mcpguard_families f WHERE revoked_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM mcpguard_refresh_tokens t WHERE t.family_id = f.family_id)
			FOR UPDATE SKIP LOCKED)`)
		if err != nil {
			return pgError(err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
