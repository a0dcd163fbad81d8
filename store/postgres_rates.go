package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// TakeToken implements [RateStore] with one upsert: the conflict locks the row of key,
// so racing replicas take one after the other, and the update runs only while the
// bucket has a token. Times are Unix microseconds (store/rates.go).
func (p *postgresStore) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, time.Duration, error) {
	if err := checkRate(key, perMinute); err != nil {
		return false, 0, err
	}
	if err := p.begin(ctx); err != nil {
		return false, 0, err
	}
	interval, tolerance := rateParams(perMinute)
	n := now.UnixMicro()
	var tat int64
	err := p.db.QueryRow(ctx, `INSERT INTO mcpguard_rates (key, tat) VALUES ($1, $2::bigint + $3::bigint)
		ON CONFLICT (key) DO UPDATE SET tat = GREATEST(mcpguard_rates.tat, $2::bigint) + $3::bigint
		WHERE GREATEST(mcpguard_rates.tat, $2::bigint) - $2::bigint <= $4::bigint
		RETURNING tat`, key, n, interval.Microseconds(), tolerance.Microseconds()).Scan(&tat)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, 0, pgError(err)
	}
	// Refused: how long until a token is back is read apart; it only informs Retry-After.
	err = p.db.QueryRow(ctx, "SELECT tat FROM mcpguard_rates WHERE key = $1", key).Scan(&tat)
	if errors.Is(err, pgx.ErrNoRows) { // collected since: the bucket refilled
		return false, interval, nil
	}
	if err != nil {
		return false, 0, pgError(err)
	}
	return false, max(time.Duration(tat-n)*time.Microsecond-tolerance, 0), nil
}

// pgGCRates deletes the buckets that are full again ($1: now in Unix microseconds).
const pgGCRates = "DELETE FROM mcpguard_rates WHERE tat <= $1"
