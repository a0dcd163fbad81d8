package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// RevokeSubject implements [SubjectStore] with one upsert keeping the later moment and
// the longer retention; every replica hears of it (Subscribe) when it commits.
func (p *postgresStore) RevokeSubject(ctx context.Context, subject string, at, until time.Time) error {
	if subject == "" {
		return errNoSubject
	}
	return p.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mcpguard_subject_revocations (subject, revoked_at, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (subject) DO UPDATE SET
				revoked_at = GREATEST(mcpguard_subject_revocations.revoked_at, EXCLUDED.revoked_at),
				expires_at = GREATEST(mcpguard_subject_revocations.expires_at, EXCLUDED.expires_at)`, subject, at, until)
		if err != nil {
			return pgError(err)
		}
		return notify(ctx, tx, Revocation{Subject: subject, At: at, Expires: until})
	})
}

// SubjectRevokedAt implements [SubjectStore].
func (p *postgresStore) SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error) {
	if err := p.begin(ctx); err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err := p.db.QueryRow(ctx, "SELECT revoked_at FROM mcpguard_subject_revocations WHERE subject = $1 AND expires_at > $2",
		subject, p.now()).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, pgError(err)
	}
	return at, nil
}

// pgGCSubjects deletes the subject revocations kept until at or before now.
const pgGCSubjects = "DELETE FROM mcpguard_subject_revocations WHERE expires_at <= $1"

// TokenRevoked implements [TokenChecker] in one query.
func (p *postgresStore) TokenRevoked(ctx context.Context, c TokenCheck) (bool, error) {
	if err := p.begin(ctx); err != nil {
		return false, err
	}
	var revoked bool
	err := p.db.QueryRow(ctx, `SELECT
		($1 <> '' AND EXISTS (SELECT 1 FROM mcpguard_access_denylist WHERE jti = $1))
		OR ($2 <> '' AND EXISTS (SELECT 1 FROM mcpguard_families WHERE family_id = $2 AND revoked_at IS NOT NULL))
		OR EXISTS (SELECT 1 FROM mcpguard_subject_revocations
			WHERE subject = ANY($3) AND subject <> '' AND expires_at > $4 AND revoked_at >= $5)`,
		c.JTI, c.Family, c.Subjects, p.now(), c.IssuedAt).Scan(&revoked)
	if err != nil {
		return false, pgError(err)
	}
	return revoked, nil
}
