package store

// Starting a networked store whose server does not answer yet (Config.StartLater).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// startTimeout bounds one attempt at a store's start-up work: the first answer of its
// server, the Redis schema check or the PostgreSQL migrations.
const startTimeout = 10 * time.Second

// starter is implemented by the backends whose start-up work needs their server.
type starter interface {
	start(ctx context.Context) error
}

// Start runs the start-up work New left to it for a store opened with
// Config.StartLater: for Redis, a first answer and the schema version check; for
// PostgreSQL, the schema migrations, under the advisory lock that lets one replica at a
// time apply them. Until it succeeds every call of the store answers ErrUnavailable.
//
// It returns nil at once for a store that has started (every memory and bolt store,
// and every store New opened without StartLater). While the server cannot be reached
// (refused or lost connections, timeouts) the error wraps ErrUnavailable and Start may
// be called again; any other error (a refused password, a schema newer than this
// mcpguard, a failed migration) is the one New would have returned, and the store
// will not start. One attempt takes at most ten seconds. Start is safe for concurrent
// use: concurrent calls make one attempt.
func Start(ctx context.Context, st Store) error {
	if s, ok := st.(starter); ok {
		return s.start(ctx)
	}
	return nil
}

// deferredStart is the start-up state of a networked store: pending from New with
// StartLater until run succeeds once.
type deferredStart struct {
	pending atomic.Bool
	mu      sync.Mutex // one attempt at a time
	backend string     // "redis", "postgres"
}

// check answers ErrUnavailable while the start-up work has not succeeded: no call may
// read or write a database whose schema was not checked or migrated.
func (d *deferredStart) check() error {
	if d.pending.Load() {
		return fmt.Errorf("%w: %s: not started yet: the server has not answered since mcpguard started", ErrUnavailable, d.backend)
	}
	return nil
}

// run makes one attempt at work, bounded by startTimeout, unless it succeeded before.
func (d *deferredStart) run(ctx context.Context, closed *atomic.Bool, work func(context.Context) error) error {
	if !d.pending.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.pending.Load() {
		return nil // another caller started it meanwhile
	}
	if closed.Load() {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := work(ctx); err != nil {
		return err
	}
	d.pending.Store(false)
	return nil
}

// start implements starter.
func (r *redisStore) start(ctx context.Context) error {
	return r.started.run(ctx, &r.closed, r.init)
}

// start implements starter.
func (p *postgresStore) start(ctx context.Context) error {
	return p.started.run(ctx, &p.closed, p.migrate)
}
