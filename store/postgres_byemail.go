package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlFold is the SQL expression expr folded exactly as foldEmail folds: translate()
// maps only A-Z, where lower() would fold by the database's locale.
func sqlFold(expr string) string {
	return "translate(" + expr + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

// SubjectsByEmail implements [GrantStore]: the live sessions with a matching email,
// then the unexpired refresh tokens with one and their family's revocation;
// subjectsWithEmail applies the same rules as in every backend. A listing, not one
// transaction.
func (p *postgresStore) SubjectsByEmail(ctx context.Context, email string, now time.Time) ([]string, error) {
	folded := foldEmail(email)
	if folded == "" {
		return nil, errNoEmail
	}
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	rows, _ := p.db.Query(ctx, "SELECT data FROM mcpguard_sessions WHERE ends_at > $2 AND "+
		sqlFold("data->'Identity'->>'Email'")+" = $1", folded, now)
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, pgError(err)
	}
	sessions := make([]Session, 0, len(raws))
	for _, raw := range raws {
		s, err := decodeSession(raw)
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, s)
	}
	rows, _ = p.db.Query(ctx, `SELECT t.data, f.revoked_at IS NOT NULL
		FROM mcpguard_refresh_tokens t LEFT JOIN mcpguard_families f ON f.family_id = t.family_id
		WHERE t.expires_at > $2 AND `+sqlFold("t.data->'Identity'->>'Email'")+" = $1", folded, now)
	tokens, revoked, err := tokensWithRevocation(rows)
	if err != nil {
		return nil, err
	}
	return subjectsWithEmail(folded, sessions, tokens, now, func(family string) bool { return revoked[family] }), nil
}
