package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// UseAssertionID implements [AssertionStore] with one INSERT: the primary key makes a
// second insert of the pair conflict, and the conflicting row is replaced only when it
// expired, so of two replicas racing one jti exactly one inserts or replaces a row.
func (p *postgresStore) UseAssertionID(ctx context.Context, issuer, jti string, exp time.Time) error {
	if err := checkAssertion(issuer, jti); err != nil {
		return err
	}
	return p.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO mcpguard_assertions (issuer, jti, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
			WHERE mcpguard_assertions.expires_at <= $4`, issuer, jti, exp, p.now())
		if err != nil {
			return pgError(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrReplayed
		}
		return nil
	})
}

// pgGCAssertions deletes the assertion records that expired at or before now.
const pgGCAssertions = "DELETE FROM mcpguard_assertions WHERE expires_at <= $1"
