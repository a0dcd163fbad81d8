package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcpguard/mcpguard/store"
	"github.com/mcpguard/mcpguard/store/storetest"
)

// waitPostgresStarted waits until the server at addr, which accepts TCP connections
// already, has finished starting: until then it refuses sessions with SQLSTATE 57P03
// ("the database system is starting up").
func waitPostgresStarted(addr string, timeout time.Duration) error {
	dsn := "postgres://postgres@" + addr + "/postgres?sslmode=disable"
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57P03" || time.Now().After(deadline) {
			return fmt.Errorf("postgres on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freshPostgres empties the test server's mcpguard tables (keeping the applied schema)
// and returns its DSN.
func freshPostgres(t *testing.T) string {
	t.Helper()
	dsn := "postgres://postgres@" + postgresAddr(t) + "/postgres?sslmode=disable"
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(t.Context())
	rows, _ := conn.Query(t.Context(), `SELECT tablename FROM pg_tables
		WHERE schemaname = 'public' AND tablename LIKE 'mcpguard\_%' AND tablename <> 'mcpguard_schema_migrations'`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list the mcpguard tables: %v", err)
	}
	if len(tables) > 0 {
		if _, err := conn.Exec(t.Context(), "TRUNCATE "+strings.Join(tables, ", ")); err != nil {
			t.Fatalf("TRUNCATE: %v", err)
		}
	}
	return dsn
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, freshPostgres(t))
	})
}

func TestPostgresReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := freshPostgres(t)
		return mustOpen(t, dsn), mustOpen(t, dsn)
	})
}

// TestPostgresMigrateTogether starts several replicas on one new database at once:
// the advisory lock lets exactly one apply each migration, and every replica starts.
func TestPostgresMigrateTogether(t *testing.T) {
	base := freshPostgres(t)
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "DROP DATABASE IF EXISTS migrate_together"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE migrate_together"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(base, "/postgres?", "/migrate_together?", 1)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := store.Open(dsn)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open() = %v, want a store", i, err)
		}
	}
}
