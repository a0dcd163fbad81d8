package store_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// TestUnreachable: a store whose server does not answer at start is ErrUnavailable.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, dsn := range []string{
		"redis://" + addr + "/0?dial_timeout=1s",
		"postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=1",
	} {
		s, err := store.Open(dsn)
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open(%q) = a store, want an error", dsn)
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open(%q) = %v, want ErrUnavailable", dsn, err)
		}
	}
}

// TestRedisOutage stops the Redis server under an open store, then starts it again on
// the same port: calls fail with ErrUnavailable meanwhile, and succeed again after
// without reopening the store (go-redis reconnects).
func TestRedisOutage(t *testing.T) {
	srv := &server{}
	if err := startRedis(srv.init()); err != nil {
		srv.stop()
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	s := mustOpen(t, "redis://"+srv.addr+"/0?dial_timeout=1s&max_retries=-1")
	ctx := t.Context()
	c := store.Client{ID: "c1", RedirectURIs: []string{"https://app.example/cb"}, Kind: "dcr"}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient() = %v", err)
	}

	srv.stop()
	if _, err := s.GetClient(ctx, "c1"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetClient() with the server stopped = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping() with the server stopped = %v, want ErrUnavailable", err)
	}

	if err := startRedis(srv.init()); err != nil { // same address, empty database
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.CreateClient(ctx, c)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CreateClient() after the server came back = %v, want nil", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
