package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the PostgreSQL schema, one file per version, applied in name order.
//
//go:embed migrations/postgres/*.sql
var migrations embed.FS

// Advisory lock keys ("mcpguard" in ASCII, then 1 and 2): one replica at a time applies
// migrations, and one at a time collects garbage.
const (
	pgMigrateLock int64 = 0x6d6370677561_01
	pgGCLock      int64 = 0x6d6370677561_02
)

// postgresStore is the postgres:// backend: a pgx connection pool. Each multi-step
// method is one transaction whose rows are locked (SELECT ... FOR UPDATE, or the row an
// INSERT ... ON CONFLICT DO UPDATE takes) before they are read for a decision; every
// refresh-token change of a family locks the family's row first, so rotations and the
// revocation of one family run one after another across every replica.
type postgresStore struct {
	db      *pgxpool.Pool
	now     func() time.Time
	closed  atomic.Bool
	started deferredStart // the migrations, done by New or by Start
}

// openPostgres makes a pool for the database the DSN names and, unless later,
// migrates its schema (later leaves that to [Start]).
func openPostgres(ctx context.Context, dsn string, now func() time.Time, later bool) (*postgresStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message repeats the DSN with the password hidden as well as it can; only
		// the cause is kept, never the DSN.
		if cause := errors.Unwrap(err); cause != nil {
			return nil, fmt.Errorf("store: postgres DSN cannot be parsed (%s): %w", supportedDSNs, cause)
		}
		return nil, fmt.Errorf("store: postgres DSN cannot be parsed (%s)", supportedDSNs)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg) // connects on first use
	if err != nil {
		return nil, pgError(err)
	}
	p := &postgresStore{db: db, now: now}
	p.started.backend = "postgres"
	p.started.pending.Store(true)
	if later {
		return p, nil
	}
	if err := p.start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return p, nil
}

// pgError wraps an error from pgx, as ErrUnavailable when the server could not be reached.
func pgError(err error) error {
	if u := unavailable("postgres", err); u != nil {
		return u
	}
	return fmt.Errorf("store: postgres: %w", err)
}

// migrate applies the embedded migrations not applied yet, under an advisory lock so
// that replicas starting together apply each exactly once.
func (p *postgresStore) migrate(ctx context.Context) error {
	conn, err := p.db.Acquire(ctx)
	if err != nil {
		return pgError(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", pgMigrateLock); err != nil {
		return pgError(err)
	}
	defer func() { _, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", pgMigrateLock) }()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS mcpguard_schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return pgError(err)
	}
	rows, _ := conn.Query(ctx, "SELECT version FROM mcpguard_schema_migrations")
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return pgError(err)
	}
	files, err := fs.Glob(migrations, "migrations/postgres/*.sql")
	if err != nil {
		return fmt.Errorf("store: postgres migrations: %w", err)
	}
	slices.Sort(files)
	latest := 0
	for _, f := range files {
		num, _, _ := strings.Cut(path.Base(f), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("store: postgres migration %q has no version number", f)
		}
		latest = max(latest, v)
		if slices.Contains(applied, v) {
			continue
		}
		sql, err := migrations.ReadFile(f)
		if err != nil {
			return fmt.Errorf("store: postgres migration %q: %w", f, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO mcpguard_schema_migrations (version) VALUES ($1)", v)
			return err
		})
		if err != nil {
			return pgError(fmt.Errorf("migration %q: %w", f, err))
		}
	}
	if newest := slices.Max(append(applied, 0)); newest > latest {
		return fmt.Errorf("store: postgres database has schema version %d, this mcpguard knows up to %d", newest, latest)
	}
	return nil
}

// begin fails when ctx is done or the store closed.
func (p *postgresStore) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if p.closed.Load() {
		return errClosed
	}
	return p.started.check()
}

// inTx runs fn in one transaction, committed when fn returns nil. Errors from fn pass
// through unchanged; errors from pgx itself are wrapped.
func (p *postgresStore) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	tx, err := p.db.Begin(ctx)
	if err != nil {
		return pgError(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError(err)
	}
	return nil
}

// nullTime is t for a nullable column: nil for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// scanJSON decodes the one jsonb column row returns; ok is false when there is no row.
func scanJSON[T any](row pgx.Row) (v T, ok bool, err error) {
	var raw []byte
	if err := row.Scan(&raw); errors.Is(err, pgx.ErrNoRows) {
		return v, false, nil
	} else if err != nil {
		return v, false, pgError(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("store: decode a postgres record %T: %w", v, err)
	}
	return v, true, nil
}

// RevokeAccessToken implements [Store]; a second call keeps the later expiry.
func (p *postgresStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errNoJTI
	}
	return p.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mcpguard_access_denylist (jti, expires_at) VALUES ($1, $2)
			ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(mcpguard_access_denylist.expires_at, EXCLUDED.expires_at)`, jti, expiresAt)
		if err != nil {
			return pgError(err)
		}
		return notify(ctx, tx, Revocation{JTI: jti, Expires: expiresAt})
	})
}

// AccessTokenRevoked implements [Store]. An entry past its expiry still answers true
// until GC removes it: the token it names is expired anyway.
func (p *postgresStore) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if err := p.begin(ctx); err != nil {
		return false, err
	}
	var ok bool
	if err := p.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM mcpguard_access_denylist WHERE jti = $1)", jti).Scan(&ok); err != nil {
		return false, pgError(err)
	}
	return ok, nil
}

// PutConsent implements [Store].
func (p *postgresStore) PutConsent(ctx context.Context, c Consent) error {
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
	_, err = p.db.Exec(ctx, `INSERT INTO mcpguard_consents (subject, client_id, data) VALUES ($1, $2, $3)
		ON CONFLICT (subject, client_id) DO UPDATE SET data = EXCLUDED.data`, c.Subject, c.ClientID, raw)
	if err != nil {
		return pgError(err)
	}
	return nil
}

// GetConsent implements [Store].
func (p *postgresStore) GetConsent(ctx context.Context, subject, clientID string) (Consent, error) {
	if err := p.begin(ctx); err != nil {
		return Consent{}, err
	}
	c, ok, err := scanJSON[Consent](p.db.QueryRow(ctx, "SELECT data FROM mcpguard_consents WHERE subject = $1 AND client_id = $2", subject, clientID))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return c, err
}

// SigningKeys implements [Store].
func (p *postgresStore) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	rows, _ := p.db.Query(ctx, "SELECT data FROM mcpguard_signing_keys")
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, pgError(err)
	}
	keys := make([]SigningKey, 0, len(raws))
	for _, raw := range raws {
		var k SigningKey
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("store: decode a postgres signing key: %w", err)
		}
		keys = append(keys, k)
	}
	sortKeys(keys)
	return keys, nil
}

// AddSigningKey implements [Store].
func (p *postgresStore) AddSigningKey(ctx context.Context, k SigningKey) error {
	if k.ID == "" {
		return errNoKeyID
	}
	if err := p.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(k)
	if err != nil {
		return err
	}
	tag, err := p.db.Exec(ctx, "INSERT INTO mcpguard_signing_keys (id, data) VALUES ($1, $2) ON CONFLICT DO NOTHING", k.ID, raw)
	if err != nil {
		return pgError(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrExists
	}
	return nil
}

// Ping implements [Store].
func (p *postgresStore) Ping(ctx context.Context) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	if err := p.db.Ping(ctx); err != nil {
		return pgError(err)
	}
	return nil
}

// Close implements [Store]; closing twice is not an error.
func (p *postgresStore) Close() error {
	if !p.closed.Swap(true) {
		p.db.Close()
	}
	return nil
}
