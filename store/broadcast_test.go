package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mcpguard/mcpguard/store"
)

// hearing collects what a Subscribe hears.
type hearing struct {
	mu     sync.Mutex
	heard  []store.Revocation
	missed int
}

func (h *hearing) heardFn(r store.Revocation) {
	h.mu.Lock()
	h.heard = append(h.heard, r)
	h.mu.Unlock()
}
func (h *hearing) missedFn() { h.mu.Lock(); h.missed++; h.mu.Unlock() }

// has reports whether ok holds for something heard, and how many reconnections were reported.
func (h *hearing) has(ok func(store.Revocation) bool) (bool, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.heard {
		if ok(r) {
			return true, h.missed
		}
	}
	return false, h.missed
}

// testBroadcast: a revocation made through one handle is heard by another's Subscribe
// within a second; after the listening connection is cut (cut), Subscribe reports the
// reconnection once and hears again.
func testBroadcast(t *testing.T, dsn string, cut func(t *testing.T)) {
	a, b := mustOpen(t, dsn), mustOpen(t, dsn)
	h := &hearing{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.(store.Broadcaster).Subscribe(ctx, h.heardFn, h.missedFn) }()
	defer func() { cancel(); <-done }()

	// Subscribe has no "listening" signal: publish until something is heard.
	listening := func(prefix string) {
		t.Helper()
		for i := 0; ; i++ {
			jti := fmt.Sprint(prefix, i)
			if err := a.RevokeAccessToken(t.Context(), jti, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			if ok, _ := h.has(func(r store.Revocation) bool { return len(r.JTI) > len(prefix) && r.JTI[:len(prefix)] == prefix }); ok {
				return
			}
			if i > 250 {
				t.Fatalf("nothing heard after %d revocations", i)
			}
		}
	}
	listening("probe-")
	heardWithin := func(what string, ok func(store.Revocation) bool) {
		t.Helper()
		for start := time.Now(); time.Since(start) < time.Second; time.Sleep(5 * time.Millisecond) {
			if got, _ := h.has(ok); got {
				return
			}
		}
		t.Fatalf("%s not heard within 1s", what)
	}
	if err := a.RevokeFamily(t.Context(), "fam-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	heardWithin("RevokeFamily(fam-1)", func(r store.Revocation) bool { return r.Family == "fam-1" })
	exp := time.Now().Add(time.Hour).UTC().Round(0)
	if err := a.RevokeAccessToken(t.Context(), "jti-1", exp); err != nil {
		t.Fatal(err)
	}
	heardWithin("RevokeAccessToken(jti-1)", func(r store.Revocation) bool { return r.JTI == "jti-1" && r.Expires.Equal(exp) })
	at := time.Now().UTC().Round(0)
	if err := a.RevokeSubject(t.Context(), "alice", at, exp); err != nil {
		t.Fatal(err)
	}
	heardWithin("RevokeSubject(alice)", func(r store.Revocation) bool {
		return r.Subject == "alice" && r.At.Equal(at) && r.Expires.Equal(exp) && r.JTI == "" && r.Family == ""
	})

	cut(t)
	listening("after-cut-")
	if _, missed := h.has(func(store.Revocation) bool { return false }); missed != 1 {
		t.Errorf("missed() called %d times after one cut connection, want 1", missed)
	}
}

func TestRedisBroadcast(t *testing.T) {
	dsn := freshRedis(t)
	testBroadcast(t, dsn, func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
		defer c.Close()
		if err := c.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
		}
	})
}

func TestPostgresBroadcast(t *testing.T) {
	dsn := freshPostgres(t)
	testBroadcast(t, dsn, func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var n int
		err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("terminate the listening backend: %d terminated, %v", n, err)
		}
	})
}
