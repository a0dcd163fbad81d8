package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

// storeCheckInterval is how often a serving mcpguard pings its store.
const storeCheckInterval = 5 * time.Second

// The backoff between attempts to start a store that did not answer at start-up: from
// storeRetryMin, doubling, up to storeRetryMax.
const (
	storeRetryMin = 100 * time.Millisecond
	storeRetryMax = 2 * time.Second
)

// newStoreUp registers and returns the gauge of the store's reachability.
func (m *metrics) newStoreUp() prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mcpguard_store_up",
		Help: "1 while the authorization server's store answers, 0 while it cannot be reached.",
	})
	m.registry.MustRegister(g)
	return g
}

// awaitStore finishes a start-up the store did not answer for (first is why; nil when
// it did answer): the store's own start (the Redis schema check, the PostgreSQL
// migrations, store.Start) and then the authorization server's (the signing keys, their
// rotation and the revocations other replicas publish, oauth.Server.Start), tried
// again with backoff until both succeed. Meanwhile /readyz, the authorization server's
// endpoints and first-seen own tokens at /auth answer 503. The outage is one error line
// and mcpguard_store_up 0, the recovery one info line; up is 1 once started. It returns
// nil once started or when ctx ends, and the first error that is not the store's
// unavailability (a refused password, a schema newer than this mcpguard, a failed
// migration), for serve to stop on.
func awaitStore(ctx context.Context, st store.Store, as *oauth.Server, first error, up prometheus.Gauge, log zerolog.Logger) error {
	start := func() error {
		if err := store.Start(ctx, st); err != nil {
			return fmt.Errorf("config: STORE: %w", err)
		}
		if err := as.Start(ctx); err != nil {
			return fmt.Errorf("config: the authorization server: %w", err)
		}
		return nil
	}
	err := first
	if err == nil {
		err = start()
	}
	var since time.Time
	for backoff := storeRetryMin; err != nil; backoff = min(2*backoff, storeRetryMax) {
		switch {
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, store.ErrUnavailable):
			return err
		case since.IsZero():
			since = time.Now()
			up.Set(0)
			log.Error().Err(err).Msg("store unreachable at start-up: /readyz, the authorization server and first-seen tokens answer 503 until it answers")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		err = start()
	}
	if !since.IsZero() {
		log.Info().Dur("down_for", time.Since(since)).Msg("store reachable: start-up finished, the authorization server serves")
	}
	up.Set(1)
	return nil
}

// watchStore pings st every interval until ctx ends and reports each change of its
// reachability once: on the up gauge and with one log line (error when the store goes
// away, info when it is back). The clients reconnect by themselves (go-redis and pgx
// retry with backoff on the next call); this only observes. While the store is away,
// /readyz answers 503, the authorization server's endpoints and first-seen own tokens
// at /auth answer 503, and tokens /auth already verified keep working.
func watchStore(ctx context.Context, st store.Store, interval time.Duration, up prometheus.Gauge, log zerolog.Logger) {
	up.Set(1) // the store has started (awaitStore)
	reachable, since := true, time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := st.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && reachable:
			reachable, since = false, time.Now()
			up.Set(0)
			log.Error().Err(err).Msg("store unreachable: the authorization server and first-seen tokens answer 503 until it is back")
		case err == nil && !reachable:
			log.Info().Dur("down_for", time.Since(since)).Msg("store reachable again")
			reachable, since = true, time.Now()
			up.Set(1)
		}
	}
}
