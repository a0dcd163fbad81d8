package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListClients implements [GrantStore].
func (p *postgresStore) ListClients(ctx context.Context) ([]Client, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	rows, _ := p.db.Query(ctx, "SELECT data FROM mcpguard_clients WHERE expires_at IS NULL OR expires_at > $1", p.now())
	out, err := pgx.CollectRows(rows, pgx.RowTo[Client])
	if err != nil {
		return nil, pgError(err)
	}
	sortClients(out)
	return out, nil
}

// ListGrants implements [GrantStore]: the matching refresh tokens with their family's
// revocation, in one query.
func (p *postgresStore) ListGrants(ctx context.Context, subject, clientID string, now time.Time) ([]Grant, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	rows, _ := p.db.Query(ctx, `SELECT t.data, f.revoked_at IS NOT NULL
		FROM mcpguard_refresh_tokens t LEFT JOIN mcpguard_families f ON f.family_id = t.family_id
		WHERE ($1 = '' OR t.data->'Identity'->>'Subject' = $1) AND ($2 = '' OR t.data->>'ClientID' = $2)`, subject, clientID)
	tokens, revoked, err := tokensWithRevocation(rows)
	if err != nil {
		return nil, err
	}
	return grantsOf(tokens, subject, clientID, now, func(family string) bool { return revoked[family] }), nil
}

// tokensWithRevocation reads rows of (refresh token data, family revoked) into the
// tokens and whether each family is revoked.
func tokensWithRevocation(rows pgx.Rows) ([]RefreshToken, map[string]bool, error) {
	var (
		tokens  []RefreshToken
		revoked = map[string]bool{}
		t       RefreshToken
		rev     bool
	)
	_, err := pgx.ForEachRow(rows, []any{&t, &rev}, func() error {
		tokens = append(tokens, t)
		revoked[t.FamilyID] = revoked[t.FamilyID] || rev
		t = RefreshToken{}
		return nil
	})
	if err != nil {
		return nil, nil, pgError(err)
	}
	return tokens, revoked, nil
}

// DeleteConsents implements [GrantStore] in one statement.
func (p *postgresStore) DeleteConsents(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errNoConsentFilter
	}
	if err := p.begin(ctx); err != nil {
		return 0, err
	}
	tag, err := p.db.Exec(ctx, "DELETE FROM mcpguard_consents WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR client_id = $2)", subject, clientID)
	if err != nil {
		return 0, pgError(err)
	}
	return int(tag.RowsAffected()), nil
}
