package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/store"
)

// storeCheckInterval is how often a serving mcpguard pings its store.
const storeCheckInterval = 5 * time.Second

// newStoreUp registers and returns the gauge of the store's reachability.
func (m *metrics) newStoreUp() prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mcpguard_store_up",
		Help: "1 while the authorization server's store answers, 0 while it cannot be reached.",
	})
	m.registry.MustRegister(g)
	return g
}

// watchStore pings st every interval until ctx ends and reports each change of its
// reachability once: on the up gauge and with one log line (error when the store goes
// away, info when it is back). The clients reconnect by themselves (go-redis and pgx
// retry with backoff on the next call); this only observes. While the store is away,
// /readyz answers 503, the authorization server's endpoints and first-seen own tokens
// at /auth answer 503, and tokens /auth already verified keep working.
func watchStore(ctx context.Context, st store.Store, interval time.Duration, up prometheus.Gauge, log zerolog.Logger) {
	up.Set(1) // the store answered when it was opened
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
