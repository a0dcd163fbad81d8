package store_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpguard/mcpguard/store"
)

// TestStartLater opens a Redis and a PostgreSQL store with StartLater on a port where
// no server listens yet: New succeeds at once, every call and Start answer
// ErrUnavailable; once a server listens there, Start checks the schema (Redis) or
// applies the migrations (a new PostgreSQL) and the store works.
func TestStartLater(t *testing.T) {
	tests := []struct {
		name  string
		dsn   func(addr string) string
		start func(s *server) error
	}{
		{name: "redis", dsn: func(addr string) string { return "redis://" + addr + "/0?dial_timeout=1s" },
			start: func(s *server) error { return startRedis(s) }},
		{name: "postgres", dsn: func(addr string) string {
			return "postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=1"
		}, start: startPostgres},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, err := freeAddr()
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			s, err := store.New(store.Config{DSN: tt.dsn(addr), StartLater: true})
			if err != nil {
				t.Fatalf("New(StartLater) with no server = %v, want a store", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if took := time.Since(began); took > time.Second {
				t.Errorf("New(StartLater) took %v, want no I/O", took)
			}
			ctx := t.Context()
			if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Ping() before Start = %v, want ErrUnavailable", err)
			}
			if err := store.Start(ctx, s); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Start() with no server = %v, want ErrUnavailable", err)
			}

			srv := &server{addr: addr, out: &bytes.Buffer{}}
			t.Cleanup(srv.stop)
			if err := tt.start(srv); err != nil {
				t.Fatal(err)
			}
			// Still pending until Start: no call touches an unchecked database.
			if _, err := s.GetClient(ctx, "c1"); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("GetClient() with the server up, before Start = %v, want ErrUnavailable", err)
			}
			if err := store.Start(ctx, s); err != nil {
				t.Fatalf("Start() with the server up = %v, want nil", err)
			}
			if err := store.Start(ctx, s); err != nil {
				t.Errorf("Start() again = %v, want nil", err)
			}
			c := store.Client{ID: "c1", RedirectURIs: []string{"https://app.example/cb"}, Kind: "dcr"}
			if err := s.CreateClient(ctx, c); err != nil {
				t.Fatalf("CreateClient() after Start = %v", err)
			}
			if got, err := s.GetClient(ctx, "c1"); err != nil || got.ID != "c1" {
				t.Errorf("GetClient() after Start = %+v, %v", got, err)
			}
		})
	}
}

// TestStartRefused: a server that answers and refuses (a wrong password, a schema
// newer than this mcpguard, a missing database) fails Open, and Start of a store opened
// with StartLater, with an error that is not ErrUnavailable: start-up must stop.
func TestStartRefused(t *testing.T) {
	secured := startServer(t, "redis-password", func(s *server) error {
		return startRedis(s, "--requirepass", "the-right-password")
	})
	plain := redisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: plain, DB: 3})
	defer c.Close()
	if err := c.Set(t.Context(), "{mcpguard}:schema", "999", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, want string
	}{
		{name: "redis wrong password", dsn: "redis://:wrong-password@" + secured + "/0", want: "WRONGPASS"},
		{name: "redis no password", dsn: "redis://" + secured + "/0", want: "NOAUTH"},
		{name: "redis newer schema", dsn: "redis://" + plain + "/3", want: `schema version "999"`},
		{name: "postgres missing database", dsn: "postgres://postgres@" + postgresAddr(t) + "/nosuchdb?sslmode=disable", want: "3D000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(tt.dsn)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open() = a store, want an error")
			}
			if errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open() = %v, want an error naming %q that is not ErrUnavailable", err, tt.want)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("Open() = %v, which shows the password", err)
			}
			later, err := store.New(store.Config{DSN: tt.dsn, StartLater: true})
			if err != nil {
				t.Fatalf("New(StartLater) = %v", err)
			}
			defer later.Close()
			err = store.Start(t.Context(), later)
			if err == nil || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start() = %v, want an error naming %q that is not ErrUnavailable", err, tt.want)
			}
			if err := later.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Ping() after a refused Start = %v, want ErrUnavailable (not started)", err)
			}
		})
	}
}
