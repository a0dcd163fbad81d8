package app

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/store"
)

// flakyStore is a store whose Ping fails while down is set, as a networked store's does
// while its server is away.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (s *flakyStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errors.New("store: unavailable: redis: connection refused")
	}
	return s.Store.Ping(ctx)
}

// TestWatchStore: each change of the store's reachability is one log line and one
// change of mcpguard_store_up, however many pings see the same state.
func TestWatchStore(t *testing.T) {
	mem, err := store.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	st := &flakyStore{Store: mem}
	var logs syncBuffer
	up := newMetrics().newStoreUp()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { watchStore(ctx, st, 5*time.Millisecond, up, zerolog.New(&logs)); close(done) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
			}
		}
	}
	waitFor("mcpguard_store_up 1", func() bool { return testutil.ToFloat64(up) == 1 })
	st.down.Store(true)
	waitFor("mcpguard_store_up 0", func() bool { return testutil.ToFloat64(up) == 0 })
	time.Sleep(50 * time.Millisecond) // several failed pings
	st.down.Store(false)
	waitFor("mcpguard_store_up 1 again", func() bool { return testutil.ToFloat64(up) == 1 })
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	out := logs.String()
	if n := strings.Count(out, "store unreachable"); n != 1 {
		t.Errorf("%d lines say the store is unreachable, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "store reachable again"); n != 1 {
		t.Errorf("%d lines say the store is back, want 1:\n%s", n, out)
	}
}
